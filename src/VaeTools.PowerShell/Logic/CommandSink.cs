using VaeTools.IO;
namespace VaeTools.PowerShell.Logic;

/// <summary>
/// Error categories the cmdlets use. Each name is a member of System.Management.Automation.ErrorCategory,
/// to which the cmdlet layer maps it by name (a test checks that every name exists there).
/// </summary>
public enum ErrorKind
{
    /// <summary>A parameter value or a combination of inputs is wrong (e.g. model and data of different widths).</summary>
    InvalidArgument,
    /// <summary>A file or data set is damaged or not what it should be.</summary>
    InvalidData,
    /// <summary>A file or data set does not exist and cannot be had.</summary>
    ObjectNotFound,
    /// <summary>A source (download mirror, npm) could not be reached.</summary>
    ResourceUnavailable,
    /// <summary>The operation was stopped (Ctrl+C).</summary>
    OperationStopped,
    /// <summary>The operation does not apply to this object (e.g. encoding with a decoder-only model).</summary>
    InvalidOperation,
    /// <summary>A computation gave no usable result (training diverged).</summary>
    InvalidResult,
    /// <summary>A file could not be written.</summary>
    WriteError,
    /// <summary>A file exists and -NoClobber forbids overwriting it.</summary>
    ResourceExists,
    /// <summary>Something is in use by another training (a model, a checkpoint).</summary>
    ResourceBusy,
}

/// <summary>What the cmdlet turns into an ErrorRecord: error id, category, target object and the exception.</summary>
public sealed record CommandError(string ErrorId, ErrorKind Category, object? Target, Exception Exception)
{
    /// <summary>The exception's message.</summary>
    public string Message => Exception.Message;
}

/// <summary>A failure that ends the command (the cmdlet calls ThrowTerminatingError with <see cref="Error"/>).</summary>
public sealed class CommandException : Exception
{
    public CommandException(CommandError error) : base(error.Message, error.Exception) => Error = error;

    public CommandError Error { get; }
}

/// <summary>One Write-Progress call. <see cref="PercentComplete"/> is 0..100; <see cref="Completed"/> closes the bar.</summary>
public sealed record ProgressReport(int ActivityId, string Activity, string Status, int PercentComplete,
    int ParentActivityId = -1, bool Completed = false);

/// <summary>
/// Everything a cmdlet's logic may do to the outside world. The cmdlets implement it with PSCmdlet's
/// WriteObject / WriteVerbose / WriteWarning / WriteProgress / WriteError / ShouldProcess; tests record the calls.
/// All calls come from the thread that called the logic.
/// </summary>
public interface ICommandSink
{
    /// <summary>Sends one object down the pipeline.</summary>
    void WriteObject(object value);

    void WriteVerbose(string message);

    /// <summary>Detail for -Debug (sizes, chunking, what was resolved); ignored unless a sink shows it.</summary>
    void WriteDebug(string message) { }

    void WriteWarning(string message);

    void WriteProgress(ProgressReport report);

    /// <summary>A non-terminating error: the command goes on with the next input.</summary>
    void WriteError(CommandError error);

    /// <summary>-WhatIf / -Confirm: whether to do <paramref name="action"/> to <paramref name="target"/>.</summary>
    bool ShouldProcess(string target, string action);
}

/// <summary>Maps exceptions from the core to error ids and categories.</summary>
public static class Errors
{
    /// <summary>
    /// The category for <paramref name="exception"/>: missing files are ObjectNotFound, damaged files InvalidData,
    /// unreachable sources ResourceUnavailable, bad values and width mismatches InvalidArgument, cancellation
    /// OperationStopped.
    /// </summary>
    public static ErrorKind Categorize(Exception exception) => exception switch
    {
        OperationCanceledException => ErrorKind.OperationStopped,
        IO.FileLockedException or Model.ModelInUseException => ErrorKind.ResourceBusy,
        FileNotFoundException or DirectoryNotFoundException => ErrorKind.ObjectNotFound,
        Data.DataFormatException or IO.ModelFileException => ErrorKind.InvalidData,
        Data.DataDownloadException or HttpRequestException or TimeoutException => ErrorKind.ResourceUnavailable,
        Model.TrainingDivergedException => ErrorKind.InvalidResult,
        ArgumentException => ErrorKind.InvalidArgument, // includes ShapeMismatchException
        UnauthorizedAccessException or IOException => ErrorKind.WriteError,
        InvalidOperationException => ErrorKind.InvalidOperation,
        _ => ErrorKind.InvalidOperation,
    };

    /// <summary>An error whose id is <paramref name="errorId"/> and whose category follows from the exception.</summary>
    public static CommandError From(Exception exception, string errorId, object? target) =>
        new(errorId, Categorize(exception), target, InPowerShellTerms(exception));

    /// <summary>
    /// An ArgumentException's message ends with " (Parameter 'options')", which names a C# parameter, not the cmdlet's:
    /// the same kind of exception without that suffix (the original as its inner exception). Others are returned as they are.
    /// </summary>
    public static Exception InPowerShellTerms(Exception exception)
    {
        if (exception is not ArgumentException { ParamName: string name } a || a.GetType() is var type && type != typeof(ArgumentException) &&
            type != typeof(ArgumentOutOfRangeException) && type != typeof(ArgumentNullException))
            return exception;
        string suffix = $" (Parameter '{name}')";
        int at = a.Message.IndexOf(suffix, StringComparison.Ordinal);
        if (at < 0) return exception;
        string message = a.Message.Remove(at, suffix.Length);
        return a switch
        {
            ArgumentOutOfRangeException => new ArgumentOutOfRangeException(message, a),
            ArgumentNullException => new ArgumentNullException(message, a),
            _ => new ArgumentException(message, a),
        };
    }
}

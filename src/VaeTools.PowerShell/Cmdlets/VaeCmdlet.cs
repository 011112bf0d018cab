using System.Management.Automation;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// Base of the VaeTools cmdlets: implements <see cref="ICommandSink"/> with PSCmdlet's Write* methods, maps
/// <see cref="CommandError"/> to ErrorRecord, and turns StopProcessing (Ctrl+C) into a cancelled token.
/// </summary>
public abstract class VaeCmdlet : PSCmdlet, ICommandSink, IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Cancelled when the user presses Ctrl+C (StopProcessing).</summary>
    protected CancellationToken StopToken => _stop.Token;

    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>Runs logic; a <see cref="CommandException"/> becomes a terminating error.</summary>
    protected void Run(Action action)
    {
        try { action(); }
        catch (CommandException e) { ThrowTerminatingError(ToErrorRecord(e.Error)); }
    }

    /// <summary>A PowerShell path (relative to the current location, or provider-qualified) as a file-system path.</summary>
    protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Whether the named parameter was given on the command line or from the pipeline.</summary>
    protected bool IsBound(string name) => MyInvocation.BoundParameters.ContainsKey(name);

    /// <summary>The ErrorRecord for <paramref name="error"/>; categories map by name.</summary>
    public static ErrorRecord ToErrorRecord(CommandError error) =>
        new(error.Exception, error.ErrorId, ToCategory(error.Category), error.Target);

    /// <summary>The ErrorCategory of the same name as <paramref name="kind"/>.</summary>
    public static ErrorCategory ToCategory(ErrorKind kind) => (ErrorCategory)Enum.Parse(typeof(ErrorCategory), kind.ToString());

    void ICommandSink.WriteObject(object value) => WriteObject(value);
    void ICommandSink.WriteVerbose(string message) => WriteVerbose(message);
    void ICommandSink.WriteWarning(string message) => WriteWarning(message);
    void ICommandSink.WriteError(CommandError error) => WriteError(ToErrorRecord(error));
    bool ICommandSink.ShouldProcess(string target, string action) => ShouldProcess(target, action);

    void ICommandSink.WriteProgress(ProgressReport report) => WriteProgress(new ProgressRecord(report.ActivityId, report.Activity, report.Status)
    {
        PercentComplete = Math.Clamp(report.PercentComplete, 0, 100),
        ParentActivityId = report.ParentActivityId,
        RecordType = report.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
    });

    public void Dispose()
    {
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}

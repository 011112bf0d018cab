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

    /// <summary>A PowerShell path (relative to the current location, or provider-qualified) as a file-system path, taken literally.</summary>
    protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>
    /// The files an input -Path names: a path with wildcard characters resolves through the provider to every match
    /// (none matching: a non-terminating ObjectNotFound error naming the pattern, and no paths); other paths, and
    /// every -LiteralPath, are taken as they are (a missing file is the reader's error).
    /// </summary>
    protected IReadOnlyList<string> ResolveInputPaths(string path, bool literal, string parameter)
    {
        if (literal || !WildcardPattern.ContainsWildcardCharacters(path)) return new[] { ResolvePath(path) };
        var matches = Matches(path);
        if (matches.Count == 0)
            WriteError(ToErrorRecord(new CommandError("PathNotFound", ErrorKind.ObjectNotFound, path,
                new FileNotFoundException($"-{parameter} '{path}' matches no file. Check the pattern, or use -LiteralPath for a name that holds wildcard characters ([, ], *, ?)."))));
        else
            WriteDebug($"-{parameter} '{path}' resolves to {matches.Count} file(s): {string.Join(", ", matches)}.");
        return matches;
    }

    /// <summary>
    /// The one file an output path names: taken literally with <paramref name="literal"/> or without wildcard characters;
    /// otherwise the pattern must match exactly one existing item (a terminating error names the pattern when it
    /// matches none or several).
    /// </summary>
    protected string ResolveOutputPath(string path, bool literal, string parameter)
    {
        if (literal || !WildcardPattern.ContainsWildcardCharacters(path)) return ResolvePath(path);
        var matches = Matches(path);
        if (matches.Count == 1)
        {
            WriteDebug($"-{parameter} '{path}' resolves to '{matches[0]}'.");
            return matches[0];
        }
        var error = matches.Count == 0
            ? new CommandError("PathNotFound", ErrorKind.ObjectNotFound, path, new FileNotFoundException(
                $"-{parameter} '{path}' holds wildcard characters but matches nothing. Give the name to write without them, or use -LiteralPath (where the cmdlet has it) for a name that holds [, ], * or ?."))
            : new CommandError("PathAmbiguous", ErrorKind.InvalidArgument, path, new ArgumentException(
                $"-{parameter} '{path}' matches {matches.Count} files ({string.Join(", ", matches.Take(5))}{(matches.Count > 5 ? ", ..." : "")}); it must name one file.", parameter));
        ThrowTerminatingError(ToErrorRecord(error));
        return path; // not reached
    }

    private List<string> Matches(string pattern)
    {
        try
        {
            var resolved = GetResolvedProviderPathFromPSPath(pattern, out var provider);
            if (provider.Name != "FileSystem")
                ThrowTerminatingError(ToErrorRecord(new CommandError("NotAFileSystemPath", ErrorKind.InvalidArgument, pattern,
                    new ArgumentException($"'{pattern}' is a path of the {provider.Name} provider; VaeTools reads and writes files only."))));
            return resolved.ToList();
        }
        catch (ItemNotFoundException) { return new List<string>(); }
    }

    /// <summary>Whether the named parameter was given on the command line or from the pipeline.</summary>
    protected bool IsBound(string name) => MyInvocation.BoundParameters.ContainsKey(name);

    /// <summary>Where Get-Help -Online goes: the project's page (the manifest's ProjectUri).</summary>
    public const string HelpUri = "https://github.com/vaetools/vaetools";

    /// <summary>The ErrorRecord for <paramref name="error"/>; categories map by name.</summary>
    public static ErrorRecord ToErrorRecord(CommandError error) =>
        new(error.Exception, error.ErrorId, ToCategory(error.Category), error.Target);

    /// <summary>The ErrorCategory of the same name as <paramref name="kind"/>.</summary>
    public static ErrorCategory ToCategory(ErrorKind kind) => (ErrorCategory)Enum.Parse(typeof(ErrorCategory), kind.ToString());

    void ICommandSink.WriteObject(object value) => WriteObject(value);
    void ICommandSink.WriteVerbose(string message) => WriteVerbose(message);
    void ICommandSink.WriteDebug(string message) => WriteDebug(message);
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

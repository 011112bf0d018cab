using System.Reflection;
using System.Runtime.InteropServices;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// While a training runs, SIGINT and SIGTERM (what schedulers, <c>timeout</c>, <c>docker stop</c> and CI runners send a
/// non-interactive <c>pwsh -File</c>) stop it cleanly instead of killing the process: the first signal cancels
/// <see cref="Token"/>, so the current batch finishes and the last completed epoch is kept; a second signal is left to
/// its default handling, which ends the process at once.
/// </summary>
public sealed class SignalStop : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly List<PosixSignalRegistration> _registrations = new();
    private int _signals;

    /// <param name="cancellation">The command's own stop token (Ctrl+C through PowerShell); <see cref="Token"/> follows it too.</param>
    /// <param name="takeConsoleBreak">
    /// A non-interactive host (pwsh -File, -Command): take SIGINT from the console's CancelKeyPress handlers (PowerShell's
    /// own stops the whole script, so nothing could catch the error and pwsh would exit 0) for the length of the
    /// training, so that SIGINT is handled like SIGTERM. They are given back on <see cref="Dispose"/>.
    /// </param>
    public SignalStop(CancellationToken cancellation, bool takeConsoleBreak = false)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        if (takeConsoleBreak) _consoleHandlers = TakeConsoleHandlers();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try { _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal)); }
            catch (Exception e) when (e is PlatformNotSupportedException or IOException) { }
        }
    }

    /// <summary>Cancelled by the first signal or by the command's stop token.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The first signal received, or null.</summary>
    public PosixSignal? Signal { get; private set; }

    /// <summary>"SIGTERM", "SIGINT".</summary>
    public string? SignalName => Signal?.ToString();

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) != 1) return; // the second one: default handling ends the process
        Signal = context.Signal;
        context.Cancel = true;
        try { _source.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Tests: what a first signal does, without sending one.</summary>
    internal void Simulate(PosixSignal signal)
    {
        if (Interlocked.Increment(ref _signals) != 1) return;
        Signal = signal;
        _source.Cancel();
    }

    private readonly ConsoleCancelEventHandler[]? _consoleHandlers;

    /// <summary>Removes the console's CancelKeyPress handlers (through the public event; reading the list needs reflection) and returns them.</summary>
    private static ConsoleCancelEventHandler[]? TakeConsoleHandlers()
    {
        try
        {
            var field = typeof(Console).GetField("s_cancelCallbacks", BindingFlags.NonPublic | BindingFlags.Static);
            if (field?.GetValue(null) is not ConsoleCancelEventHandler handlers) return null;
            var list = handlers.GetInvocationList().Cast<ConsoleCancelEventHandler>().ToArray();
            foreach (var h in list) Console.CancelKeyPress -= h;
            return list;
        }
        catch (Exception e) when (e is FieldAccessException or NotSupportedException or InvalidCastException) { return null; }
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        if (_consoleHandlers is not null)
            foreach (var h in _consoleHandlers) Console.CancelKeyPress += h;
        _source.Dispose();
    }

    /// <summary>
    /// Whether this process is a non-interactive pwsh (started with -File, -Command, -EncodedCommand, -NonInteractive or a
    /// script path, and without -NoExit): there SIGINT comes from a scheduler or a parent process, not a user at a prompt.
    /// </summary>
    public static bool IsNonInteractivePwsh(IReadOnlyList<string> args)
    {
        bool script = false;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i].ToLowerInvariant();
            if (a is "-noexit" or "-noe") return false;
            if (a is "-file" or "-f" or "-command" or "-c" or "-encodedcommand" or "-e" or "-ec" or "-noninteractive" or "-noni") script = true;
            else if (i > 0 && !a.StartsWith('-') && a.EndsWith(".ps1", StringComparison.Ordinal)) script = true; // pwsh job.ps1
        }
        return script;
    }
}

using System.Reflection;
using System.Runtime.InteropServices;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// While a training runs, SIGINT and SIGTERM (what schedulers, <c>timeout</c>, <c>docker stop</c> and CI runners send a
/// non-interactive <c>pwsh -File</c>) stop it cleanly instead of killing the process: the first signal cancels
/// <see cref="Token"/>, so the current batch finishes and the last completed epoch is kept; a second signal is left to
/// its default handling, which ends the process at once (exit status 128 + the signal: 143 for SIGTERM, 130 for SIGINT;
/// no catch or finally block runs).
/// </summary>
/// <remarks>
/// <para>
/// How the second signal ends the process: each delivered signal is handed by the runtime to its own ".NET Signal
/// Handler" thread, which calls <see cref="OnSignal"/>. The registrations stay in place until <see cref="Dispose"/>, so
/// the second call sees the count at 2 and leaves <see cref="PosixSignalContext.Cancel"/> false; the runtime then restores
/// the signal's original disposition and raises it again (System.Native, <c>SystemNative_HandleNonCanceledPosixSignal</c>),
/// which kills the process. Nothing here coalesces signals, but the kernel does: a standard signal that is still
/// pending when the same one is sent again is delivered once (POSIX). Two <c>kill -TERM</c> sent microseconds apart
/// (<c>/bin/kill -TERM $p $p</c>) therefore end the training through the first-signal path about half the time
/// (measured: 2 of 4 runs exited 2 through the script's catch block, the others 143). A second signal counts only once
/// the first was received, which is why the first one is announced on stderr (see <see cref="AnnounceStop"/>): a
/// scheduler's log shows when it arrived, and a test or a user waits for that line before sending the second.
/// </para>
/// <para>
/// A second signal that lands while a checkpoint is being written ends the process during the write: the checkpoint
/// itself is still the last completed epoch (the write goes to a temporary file that is renamed over it), and the
/// temporary file is removed by the next write of that checkpoint, as after <c>kill -9</c>. The lock file stays too, and
/// blocks nothing: its lock died with the process.
/// </para>
/// </remarks>
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
        AnnounceStop(context.Signal);
        try { _source.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// The line written to stderr when the first signal arrives (null when none is written): the warning and the
    /// terminating error come only when the current batch has finished, on the pipeline thread; a signal handler cannot
    /// write to PowerShell's streams. Written where a second signal really ends the process: always for SIGTERM (no one
    /// else handles it in pwsh), for SIGINT only when the console's CancelKeyPress handlers were taken (in an interactive
    /// pwsh a second Ctrl+C goes to PowerShell's own stop instead).
    /// </summary>
    internal string? StopNotice(PosixSignal signal) =>
        signal == PosixSignal.SIGTERM || (signal == PosixSignal.SIGINT && _consoleHandlers is not null)
            ? $"Invoke-VaeTraining: {signal} received; stopping after the current batch and keeping the last completed epoch. Send {signal} again to end the process at once."
            : null;

    private void AnnounceStop(PosixSignal signal)
    {
        if (StopNotice(signal) is not string notice) return;
        try
        {
            Console.Error.WriteLine(notice);
            Console.Error.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { } // stderr closed: stopping matters more
    }

    /// <summary>Tests: what a first signal does, without sending one.</summary>
    internal void Simulate(PosixSignal signal)
    {
        if (Interlocked.Increment(ref _signals) != 1) return;
        Signal = signal;
        _source.Cancel();
    }

    private readonly ConsoleCancelEventHandler[]? _consoleHandlers;

    /// <summary>Whether the console's CancelKeyPress handlers were taken for this training (tests; see <see cref="TakeConsoleHandlers"/>).</summary>
    internal bool ConsoleBreakTaken => _consoleHandlers is not null;

    /// <summary>The private field of <see cref="Console"/> that holds the CancelKeyPress handlers (the one reflected on).</summary>
    internal const string CancelCallbacksField = "s_cancelCallbacks";

    /// <summary>
    /// Removes the console's CancelKeyPress handlers (through the public event; reading the list needs reflection) and
    /// returns them (empty when there were none); null when the list cannot be read, and then SIGINT stays PowerShell's.
    /// </summary>
    /// <remarks>
    /// Why reflection: in a non-interactive pwsh, ConsoleHost's own CancelKeyPress handler (MyBreakHandler) turns SIGINT
    /// into a stop of the whole script: no catch block runs, finally blocks do, and pwsh exits 0, so a job could not tell
    /// a stop from a success. No supported API keeps that handler from running. Console raises CancelKeyPress from its own
    /// PosixSignalRegistration for SIGINT, and setting <see cref="PosixSignalContext.Cancel"/> in ours does not stop it
    /// being raised: measured on pwsh 7.6.10 / .NET 10.0.12 with this removal switched off, SIGINT ended the script with
    /// exit code 0 through PowerShell's stop. <see cref="ConsoleCancelEventArgs.Cancel"/> only decides whether the process
    /// terminates, not whether the other handlers run; removing a handler from the public event needs the delegate, and
    /// only the private list <c>Console.s_cancelCallbacks</c> holds it; PowerShell has no public switch for its handler.
    /// So the list is read by reflection, each handler is removed and later added back through the public event.
    /// If a runtime renames or retypes the field, this returns null and SIGINT is again PowerShell's stop (SIGTERM is
    /// unaffected); the xunit test SignalStopTests.The_console_cancel_handlers_are_taken_for_the_training_and_given_back
    /// fails at once on such a runtime, and the Pester test "stops cleanly on INT" fails with exit code 0 instead of 2.
    /// </remarks>
    private static ConsoleCancelEventHandler[]? TakeConsoleHandlers()
    {
        try
        {
            var field = typeof(Console).GetField(CancelCallbacksField, BindingFlags.NonPublic | BindingFlags.Static);
            if (field is null || field.FieldType != typeof(ConsoleCancelEventHandler)) return null;
            if (field.GetValue(null) is not ConsoleCancelEventHandler handlers) return Array.Empty<ConsoleCancelEventHandler>();
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

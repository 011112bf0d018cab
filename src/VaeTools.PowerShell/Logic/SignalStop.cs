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
    public SignalStop(CancellationToken cancellation)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
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

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _source.Dispose();
    }
}

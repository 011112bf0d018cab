using System.Reflection;
using System.Runtime.InteropServices;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>
/// Issue 13 item 5: what <see cref="SignalStop"/> does without sending a signal (the real signals go to a child pwsh in
/// tests/pester/Training.Tests.ps1). The console part rests on reflection over a private field of System.Console; the
/// first test fails at once on a runtime that renames or retypes it.
/// </summary>
[Collection(nameof(ConsoleCancelHandlers))]
public sealed class SignalStopTests
{
    private static ConsoleCancelEventHandler[] CancelHandlers()
    {
        var field = typeof(Console).GetField(SignalStop.CancelCallbacksField, BindingFlags.NonPublic | BindingFlags.Static);
        Assert.True(field is not null, $"System.Console has no static field {SignalStop.CancelCallbacksField} on .NET {Environment.Version}: SignalStop cannot take SIGINT from PowerShell's console handler (docs/reliability.md, item 5)");
        Assert.Equal(typeof(ConsoleCancelEventHandler), field!.FieldType);
        return field.GetValue(null) is ConsoleCancelEventHandler h ? h.GetInvocationList().Cast<ConsoleCancelEventHandler>().ToArray() : Array.Empty<ConsoleCancelEventHandler>();
    }

    [Fact]
    public void The_console_cancel_handlers_are_taken_for_the_training_and_given_back()
    {
        int called = 0;
        ConsoleCancelEventHandler powerShells = (_, e) => { called++; e.Cancel = true; }; // stands in for ConsoleHost's MyBreakHandler
        Console.CancelKeyPress += powerShells;
        try
        {
            Assert.Contains(powerShells, CancelHandlers());
            using (var stop = new SignalStop(CancellationToken.None, takeConsoleBreak: true))
            {
                Assert.True(stop.ConsoleBreakTaken);
                Assert.DoesNotContain(powerShells, CancelHandlers());
            }
            Assert.Contains(powerShells, CancelHandlers());

            // Without takeConsoleBreak (an interactive pwsh, other hosts) the handlers stay.
            using (var stop = new SignalStop(CancellationToken.None, takeConsoleBreak: false))
            {
                Assert.False(stop.ConsoleBreakTaken);
                Assert.Contains(powerShells, CancelHandlers());
            }
            Assert.Equal(0, called);
        }
        finally { Console.CancelKeyPress -= powerShells; }
    }

    [Fact]
    public void The_first_signal_is_announced_only_where_a_second_one_ends_the_process()
    {
        using (var taken = new SignalStop(CancellationToken.None, takeConsoleBreak: true))
        {
            foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
            {
                string? notice = taken.StopNotice(signal);
                Assert.NotNull(notice);
                Assert.Contains($"{signal} received", notice);
                Assert.Contains($"Send {signal} again to end the process at once", notice);
            }
        }
        using var interactive = new SignalStop(CancellationToken.None, takeConsoleBreak: false);
        Assert.NotNull(interactive.StopNotice(PosixSignal.SIGTERM)); // nobody else handles SIGTERM in pwsh
        Assert.Null(interactive.StopNotice(PosixSignal.SIGINT));     // a second Ctrl+C goes to PowerShell's own stop
    }

    [Theory]
    [InlineData(true, "pwsh.dll", "-NoProfile", "-File", "job.ps1")]
    [InlineData(true, "pwsh", "-f", "job.ps1")]
    [InlineData(true, "pwsh", "-NoProfile", "-Command", "Invoke-VaeTraining")]
    [InlineData(true, "pwsh", "-c", "1")]
    [InlineData(true, "pwsh", "-EncodedCommand", "MQA=")]
    [InlineData(true, "pwsh", "-NonInteractive")]
    [InlineData(true, "pwsh", "job.ps1")]
    [InlineData(false, "pwsh")]
    [InlineData(false, "pwsh", "-NoProfile")]
    [InlineData(false, "pwsh", "-NoExit", "-File", "job.ps1")]
    [InlineData(false, "pwsh", "-noe", "-c", "1")]
    [InlineData(false, "/scripts/pwsh.ps1")] // the program itself, not a script argument
    public void A_non_interactive_pwsh_is_told_from_its_command_line(bool nonInteractive, params string[] args) =>
        Assert.Equal(nonInteractive, SignalStop.IsNonInteractivePwsh(args));

    [Fact]
    public void A_first_signal_cancels_the_token_and_a_second_does_not_change_which_signal_stopped_it()
    {
        using var command = new CancellationTokenSource();
        using var stop = new SignalStop(command.Token);
        Assert.False(stop.Token.IsCancellationRequested);
        stop.Simulate(PosixSignal.SIGTERM);
        Assert.True(stop.Token.IsCancellationRequested);
        stop.Simulate(PosixSignal.SIGINT);
        Assert.Equal("SIGTERM", stop.SignalName);

        // The command's own stop (Ctrl+C through PowerShell) cancels the token too, with no signal named.
        using var other = new CancellationTokenSource();
        using var byCommand = new SignalStop(other.Token);
        other.Cancel();
        Assert.True(byCommand.Token.IsCancellationRequested);
        Assert.Null(byCommand.SignalName);
    }
}

/// <summary>Tests that add handlers to <see cref="Console.CancelKeyPress"/> or take them run one at a time.</summary>
[CollectionDefinition(nameof(ConsoleCancelHandlers), DisableParallelization = true)]
public sealed class ConsoleCancelHandlers { }

using System.Collections.Concurrent;
using System.Diagnostics;

namespace VaeTools.PowerShell.Logic;

/// <summary>Turns a ValidateSet string into the core's enum value.</summary>
public static class EnumParameter
{
    /// <summary>Parses <paramref name="value"/> (case-insensitive) as a <typeparamref name="T"/> name.</summary>
    /// <exception cref="CommandException">InvalidArgument naming the parameter and the allowed values.</exception>
    public static T Parse<T>(string value, string parameter) where T : struct, Enum
    {
        if (value is not null && Enum.GetNames<T>().Contains(value, StringComparer.OrdinalIgnoreCase))
            return Enum.Parse<T>(value, ignoreCase: true);
        var e = new ArgumentException($"-{parameter} '{value}' is not valid; expected one of {string.Join(", ", Enum.GetNames<T>())}.", parameter);
        throw new CommandException(new CommandError("InvalidParameterValue", ErrorKind.InvalidArgument, value, e));
    }
}

/// <summary>
/// Lets batch progress through at most once per <see cref="Interval"/> (Write-Progress is slow when called for
/// every batch). The clock is injectable so tests step it by hand.
/// </summary>
public sealed class ProgressThrottle
{
    private readonly Func<TimeSpan> _clock;
    private TimeSpan? _last;

    public ProgressThrottle(TimeSpan interval, Func<TimeSpan>? clock = null)
    {
        Interval = interval;
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        _clock = clock;
    }

    public TimeSpan Interval { get; }

    /// <summary>True for the first call and whenever <see cref="Interval"/> has passed since the last true.</summary>
    public bool Ready()
    {
        var now = _clock();
        if (_last is TimeSpan last && now - last < Interval) return false;
        _last = now;
        return true;
    }
}

/// <summary>
/// Runs work whose callbacks may arrive on other threads (the downloader's progress) while every sink call is
/// made on the calling (pipeline) thread, as PowerShell requires.
/// </summary>
public static class PipelineThread
{
    /// <summary>
    /// Runs <paramref name="work"/> on a worker thread; what it posts through its argument is executed here, in
    /// order. Returns its result or rethrows its exception.
    /// </summary>
    public static T Run<T>(ICommandSink sink, Func<Action<Action<ICommandSink>>, T> work)
    {
        using var queue = new BlockingCollection<Action<ICommandSink>>();
        var task = Task.Run(() =>
        {
            try { return work(a => { if (!queue.IsAddingCompleted) queue.TryAdd(a); }); }
            finally { queue.CompleteAdding(); }
        });
        foreach (var action in queue.GetConsumingEnumerable()) action(sink);
        return task.GetAwaiter().GetResult();
    }
}

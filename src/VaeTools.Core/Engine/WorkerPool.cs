using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace VaeTools.Engine;

/// <summary>One data-parallel job for <see cref="WorkerPool.Run"/>: split the work into
/// <c>parts</c> pieces and do piece <c>part</c>. Implement it on a reusable object so that a
/// call allocates nothing.</summary>
public interface IParallelTask
{
    /// <summary>Does piece <paramref name="part"/> (0-based) of <paramref name="parts"/>.</summary>
    void Execute(int part, int parts);
}

/// <summary>How a task splits a range of values over its parts.</summary>
public static class Partition
{
    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of [0, <paramref name="length"/>): boundaries are
    /// multiples of 16 (a vector's width, so no two parts share a cache line of floats); the last part takes the rest.
    /// Empty (start == end) when the range is too short to give this part anything.
    /// </summary>
    public static (int Start, int End) Range(int length, int part, int parts)
    {
        int start = part == 0 ? 0 : (int)((long)length * part / parts) & ~15;
        int end = part == parts - 1 ? length : (int)((long)length * (part + 1) / parts) & ~15;
        return (start, Math.Max(start, end));
    }
}

/// <summary>
/// A small persistent thread pool for data-parallel work: <see cref="Run"/> executes parts
/// 0..Threads-1 of a task, part 0 on the calling thread and the others on dedicated background
/// workers, and returns when all are done. A call allocates nothing.
/// </summary>
/// <remarks>
/// Training calls <see cref="Run"/> thousands of times per second with ~1 ms of work each, so
/// wake-up latency matters: idle workers spin for <see cref="SpinMicroseconds"/> after the last
/// job and only then block on a monitor, so a quiet pool costs no CPU. Runs from several threads
/// at once are serialised; a Run from inside a part of the same pool (which could never finish)
/// throws <see cref="InvalidOperationException"/>.
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    /// <summary>How long a waiting thread spins before it blocks.</summary>
    internal const int SpinMicroseconds = 200;

    private static readonly long SpinTicks = Math.Max(1, Stopwatch.Frequency * SpinMicroseconds / 1_000_000);

    /// <summary>A one-thread pool without workers: Run executes the task inline. Shared; Dispose is a no-op on it.</summary>
    public static WorkerPool Single { get; } = new(1);

    /// <summary>The pool whose part the current thread is executing, to catch nested Runs.</summary>
    [ThreadStatic] private static WorkerPool? t_executing;

    private readonly Thread[] _workers;
    private readonly object _runLock = new();   // serialises Run and Dispose
    private readonly object _wakeLock = new();  // workers sleep on it
    private readonly object _doneLock = new();  // the caller sleeps on it

    private IParallelTask? _task;
    private int _generation;        // incremented per Run; workers wait for a change
    private int _pending;           // worker parts of the current Run not yet finished
    private int _sleepingWorkers;   // workers blocked (or about to block) on _wakeLock
    private int _callerSleeping;    // 1 while the caller is blocked (or about to block) on _doneLock
    private Exception? _error;      // first exception of the current Run
    private volatile bool _disposed;

    /// <summary>Creates a pool of <paramref name="threads"/> (>= 1): the calling thread plus threads-1 background workers.</summary>
    public WorkerPool(int threads)
    {
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "A worker pool needs at least 1 thread.");
        _threads = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int part = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(part))
            {
                IsBackground = true,
                Name = $"VaeTools worker {part}/{threads}",
            };
            _workers[i].Start();
        }
    }

    private WorkerPool(ShareHelp.Slot slot)
    {
        _slot = slot;
        _workers = Array.Empty<Thread>();
    }

    /// <summary>A pool with no threads of its own, for one share of a data-parallel step: see <see cref="ShareHelp"/>.</summary>
    internal static WorkerPool Helped(ShareHelp.Slot slot) => new(slot);

    private readonly ShareHelp.Slot? _slot;

    /// <summary>Workers currently blocked waiting for work (tests: idle workers must stop spinning).</summary>
    internal int SleepingWorkers => Volatile.Read(ref _sleepingWorkers);

    /// <summary>
    /// Number of parts each <see cref="Run"/> is split into (calling thread included). For a share's pool
    /// (<see cref="ShareHelp"/>) 1 or 2, depending on whether a helper is free at the moment.
    /// </summary>
    public int Threads => _slot?.Threads ?? _threads;
    private readonly int _threads;

    /// <summary>
    /// Calls <c>task.Execute(part, Threads)</c> for every part and returns when all are done.
    /// If parts throw, the first exception is rethrown (with its original stack) after every
    /// part has finished.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(IParallelTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (_slot is not null)
        {
            _slot.Run(task);
            return;
        }
        if (Threads == 1)
        {
            // No workers: nothing to serialise and nothing to deadlock on, so nesting is fine.
            ObjectDisposedException.ThrowIf(_disposed, this);
            task.Execute(0, 1);
            return;
        }
        if (t_executing == this)
            throw new InvalidOperationException("WorkerPool.Run was called from inside a part of the same pool; nested runs would deadlock.");

        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _task = task;
            _error = null;
            Volatile.Write(ref _pending, Threads - 1);
            Interlocked.Increment(ref _generation); // full fence: publishes the fields above
            if (Volatile.Read(ref _sleepingWorkers) > 0)
                lock (_wakeLock) Monitor.PulseAll(_wakeLock);

            try
            {
                RunPart(task, 0);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }

            WaitForWorkers();
            _task = null;
            Exception? error = _error;
            _error = null;
            if (error != null) ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunPart(IParallelTask task, int part)
    {
        WorkerPool? outer = t_executing;
        t_executing = this;
        try { task.Execute(part, Threads); }
        finally { t_executing = outer; }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WaitForWorkers()
    {
        if (Volatile.Read(ref _pending) == 0) return;
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < SpinTicks)
        {
            for (int i = 0; i < 8; i++)
            {
                if (Volatile.Read(ref _pending) == 0) return;
                Thread.SpinWait(4);
            }
        }
        lock (_doneLock)
        {
            Interlocked.Exchange(ref _callerSleeping, 1); // full fence before re-checking
            while (Volatile.Read(ref _pending) != 0) Monitor.Wait(_doneLock);
            _callerSleeping = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WorkerLoop(int part)
    {
        int seen = 0;
        while (true)
        {
            if (!WaitForJob(seen)) return;
            seen = Volatile.Read(ref _generation);
            IParallelTask task = _task!;
            try
            {
                RunPart(task, part);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            if (Interlocked.Decrement(ref _pending) == 0 && Volatile.Read(ref _callerSleeping) != 0)
                lock (_doneLock) Monitor.PulseAll(_doneLock);
        }
    }

    /// <summary>Waits until the generation differs from <paramref name="seen"/>; false when disposed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WaitForJob(int seen)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < SpinTicks)
        {
            for (int i = 0; i < 8; i++)
            {
                if (Volatile.Read(ref _generation) != seen) return !_disposed;
                Thread.SpinWait(4);
            }
        }
        lock (_wakeLock)
        {
            Interlocked.Increment(ref _sleepingWorkers); // full fence before re-checking
            while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_wakeLock);
            Interlocked.Decrement(ref _sleepingWorkers);
        }
        return !_disposed;
    }

    /// <summary>
    /// Stops the workers (waiting for a Run in progress on another thread to finish first).
    /// Runs after Dispose throw <see cref="ObjectDisposedException"/>. No-op on <see cref="Single"/>.
    /// </summary>
    public void Dispose()
    {
        if (ReferenceEquals(this, Single)) return;
        if (t_executing == this)
            throw new InvalidOperationException("WorkerPool.Dispose was called from inside a part of the same pool.");
        lock (_runLock)
        {
            if (_disposed) return;
            _disposed = true;
            Interlocked.Increment(ref _generation);
            lock (_wakeLock) Monitor.PulseAll(_wakeLock);
        }
        foreach (Thread t in _workers) t.Join();
    }
}

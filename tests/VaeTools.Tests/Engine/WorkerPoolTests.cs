using VaeTools.Tests.TestSupport;
using VaeTools.Engine;

namespace VaeTools.Tests.Engine;

public class WorkerPoolTests
{
    /// <summary>Records which thread ran each part and how often.</summary>
    private sealed class RecordingTask : IParallelTask
    {
        public readonly int[] Calls;
        public readonly int[] ThreadIds;
        public int SeenParts = -1;

        public RecordingTask(int parts)
        {
            Calls = new int[parts];
            ThreadIds = new int[parts];
        }

        public void Execute(int part, int parts)
        {
            Interlocked.Increment(ref Calls[part]);
            ThreadIds[part] = Environment.CurrentManagedThreadId;
            SeenParts = parts;
        }
    }

    /// <summary>Adds part+1 to a total; used for many-run stress tests.</summary>
    private sealed class SumTask : IParallelTask
    {
        public long Total;
        public int Active, MaxActive;

        public void Execute(int part, int parts)
        {
            int now = Interlocked.Increment(ref Active);
            int seen;
            while (now > (seen = Volatile.Read(ref MaxActive)) && Interlocked.CompareExchange(ref MaxActive, now, seen) != seen) { }
            Interlocked.Add(ref Total, part + 1);
            Interlocked.Decrement(ref Active);
        }
    }

    private sealed class ThrowingTask : IParallelTask
    {
        public readonly int ThrowOn;
        public readonly InvalidTimeZoneException Error = new("part failed on purpose");
        public int Completed;

        public ThrowingTask(int throwOn) => ThrowOn = throwOn;

        public void Execute(int part, int parts)
        {
            if (part == ThrowOn) throw Error;
            Interlocked.Increment(ref Completed);
        }
    }

    private sealed class DelegateTask : IParallelTask
    {
        private readonly Action<int, int> _body;
        public DelegateTask(Action<int, int> body) => _body = body;
        public void Execute(int part, int parts) => _body(part, parts);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Run_executes_every_part_once_on_distinct_threads(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.Threads);
        var task = new RecordingTask(threads);

        pool.Run(task);

        Assert.All(task.Calls, calls => Assert.Equal(1, calls));
        Assert.Equal(threads, task.SeenParts);
        Assert.Equal(Environment.CurrentManagedThreadId, task.ThreadIds[0]);
        Assert.Equal(threads, task.ThreadIds.Distinct().Count());
    }

    [Fact]
    public void Run_many_times_never_loses_a_part_including_after_workers_fell_asleep()
    {
        using var pool = new WorkerPool(3);
        var task = new SumTask();
        const int runs = 20_000;
        for (int r = 0; r < runs; r++)
        {
            pool.Run(task);
            // Now and then pause long enough for the workers to stop spinning and block.
            if (r % 2_000 == 0) Thread.Sleep(5);
        }
        Assert.Equal((long)runs * (1 + 2 + 3), task.Total);
    }

    [Fact]
    public void Idle_workers_stop_spinning_and_block()
    {
        using var pool = new WorkerPool(3);
        pool.Run(new SumTask());
        // Poll (not a timing assertion): after the spin phase both workers must be blocked.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (pool.SleepingWorkers < 2 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Equal(2, pool.SleepingWorkers);

        var task = new SumTask();
        pool.Run(task); // and they wake up again
        Assert.Equal(6, task.Total);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Run_rethrows_a_parts_exception_after_all_parts_finished_and_stays_usable(int throwingPart)
    {
        using var pool = new WorkerPool(3);
        var task = new ThrowingTask(throwingPart);

        var thrown = Assert.ThrowsAny<Exception>(() => pool.Run(task));

        Assert.True(ReferenceEquals(thrown, task.Error) || ReferenceEquals(thrown.InnerException, task.Error),
            $"expected the part's exception (or a wrapper of it), got {thrown}");
        Assert.Equal(2, task.Completed);
        var sum = new SumTask();
        pool.Run(sum);
        Assert.Equal(6, sum.Total);
    }

    [Fact]
    public void Run_from_several_threads_at_once_is_serialised()
    {
        using var pool = new WorkerPool(2);
        var task = new SumTask();
        const int callers = 4, runsEach = 2_000;
        var threads = Enumerable.Range(0, callers).Select(_ => new Thread(() =>
        {
            for (int r = 0; r < runsEach; r++) pool.Run(task);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a caller never returned (deadlock)"));

        Assert.Equal((long)callers * runsEach * (1 + 2), task.Total);
        Assert.True(task.MaxActive <= 2, $"{task.MaxActive} parts ran at once on a 2-thread pool: runs overlapped");
    }

    [Fact]
    public void Nested_run_on_the_same_pool_throws()
    {
        using var pool = new WorkerPool(2);
        Exception? inner = null;
        var nested = new DelegateTask((part, parts) =>
        {
            if (part != 1) return;
            try { pool.Run(new SumTask()); }
            catch (Exception e) { inner = e; }
        });

        pool.Run(nested);

        Assert.IsType<InvalidOperationException>(inner);
    }

    [Fact]
    public void Dispose_stops_workers_then_run_throws_and_dispose_twice_is_fine()
    {
        var pool = new WorkerPool(3);
        pool.Run(new SumTask());

        var disposing = new Thread(pool.Dispose);
        disposing.Start();
        Assert.True(disposing.Join(TimeSpan.FromMinutes(1)), "Dispose never returned (deadlock)");
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Run(new SumTask()));
    }

    [Fact]
    public void Dispose_while_workers_are_asleep_does_not_hang()
    {
        var pool = new WorkerPool(2);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (pool.SleepingWorkers < 1 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        var disposing = new Thread(pool.Dispose);
        disposing.Start();
        Assert.True(disposing.Join(TimeSpan.FromMinutes(1)), "Dispose never returned (deadlock)");
    }

    [Fact]
    public void Single_runs_inline_and_survives_dispose()
    {
        var single = WorkerPool.Single;
        Assert.Equal(1, single.Threads);
        single.Dispose(); // shared instance: must stay usable
        var task = new RecordingTask(1);

        single.Run(task);

        Assert.Equal(1, task.Calls[0]);
        Assert.Equal(Environment.CurrentManagedThreadId, task.ThreadIds[0]);
    }

    [Fact]
    public void Run_allocates_nothing()
    {
        using var pool = new WorkerPool(2);
        var task = new SumTask();
        for (int r = 0; r < 100; r++) pool.Run(task); // warm-up (JIT, first-use allocations)

        Assert.Equal(0, Allocations.OnCallingThread(() =>
        {
            for (int r = 0; r < 1_000; r++) pool.Run(task);
        }));
    }

    /// <summary>Part 1 sleeps long enough that the caller, done with part 0, stops spinning and blocks.</summary>
    private sealed class LateWorkerTask : IParallelTask
    {
        public bool Late { get; set; }
        public void Execute(int part, int parts) { if (part == 1 && Late) Thread.Sleep(5); }
    }

    [Fact]
    public void Run_allocates_nothing_when_the_caller_blocks_on_a_late_worker()
    {
        // A descheduled worker makes the caller give up spinning and sleep on a monitor; that path must not
        // allocate either (a training step that happens to wait this way must stay allocation-free).
        using var pool = new WorkerPool(2);
        var task = new LateWorkerTask();
        for (int r = 0; r < 100; r++) pool.Run(task); // warm-up: JIT and first-use allocations
        task.Late = true;
        pool.Run(task);

        Assert.Equal(0, Allocations.OnCallingThread(() =>
        {
            for (int r = 0; r < 5; r++) pool.Run(task);
        }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Constructor_rejects_fewer_than_one_thread(int threads)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(threads));
        Assert.Equal("threads", e.ParamName);
    }

    [Fact]
    public void Run_rejects_null_task()
    {
        using var pool = new WorkerPool(2);
        Assert.Throws<ArgumentNullException>(() => pool.Run(null!));
    }
}

using VaeTools.Engine;
using VaeTools.Internal;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Engine;

[Collection(TestHooksCollection.Name)] // counts helped parts and turns helping off through TestHooks
public class ShareHelpTests
{
    private sealed class DelegateTask(Action<int, int> body) : IParallelTask
    {
        public void Execute(int part, int parts) => body(part, parts);
    }

    /// <summary>Share 1 is done at once and its thread helps share 0 until share 0 is done.</summary>
    private static Thread StartHelper(ShareHelp help)
    {
        var helper = new Thread(() =>
        {
            help.ShareDone();
            help.Help();
        }) { IsBackground = true };
        helper.Start();
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (!help.HelperWaiting)
        {
            Assert.True(wait.Elapsed < TimeSpan.FromSeconds(10), "the helper never started waiting");
            Thread.Yield();
        }
        return helper;
    }

    /// <summary>A step of two shares: share 0's pool, and share 1's thread waiting to help it.</summary>
    private static (ShareHelp Help, WorkerPool Pool, Thread Helper) ShareWithAHelper()
    {
        var help = new ShareHelp(2);
        help.BeginStep();
        var pool = help.CreatePool(0);
        return (help, pool, StartHelper(help));
    }

    /// <summary>Share 0 is done: the helper must stop.</summary>
    private static void Finish(ShareHelp help, Thread helper)
    {
        help.ShareDone();
        Assert.True(helper.Join(TimeSpan.FromSeconds(10)), "the helper did not stop when every share was done");
    }

    private static float[] Random(int n, ulong seed)
    {
        var rng = new RandomSource(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextFloat() - 0.5f;
        return a;
    }

    [Fact]
    public void Without_a_helper_a_share_runs_its_work_whole_on_its_own_thread()
    {
        var hooks = new TestHooks();
        using var installed = Hooks.Install(hooks);
        var help = new ShareHelp(2);
        help.BeginStep();
        var pool = help.CreatePool(0);
        Assert.Equal(1, pool.Threads);
        var calls = new List<(int Part, int Parts, int Thread)>();
        pool.Run(new DelegateTask((part, parts) => calls.Add((part, parts, Environment.CurrentManagedThreadId))));
        Assert.Equal(new[] { (0, 1, Environment.CurrentManagedThreadId) }, calls);
        Assert.Equal(0, hooks.HelpedParts);
    }

    [Fact]
    public void A_product_helped_by_another_thread_is_bitwise_the_product_computed_alone()
    {
        const int m = 64, n = 784, k = 400;
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        var alone = new float[m * n];
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, alone, n, accumulate: false);

        var hooks = new TestHooks();
        using var installed = Hooks.Install(hooks);
        var (help, pool, helper) = ShareWithAHelper();
        Assert.Equal(2, pool.Threads);
        var helped = new float[m * n];
        // Products until the helper has taken a second half (the owner takes back any it has not started in time).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20 || (Interlocked.Read(ref hooks.HelpedParts) == 0 && clock.Elapsed < TimeSpan.FromSeconds(20)); i++)
        {
            Array.Clear(helped);
            Gemm.Multiply(false, false, m, n, k, a, k, b, n, helped, n, accumulate: false, pool);
            for (int j = 0; j < alone.Length; j++)
                Assert.True(BitConverter.SingleToInt32Bits(alone[j]) == BitConverter.SingleToInt32Bits(helped[j]), $"element {j}: {alone[j]} alone, {helped[j]} helped");
        }
        Finish(help, helper);
        Assert.True(hooks.HelpedParts > 0, "the waiting helper never took a part");
    }

    [Fact]
    public void Both_parts_run_exactly_once_whoever_runs_them()
    {
        var (help, pool, helper) = ShareWithAHelper();
        for (int i = 0; i < 200; i++)
        {
            var counts = new int[2];
            pool.Run(new DelegateTask((part, parts) =>
            {
                Assert.Equal(2, parts);
                Interlocked.Increment(ref counts[part]);
            }));
            Assert.Equal(new[] { 1, 1 }, counts);
        }
        Finish(help, helper);
    }

    [Fact]
    public void An_exception_in_the_helped_part_is_thrown_to_the_share_and_the_helper_carries_on()
    {
        var (help, pool, helper) = ShareWithAHelper();
        int helperThread = helper.ManagedThreadId;
        bool thrownByHelper = false;
        // Part 1 fails; part 0 waits until someone has started part 1, so the helper gets the chance to take it.
        var started = new ManualResetEventSlim();
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(new DelegateTask((part, _) =>
        {
            if (part == 0) { started.Wait(TimeSpan.FromSeconds(10)); return; }
            thrownByHelper = Environment.CurrentManagedThreadId == helperThread;
            started.Set();
            throw new InvalidOperationException("part 1 failed");
        })));
        Assert.Equal("part 1 failed", error.Message);
        Assert.True(thrownByHelper, "part 1 should have run on the helper");
        // The helper is still there for the next product.
        int ran = 0;
        pool.Run(new DelegateTask((_, _) => Interlocked.Increment(ref ran)));
        Assert.Equal(2, ran);
        Finish(help, helper);
    }

    [Fact]
    public void Disabled_nobody_helps()
    {
        var help = new ShareHelp(2);
        help.BeginStep();
        help.ShareDone();
        using (Hooks.Install(new TestHooks { NoShareHelp = true }))
        {
            var done = Task.Run(help.Help); // returns at once instead of waiting for share 0
            Assert.True(SpinWait.SpinUntil(() => done.IsCompleted, TimeSpan.FromSeconds(10)), "Help waited for share 0 although helping is off");
            Assert.Equal(1, help.CreatePool(0).Threads);
        }
        // Without the hook the same call waits for share 0 and offers help meanwhile.
        var helping = Task.Run(help.Help);
        Assert.True(SpinWait.SpinUntil(() => help.HelperWaiting, TimeSpan.FromSeconds(10)), "no helper came");
        Assert.Equal(2, help.CreatePool(0).Threads);
        Assert.False(helping.IsCompleted);
        help.ShareDone();
        Assert.True(SpinWait.SpinUntil(() => helping.IsCompleted, TimeSpan.FromSeconds(10)), "the helper did not stop when every share was done");
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShareHelp(0));
    }
}

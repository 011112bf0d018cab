namespace VaeTools.Tests.TestSupport;

/// <summary>How many bytes code allocates on the calling thread, for the "allocates nothing after warm-up" tests.</summary>
internal static class Allocations
{
    /// <summary>
    /// The bytes the calling thread allocates in <paramref name="run"/> (already warmed up by the caller). The runtime's
    /// per-thread counter now and then over-counts by an allocation-context quantum with nothing allocated (its own
    /// test of GC.GetAllocatedBytesForCurrentThread fails about once in 10,000 runs: dotnet/runtime#63487, #74388),
    /// so a window that shows bytes is measured once more and the smaller count returned. Code that allocates on
    /// every run shows in both windows; the only thing excused is one stray count.
    /// </summary>
    public static long OnCallingThread(Action run)
    {
        long first = Measure(run);
        return first == 0 ? 0 : Math.Min(first, Measure(run));
    }

    private static long Measure(Action run)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        run();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}

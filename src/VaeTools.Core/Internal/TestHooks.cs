using VaeTools.Engine;

namespace VaeTools.Internal;

/// <summary>
/// Every switch and counter that only tests use, in one object. Production code reaches them through
/// <see cref="Current"/>, a single static reference that is null unless a test has installed hooks, so the default path
/// costs one load and one branch that is never taken, and nothing else: no thread-static lookups, no per-object flags,
/// no counters. Tuning values (GEMM blocking, thresholds, chunk sizes) are constants in their classes, not hooks.
/// </summary>
/// <remarks>
/// Hooks are process-wide: while installed they apply to every thread (a share's products run on the pool's and the
/// helper's threads). Tests that install them therefore run in the xunit collection "TestHooks", which runs alone
/// (the test assembly's <c>Hooks.Install</c> checks that), and <see cref="Install"/> refuses a second set.
/// </remarks>
internal sealed class TestHooks
{
    private static TestHooks? s_current;

    /// <summary>The installed hooks, or null (always, outside tests).</summary>
    public static TestHooks? Current => s_current;

    /// <summary>Makes <paramref name="hooks"/> current until the returned scope is disposed.</summary>
    /// <exception cref="InvalidOperationException">Other hooks are installed.</exception>
    public static IDisposable Install(TestHooks hooks)
    {
        ArgumentNullException.ThrowIfNull(hooks);
        if (Interlocked.CompareExchange(ref s_current, hooks, null) is not null)
            throw new InvalidOperationException("Test hooks are installed already: tests that install them must not run in parallel.");
        return new Scope(hooks);
    }

    private sealed class Scope(TestHooks hooks) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref s_current, null, hooks);
    }

    /// <summary><see cref="Gemm"/>: the micro-kernel's code path (<see cref="GemmPath.Auto"/>: by hardware).</summary>
    public GemmPath GemmPath;

    /// <summary><see cref="Gemm"/>: tiles that may reuse an operand read in place (0: always pack; null: the built-in rule).</summary>
    public int? GemmDirectMaxReuse;

    /// <summary>The zero-skipping input layer does not use its AVX-512 tiles (to cover its other sparse path).</summary>
    public bool NoZeroSkippingTiles;

    /// <summary><see cref="ShareHelp"/>: nobody helps; the shares' pools report one thread.</summary>
    public bool NoShareHelp;

    /// <summary><see cref="ShareHelp"/>: an owner waits for the helper to take its posted half instead of taking it back, so help is certain.</summary>
    public bool OwnerWaitsForHelper;

    /// <summary><see cref="ShareHelp"/>: halves of products run by a helper while these hooks were installed.</summary>
    public long HelpedParts;

    /// <summary>Training: called at the start of each share of a step with its index (on the thread that runs it).</summary>
    public Action<int>? BeforeShare;

    /// <summary>PNG files: the largest IDAT chunk written (to exercise files of many IDAT chunks).</summary>
    public int? PngMaxIdatLength;
}

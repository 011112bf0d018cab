using System.Numerics;
using System.Runtime.CompilerServices;

namespace VaeTools.Engine;

/// <summary>
/// The engine's one seedable random source: xoshiro256** seeded through SplitMix64.
/// Its output depends only on the seed (never on the runtime or the thread count), which is what
/// makes "same seed, same thread count => bitwise-identical model" possible.
/// Not thread-safe: each consumer owns its instance.
/// </summary>
public sealed class RandomSource
{
    private ulong _s0, _s1, _s2, _s3;

    public RandomSource(ulong seed)
    {
        Seed = seed;
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    public ulong Seed { get; }

    /// <summary>A new, independent stream derived from this one's next outputs (for per-purpose streams).</summary>
    public RandomSource Split() => new(NextUInt64() ^ 0x9E3779B97F4A7C15UL);

    /// <summary>The generator's whole state (4 words, the Gaussian spare flag and value), for checkpoints.</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3, _hasSpare ? 1UL : 0UL, (ulong)BitConverter.DoubleToInt64Bits(_spare) };

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new ArgumentException($"A random state has 6 words; got {state.Length}.", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new ArgumentException("A random state of all zeros is invalid.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _hasSpare = state[4] != 0;
        _spare = BitConverter.Int64BitsToDouble((long)state[5]);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's method).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), $"n must be positive; got {n}.");
        ulong range = (ulong)n;
        ulong x = NextUInt64() >> 32;
        ulong m = x * range;
        ulong low = m & 0xFFFFFFFFUL;
        if (low < range)
        {
            ulong threshold = (0x1_0000_0000UL - range) % range;
            while (low < threshold)
            {
                x = NextUInt64() >> 32;
                m = x * range;
                low = m & 0xFFFFFFFFUL;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Standard normal via Box-Muller; both values of each pair are used, in order.</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double theta = 2.0 * Math.PI * u2;
        _spare = r * Math.Sin(theta);
        _hasSpare = true;
        return r * Math.Cos(theta);
    }

    private bool _hasSpare;
    private double _spare;

    /// <summary>
    /// Normal(mean, std) values, vectorised: Box-Muller in float on 24-bit uniforms, as PyTorch's CPU randn (one 64-bit
    /// draw per pair of values; see <see cref="Ops.FastMath.BoxMuller"/>), so |value - mean| stays below 5.77 std.
    /// Independent of <see cref="NextGaussian"/>'s spare value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillNormal(Span<float> values, float mean = 0f, float std = 1f)
    {
        const int ChunkPairs = 256;
        Span<ulong> bits = stackalloc ulong[ChunkPairs];
        for (int start = 0; start < values.Length; start += 2 * ChunkPairs)
        {
            var chunk = values.Slice(start, Math.Min(2 * ChunkPairs, values.Length - start));
            int pairs = (chunk.Length + 1) / 2;
            for (int j = 0; j < pairs; j++) bits[j] = NextUInt64();
            Ops.FastMath.BoxMuller(bits[..pairs], chunk, mean, std);
        }
    }

    /// <summary>Uniform in [low, high).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillUniform(Span<float> values, float low, float high)
    {
        float w = high - low;
        for (int i = 0; i < values.Length; i++) values[i] = low + w * NextFloat();
    }

    /// <summary>Laplace(0, tau) by inversion: z = -tau sign(u) ln(1 - 2|u|), u ~ Uniform(-1/2, 1/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillLaplace(Span<float> values, float tau)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double u = ((NextUInt64() >> 11) + 0.5) * (1.0 / (1UL << 53)) - 0.5; // in (-1/2, 1/2): |u| = 1/2 would give -inf
            values[i] = (float)(-tau * Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u)));
        }
    }

    /// <summary>Fisher-Yates shuffle.</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}

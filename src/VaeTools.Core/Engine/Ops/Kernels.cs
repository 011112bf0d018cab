using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VaeTools.Engine.Ops;

/// <summary>
/// Small vectorised loops the ops share that TensorPrimitives has no single call for.
/// Each is a Vector256 loop with a scalar tail; none allocates.
/// </summary>
internal static class Kernels
{
    /// <summary>acc += x.</summary>
    public static void AddInPlace(Span<float> acc, ReadOnlySpan<float> x) => TensorPrimitives.Add(acc, x, acc);

    /// <summary>dx += dy where y &gt; 0 (ReLU backward through its output).</summary>
    public static void ReluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float ry = ref MemoryMarshal.GetReference(y);
            ref float rdy = ref MemoryMarshal.GetReference(dy);
            ref float rdx = ref MemoryMarshal.GetReference(dx);
            for (; i <= y.Length - 8; i += 8)
            {
                var vy = Vector256.LoadUnsafe(ref ry, (nuint)i);
                var vdy = Vector256.LoadUnsafe(ref rdy, (nuint)i);
                var vdx = Vector256.LoadUnsafe(ref rdx, (nuint)i);
                var mask = Vector256.GreaterThan(vy, Vector256<float>.Zero);
                (vdx + (vdy & mask)).StoreUnsafe(ref rdx, (nuint)i);
            }
        }
        for (; i < y.Length; i++)
            if (y[i] > 0f) dx[i] += dy[i];
    }

    /// <summary>Sum in double, in a fixed order (so results do not depend on threads or hardware width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumDouble(ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += x[i];
        return s;
    }

    /// <summary>softplus(x) = log(1 + e^x), computed stably as max(x, 0) + log(1 + e^-|x|), into <paramref name="y"/>.</summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch)
    {
        TensorPrimitives.Abs(x, scratch);
        TensorPrimitives.Negate(scratch, scratch);
        TensorPrimitives.Exp(scratch, scratch);
        TensorPrimitives.Add(scratch, 1f, scratch);
        TensorPrimitives.Log(scratch, scratch);
        TensorPrimitives.Max(x, 0f, y);
        TensorPrimitives.Add(y, scratch, y);
    }

    /// <summary>sig = (l &gt;= 0 ? 1 : e) / (1 + e) where e = exp(-|l|): the sigmoid without overflow.</summary>
    public static void SigmoidFromExp(ReadOnlySpan<float> l, ReadOnlySpan<float> e, Span<float> sig)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float rl = ref MemoryMarshal.GetReference(l);
            ref float re = ref MemoryMarshal.GetReference(e);
            ref float rs = ref MemoryMarshal.GetReference(sig);
            var one = Vector256<float>.One;
            for (; i <= l.Length - 8; i += 8)
            {
                var vl = Vector256.LoadUnsafe(ref rl, (nuint)i);
                var ve = Vector256.LoadUnsafe(ref re, (nuint)i);
                var num = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(vl, Vector256<float>.Zero), one, ve);
                (num / (one + ve)).StoreUnsafe(ref rs, (nuint)i);
            }
        }
        for (; i < l.Length; i++) sig[i] = (l[i] >= 0f ? 1f : e[i]) / (1f + e[i]);
    }

    /// <summary>sum_d x_d l_d - max(l_d, 0) - log1pExp_d, accumulated in vector lanes then in a fixed order.</summary>
    public static float BernoulliRowSum(ReadOnlySpan<float> x, ReadOnlySpan<float> l, ReadOnlySpan<float> log1pExp)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float rx = ref MemoryMarshal.GetReference(x);
            ref float rl = ref MemoryMarshal.GetReference(l);
            ref float rp = ref MemoryMarshal.GetReference(log1pExp);
            var acc = Vector256<float>.Zero;
            for (; i <= x.Length - 8; i += 8)
            {
                var vl = Vector256.LoadUnsafe(ref rl, (nuint)i);
                acc += Vector256.LoadUnsafe(ref rx, (nuint)i) * vl - Vector256.Max(vl, Vector256<float>.Zero) - Vector256.LoadUnsafe(ref rp, (nuint)i);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++) sum += x[i] * l[i] - MathF.Max(l[i], 0f) - log1pExp[i];
        return sum;
    }

    /// <summary>acc += scale (x - s).</summary>
    public static void AddScaledDifference(ReadOnlySpan<float> x, ReadOnlySpan<float> s, float scale, Span<float> acc)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float rx = ref MemoryMarshal.GetReference(x);
            ref float rs = ref MemoryMarshal.GetReference(s);
            ref float ra = ref MemoryMarshal.GetReference(acc);
            var vs = Vector256.Create(scale);
            for (; i <= x.Length - 8; i += 8)
                (Vector256.LoadUnsafe(ref ra, (nuint)i) + vs * (Vector256.LoadUnsafe(ref rx, (nuint)i) - Vector256.LoadUnsafe(ref rs, (nuint)i))).StoreUnsafe(ref ra, (nuint)i);
        }
        for (; i < x.Length; i++) acc[i] += scale * (x[i] - s[i]);
    }
}

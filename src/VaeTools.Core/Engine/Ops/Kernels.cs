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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>acc += scale (x - s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

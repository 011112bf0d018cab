using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VaeTools.Engine.Ops;

/// <summary>
/// Small vectorised loops the ops share: those TensorPrimitives has no single call for, and the element-wise
/// arithmetic every training step runs (add, subtract, multiply, divide, max, multiply-add). The latter are ours
/// rather than TensorPrimitives' because these are compiled fully optimised at their first call
/// (AggressiveOptimization), while a library method starts as unoptimised tier-0 code until the runtime
/// recompiles it in the background: that made the first ~150 steps of a run about 1 ms a step slower (measured
/// with the per-op profile: ReLU 160 against 15 us a step) and put ~200 ms of JIT work on the two cores the
/// training uses. Exp and softplus are in <see cref="FastMath"/>; log, tanh and sigmoid still come from TensorPrimitives.
/// Each loop is Vector512 or Vector256 with a scalar tail; none allocates.
/// Measured: docs/performance.md, "Fast from the first step".
/// </summary>
internal static class Kernels
{
    /// <summary>acc += x.</summary>
    public static void AddInPlace(Span<float> acc, ReadOnlySpan<float> x) => Map<AddOp>(acc, x, acc);

    /// <summary>An element-wise binary operation, for <see cref="Map{TOp}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>.</summary>
    public interface IBinaryOp
    {
        static abstract float Apply(float a, float b);
        static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
        static abstract Vector512<float> Apply(Vector512<float> a, Vector512<float> b);
    }

    public readonly struct AddOp : IBinaryOp
    {
        public static float Apply(float a, float b) => a + b;
        public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
        public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a + b;
    }

    public readonly struct SubtractOp : IBinaryOp
    {
        public static float Apply(float a, float b) => a - b;
        public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a - b;
        public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a - b;
    }

    public readonly struct MultiplyOp : IBinaryOp
    {
        public static float Apply(float a, float b) => a * b;
        public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
        public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a * b;
    }

    public readonly struct DivideOp : IBinaryOp
    {
        public static float Apply(float a, float b) => a / b;
        public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a / b;
        public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a / b;
    }

    /// <summary>max(a, b); with b = 0 this is ReLU (and, like TensorPrimitives.Max, NaN in gives NaN out).</summary>
    public readonly struct MaxOp : IBinaryOp
    {
        public static float Apply(float a, float b) => MathF.Max(a, b);
        public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) =>
            Vector256.ConditionalSelect(Vector256.Equals(a, a), Vector256.Max(a, b), a);
        public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) =>
            Vector512.ConditionalSelect(Vector512.Equals(a, a), Vector512.Max(a, b), a);
    }

    /// <summary>dst[i] = op(a[i], b[i]); dst may be a or b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst) where TOp : IBinaryOp
    {
        if (b.Length < a.Length || dst.Length < a.Length)
            throw new ArgumentException($"Element-wise operands differ in length: {a.Length}, {b.Length} into {dst.Length}.");
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rd = ref MemoryMarshal.GetReference(dst);
        int i = 0, n = a.Length;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                TOp.Apply(Vector512.LoadUnsafe(ref ra, (nuint)i), Vector512.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref rd, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                TOp.Apply(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref rd, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref rd, i) = TOp.Apply(Unsafe.Add(ref ra, i), Unsafe.Add(ref rb, i));
    }

    /// <summary>dst[i] = op(a[i], b); dst may be a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(ReadOnlySpan<float> a, float b, Span<float> dst) where TOp : IBinaryOp
    {
        if (dst.Length < a.Length) throw new ArgumentException($"The destination ({dst.Length}) is shorter than the operand ({a.Length}).");
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rd = ref MemoryMarshal.GetReference(dst);
        int i = 0, n = a.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(b);
            for (; i <= n - 16; i += 16) TOp.Apply(Vector512.LoadUnsafe(ref ra, (nuint)i), vb).StoreUnsafe(ref rd, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8) TOp.Apply(Vector256.LoadUnsafe(ref ra, (nuint)i), vb).StoreUnsafe(ref rd, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref rd, i) = TOp.Apply(Unsafe.Add(ref ra, i), b);
    }

    /// <summary>acc[i] += a[i] * b[i] (a product then a sum, each rounded, as TensorPrimitives.MultiplyAdd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyAdd(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> acc)
    {
        if (b.Length < a.Length || acc.Length < a.Length)
            throw new ArgumentException($"Element-wise operands differ in length: {a.Length}, {b.Length} into {acc.Length}.");
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(acc);
        int i = 0, n = a.Length;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref ra, (nuint)i) * Vector512.LoadUnsafe(ref rb, (nuint)i) + Vector512.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref rc, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref ra, (nuint)i) * Vector256.LoadUnsafe(ref rb, (nuint)i) + Vector256.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref rc, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref rc, i) += Unsafe.Add(ref ra, i) * Unsafe.Add(ref rb, i);
    }

    /// <summary>acc[i] += a[i] * b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyAdd(ReadOnlySpan<float> a, float b, Span<float> acc)
    {
        if (acc.Length < a.Length) throw new ArgumentException($"The accumulator ({acc.Length}) is shorter than the operand ({a.Length}).");
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rc = ref MemoryMarshal.GetReference(acc);
        int i = 0, n = a.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(b);
            for (; i <= n - 16; i += 16) (Vector512.LoadUnsafe(ref ra, (nuint)i) * vb + Vector512.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref rc, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8) (Vector256.LoadUnsafe(ref ra, (nuint)i) * vb + Vector256.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref rc, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref rc, i) += Unsafe.Add(ref ra, i) * b;
    }

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

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using VaeTools.Internal;

namespace VaeTools.Engine;

/// <summary>The code path of <see cref="Gemm"/>'s micro-kernel.</summary>
internal enum GemmPath
{
    /// <summary>Pick the widest path the hardware accelerates.</summary>
    Auto,
    /// <summary>AVX-512 FMA kernel (Vector512).</summary>
    Vector512,
    /// <summary>AVX2 FMA kernel (Vector256).</summary>
    Vector256,
    /// <summary>Plain float arithmetic, no SIMD, no FMA.</summary>
    Scalar,
}

/// <summary>
/// Single-precision matrix multiply C = op(A) * op(B) (or C += ...) on row-major spans, the one
/// heavy kernel of the engine.
/// </summary>
/// <remarks>
/// The algorithm is the usual cache-blocked one (Goto/BLIS): for each block of KC steps of k,
/// pack a KC x NC block of op(B) into NR-wide panels and an MC x KC block of op(A) into MR-high
/// panels, then run a register-blocked MR x NR micro-kernel over the tiles. Several threads split
/// the OUTPUT into disjoint row or column ranges; the k blocking depends on k alone, so every
/// element of C is summed in the same order whatever the thread count and the result is bitwise
/// identical for any pool. Packing buffers are per thread and grow once, so a call allocates
/// nothing after warm-up.
/// </remarks>
public static partial class Gemm
{
    /// <summary>Below this many multiply-adds (m*n*k) a call runs on the calling thread only.</summary>
    private const long ParallelThreshold = 32 * 1024;

    // Blocking parameters per path. MR x NR is the micro-tile; KC the maximal k block (the actual
    // block, KcFor(k), depends on k only); MC x KC of op(A) and KC x NC of op(B) are packed at a time.
    private const int Mr512 = 8, Nr512 = 32, Kc512 = 256, Mc512 = 128, Nc512 = 1024;

    // An operand is read in place instead of packed when its layout already matches a panel
    // (transposed A, plain B) and a packed copy would be reused by at most this many tiles
    // (TestHooks.GemmDirectMaxReuse overrides it in tests).
    private const int DirectMaxReuse = 1;

    private const int Mr256 = 6, Nr256 = 16, Kc256 = 256, Mc256 = 72, Nc256 = 1024;
    private const int MrScalar = 4, NrScalar = 4, KcScalar = 256, McScalar = 64, NcScalar = 256;

    /// <summary>The path a call takes: the widest the hardware accelerates, unless a test forces one (<see cref="TestHooks.GemmPath"/>).</summary>
    internal static GemmPath ActivePath
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TestHooks.Current is { GemmPath: not GemmPath.Auto } hooks ? Forced(hooks.GemmPath) : HardwarePath;
    }

    /// <summary>The widest path this CPU accelerates.</summary>
    private static GemmPath HardwarePath =>
        IsSupported(GemmPath.Vector512) ? GemmPath.Vector512 : IsSupported(GemmPath.Vector256) ? GemmPath.Vector256 : GemmPath.Scalar;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GemmPath Forced(GemmPath path)
    {
        if (path == GemmPath.Vector512 && !IsSupported(GemmPath.Vector512))
            throw new PlatformNotSupportedException("TestHooks.GemmPath = Vector512 but this CPU does not accelerate Vector512 with AVX-512F.");
        if (path == GemmPath.Vector256 && !IsSupported(GemmPath.Vector256))
            throw new PlatformNotSupportedException("TestHooks.GemmPath = Vector256 but this CPU lacks AVX2/FMA.");
        return path;
    }

    /// <summary>Whether <paramref name="path"/> can run on this CPU.</summary>
    internal static bool IsSupported(GemmPath path) => path switch
    {
        GemmPath.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        GemmPath.Vector256 => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported,
        _ => true,
    };

    [ThreadStatic] private static Job? t_job;

    /// <summary>
    /// C[m x n] = op(A) * op(B), or C += op(A) * op(B) when <paramref name="accumulate"/>; all
    /// matrices row-major. op(A) is m x k: A is stored m x k (row stride <paramref name="lda"/>)
    /// when !<paramref name="transA"/>, k x m when <paramref name="transA"/>. op(B) is k x n: B
    /// is stored k x n when !<paramref name="transB"/>, n x k when <paramref name="transB"/>
    /// (so Y = X W^T with W stored [out x in] is transB). C must not overlap A or B.
    /// With k == 0 the product is zero: C is cleared, or left as is when accumulating.
    /// </summary>
    /// <param name="transA">A is stored k x m (use its transpose).</param>
    /// <param name="transB">B is stored n x k (use its transpose).</param>
    /// <param name="m">Rows of C and of op(A).</param>
    /// <param name="n">Columns of C and of op(B).</param>
    /// <param name="k">Columns of op(A) = rows of op(B).</param>
    /// <param name="a">A, row-major as stored.</param>
    /// <param name="lda">Row stride of A as stored (>= its column count).</param>
    /// <param name="b">B, row-major as stored.</param>
    /// <param name="ldb">Row stride of B as stored (>= its column count).</param>
    /// <param name="c">C, m x n, row-major.</param>
    /// <param name="ldc">Row stride of C (>= n).</param>
    /// <param name="accumulate">Add the product to C instead of overwriting C.</param>
    /// <param name="pool">Threads to split the output over; null = the calling thread only.
    /// The result is bitwise identical for any pool.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, WorkerPool? pool = null)
    {
        Validate(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }

        GemmPath path = ActivePath;
        int parts = pool?.Threads ?? 1;
        if ((long)m * n * k < ParallelThreshold) parts = 1;

        // C^T = op(B)^T op(A)^T computes the same sums (the products a*b = b*a bitwise), so when the
        // transposed problem wastes less of the MR x NR tiles on padding (e.g. n = 20), solve that
        // one and write C transposed.
        Blocking(path, out int mr, out int nr, out _, out _, out _);
        // Only when it saves a fifth of the work or more: a transposed C is written element by element.
        bool swap = Padded(n, mr) * Padded(m, nr) * 5 < Padded(m, mr) * Padded(n, nr) * 4;

        Job job = t_job ??= new Job();
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (swap) job.Set(path, !transB, !transA, n, m, k, pb, ldb, pa, lda, pc, ldc, accumulate, parts, transC: true);
            else job.Set(path, transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, parts, transC: false);
            try
            {
                if (job.Parts == 1) job.Execute(0, 1);
                else pool!.Run(job);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "Gemm: m (rows of C) must be >= 0.");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "Gemm: n (columns of C) must be >= 0.");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "Gemm: k (inner dimension) must be >= 0.");
        // Stored shapes: A is m x k (k x m when transA), B is k x n (n x k when transB).
        CheckOperand("A", nameof(a), nameof(lda), transA ? k : m, transA ? m : k, transA ? "k x m (transA)" : "m x k", a.Length, lda);
        CheckOperand("B", nameof(b), nameof(ldb), transB ? n : k, transB ? k : n, transB ? "n x k (transB)" : "k x n", b.Length, ldb);
        CheckOperand("C", nameof(c), nameof(ldc), m, n, "m x n", c.Length, ldc);
        if (c.Length > 0 && (c.Overlaps(a) || c.Overlaps(b)))
            throw new ArgumentException("Gemm: the output span c overlaps an input span (a or b); C must be a separate buffer.", nameof(c));
    }

    private static void CheckOperand(string matrix, string spanName, string ldName, int rows, int cols, string layout, int length, int ld)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(ldName, ld,
                $"Gemm: {ldName} = {ld} but {matrix} is stored {layout} = {rows} x {cols}, so its leading dimension must be >= {Math.Max(1, cols)}.");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException(
                $"Gemm: {spanName} holds {length} values but {matrix} stored {layout} = {rows} x {cols} with {ldName} = {ld} needs {needed}.", spanName);
    }

    private static long Padded(int len, int unit) => (len + unit - 1) / unit * unit;

    /// <summary>k block length: the largest block is at most <paramref name="kcMax"/>, and blocks are
    /// as equal as possible. Depends on k only, which is what makes results thread-count independent.</summary>
    private static int KcFor(int k, int kcMax)
    {
        int blocks = (k + kcMax - 1) / kcMax;
        return (k + blocks - 1) / blocks;
    }

    /// <summary>One multiply, reused per calling thread; part p computes a disjoint range of C.</summary>
    private sealed unsafe class Job : IParallelTask
    {
        private GemmPath _path;
        private bool _transA, _transB, _transC, _accumulate, _splitN;
        private int _directMaxReuse;
        private int _m, _n, _k, _lda, _ldb, _ldc;
        private float* _a, _b, _c;

        /// <summary>Parts that get work (1 = run inline).</summary>
        public int Parts { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Set(GemmPath path, bool transA, bool transB, int m, int n, int k,
            float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int parts, bool transC)
        {
            _directMaxReuse = TestHooks.Current?.GemmDirectMaxReuse ?? DirectMaxReuse;
            _path = path; _transA = transA; _transB = transB; _transC = transC; _accumulate = accumulate;
            _m = m; _n = n; _k = k; _a = a; _lda = lda; _b = b; _ldb = ldb; _c = c; _ldc = ldc;
            Blocking(path, out int mr, out int nr, out _, out _, out _);
            int mTiles = (m + mr - 1) / mr, nTiles = (n + nr - 1) / nr;
            // Split the output along n when op(A) (which every part then packs whole) is the smaller
            // operand, along m otherwise; fall back to the dimension with more tiles when short.
            _splitN = m <= n ? nTiles >= parts || nTiles >= mTiles : !(mTiles >= parts || mTiles >= nTiles);
            Parts = Math.Min(parts, _splitN ? nTiles : mTiles);
        }

        public void Clear() { _a = _b = _c = null; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            if (part >= Parts) return;
            Blocking(_path, out int mr, out int nr, out _, out _, out _);
            if (_splitN)
            {
                int c0 = Boundary(_n, nr, part, Parts), c1 = Boundary(_n, nr, part + 1, Parts);
                if (c1 > c0) Compute(0, _m, c0, c1);
            }
            else
            {
                int r0 = Boundary(_m, mr, part, Parts), r1 = Boundary(_m, mr, part + 1, Parts);
                if (r1 > r0) Compute(r0, r1, 0, _n);
            }
        }

        /// <summary>Start of range <paramref name="i"/> of <paramref name="parts"/> over 0..len, on a multiple of <paramref name="unit"/>.</summary>
        private static int Boundary(int len, int unit, int i, int parts)
        {
            if (i >= parts) return len;
            long ideal = (long)len * i / parts;
            return (int)Math.Min(len, (ideal + unit / 2) / unit * unit);
        }

        /// <summary>C[r0..r1, c0..c1] of the product, with this thread's packing buffers.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Compute(int r0, int r1, int c0, int c1)
        {
            Blocking(_path, out int mr, out int nr, out int kcMax, out int mcMax, out int ncMax);
            int kcStep = KcFor(_k, kcMax);
            float* packA = PackBuffers.A(mcMax * kcMax);
            float* packB = PackBuffers.B(ncMax * kcMax);
            float* edge = stackalloc float[16 * 64];
            // Read transposed A / plain B in place when few tiles would reuse a packed copy.
            bool directA = _transA && (c1 - c0 + nr - 1) / nr <= _directMaxReuse;
            bool directB = !_transB && (r1 - r0 + mr - 1) / mr <= _directMaxReuse;

            for (int jc = c0; jc < c1; jc += ncMax)
            {
                int nc = Math.Min(ncMax, c1 - jc);
                for (int pc = 0; pc < _k; pc += kcStep)
                {
                    int kc = Math.Min(kcStep, _k - pc);
                    bool overwrite = pc == 0 && !_accumulate;
                    PackB(packB, pc, kc, jc, nc, nr, directB);
                    for (int ic = r0; ic < r1; ic += mcMax)
                    {
                        int mc = Math.Min(mcMax, r1 - ic);
                        PackA(packA, ic, mc, pc, kc, mr, directA);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nrValid = Math.Min(nr, nc - jr);
                            bool bInPlace = directB && nrValid == nr;
                            float* pb = bInPlace ? _b + (long)pc * _ldb + jc + jr : packB + jr * kc;
                            int bStride = bInPlace ? _ldb : nr;
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                int mrValid = Math.Min(mr, mc - ir);
                                bool aInPlace = directA && mrValid == mr;
                                float* pa = aInPlace ? _a + (long)pc * _lda + ic + ir : packA + ir * kc;
                                int aStride = aInPlace ? _lda : mr;
                                // A half-height kernel for the last rows when they fit (e.g. m = 20 = 8 + 8 + 4).
                                bool half = _path == GemmPath.Vector512 && mrValid <= mr / 2;
                                if (nrValid == nr && !_transC && (mrValid == mr || (half && mrValid == mr / 2)))
                                {
                                    float* tile = _c + (long)(ic + ir) * _ldc + jc + jr;
                                    if (half) Kernel512x4(kc, pa, aStride, pb, bStride, tile, _ldc, overwrite);
                                    else Kernel(_path, kc, pa, aStride, pb, bStride, tile, _ldc, overwrite);
                                    continue;
                                }
                                // Partial or transposed tile: kernel into a scratch tile, then copy/add the valid part.
                                if (half) Kernel512x4(kc, pa, aStride, pb, bStride, edge, nr, overwrite: true);
                                else Kernel(_path, kc, pa, aStride, pb, bStride, edge, nr, overwrite: true);
                                if (_transC)
                                {
                                    // This job computes C^T: tile element (i, j) is C[jc+jr+j, ic+ir+i].
                                    float* tileT = _c + (long)(jc + jr) * _ldc + ic + ir;
                                    for (int j = 0; j < nrValid; j++)
                                    {
                                        float* dst = tileT + (long)j * _ldc;
                                        if (overwrite) for (int i = 0; i < mrValid; i++) dst[i] = edge[i * nr + j];
                                        else for (int i = 0; i < mrValid; i++) dst[i] = dst[i] + edge[i * nr + j];
                                    }
                                }
                                else
                                {
                                    float* tile = _c + (long)(ic + ir) * _ldc + jc + jr;
                                    for (int i = 0; i < mrValid; i++)
                                    {
                                        float* dst = tile + (long)i * _ldc;
                                        float* src = edge + i * nr;
                                        if (overwrite) for (int j = 0; j < nrValid; j++) dst[j] = src[j];
                                        else for (int j = 0; j < nrValid; j++) dst[j] = dst[j] + src[j];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        /// <summary>
        /// Packs op(A)[i0..i0+mc, p0..p0+kc] into MR-row panels: panel t holds rows i0+t*MR.., laid
        /// out p-major (dst[t*MR*kc + p*MR + ii]); rows past mc are zero.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackA(float* dst, int i0, int mc, int p0, int kc, int mr, bool skipFullPanels)
        {
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                if (skipFullPanels && rows == mr) continue; // read in place by the kernel
                if (_transA) // A stored k x m: row p of the panel is contiguous in A
                    PackCopy(_a + (long)p0 * _lda + i0 + ir, _lda, rows, kc, dst + ir * kc, mr);
                else         // A stored m x k: rows of op(A) are contiguous; transpose them
                    PackTransposed(_a + (long)(i0 + ir) * _lda + p0, _lda, rows, kc, dst + ir * kc, mr);
            }
        }

        /// <summary>
        /// Packs op(B)[p0..p0+kc, j0..j0+nc] into NR-column panels: panel t holds columns j0+t*NR..,
        /// laid out p-major (dst[t*NR*kc + p*NR + jj]); columns past nc are zero.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackB(float* dst, int p0, int kc, int j0, int nc, int nr, bool skipFullPanels)
        {
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                if (skipFullPanels && cols == nr) continue; // read in place by the kernel
                if (!_transB) // B stored k x n: row p of the panel is contiguous in B
                    PackCopy(_b + (long)p0 * _ldb + j0 + jr, _ldb, cols, kc, dst + jr * kc, nr);
                else          // B stored n x k: columns of op(B) are contiguous; transpose them
                    PackTransposed(_b + (long)(j0 + jr) * _ldb + p0, _ldb, cols, kc, dst + jr * kc, nr);
            }
        }
    }

    /// <summary>
    /// dst[p*width + r] = src[p*srcStride + r] for p &lt; len, r &lt; valid; zero for valid &lt;= r &lt; width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackCopy(float* src, int srcStride, int valid, int len, float* dst, int width)
    {
        for (int p = 0; p < len; p++, src += srcStride, dst += width)
        {
            int r = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; r + 16 <= valid; r += 16) Vector512.Load(src + r).Store(dst + r);
            if (Vector256.IsHardwareAccelerated)
                for (; r + 8 <= valid; r += 8) Vector256.Load(src + r).Store(dst + r);
            if (Vector128.IsHardwareAccelerated)
                for (; r + 4 <= valid; r += 4) Vector128.Load(src + r).Store(dst + r);
            for (; r < valid; r++) dst[r] = src[r];
            for (; r < width; r++) dst[r] = 0f;
        }
    }

    /// <summary>
    /// dst[p*width + r] = src[r*srcStride + p] for p &lt; len, r &lt; valid; zero for valid &lt;= r &lt; width.
    /// Rows go through 8 x 8 AVX transposes in groups of 8; a last partial group overlaps the one
    /// before it (those rows are written twice with the same values).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackTransposed(float* src, int srcStride, int valid, int len, float* dst, int width)
    {
        if (valid >= 8 && Avx.IsSupported)
        {
            for (int g = 0; g < valid; g += 8)
            {
                int r0 = Math.Min(g, valid - 8);
                float* s = src + (long)r0 * srcStride;
                float* d = dst + r0;
                int p = 0;
                for (; p + 8 <= len; p += 8)
                    Transpose8x8(s + p, srcStride, d + (long)p * width, width);
                for (; p < len; p++)
                    for (int r = 0; r < 8; r++) d[(long)p * width + r] = s[(long)r * srcStride + p];
            }
        }
        else
        {
            for (int r = 0; r < valid; r++)
            {
                float* s = src + (long)r * srcStride;
                for (int p = 0; p < len; p++) dst[(long)p * width + r] = s[p];
            }
        }
        if (valid < width)
            for (int p = 0; p < len; p++)
                for (int r = valid; r < width; r++) dst[(long)p * width + r] = 0f;
    }

    /// <summary>dst[j*dstStride + i] = src[i*srcStride + j] for an 8 x 8 block, with AVX shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        long s = srcStride;
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + s);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * s), r3 = Avx.LoadVector256(src + 3 * s);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * s), r5 = Avx.LoadVector256(src + 5 * s);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * s), r7 = Avx.LoadVector256(src + 7 * s);
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        long d = dstStride;
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + d, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * d, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * d, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * d, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * d, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * d, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * d, Avx.Permute2x128(u3, u7, 0x31));
    }

    private static void Blocking(GemmPath path, out int mr, out int nr, out int kc, out int mc, out int nc)
    {
        switch (path)
        {
            case GemmPath.Vector512: mr = Mr512; nr = Nr512; kc = Kc512; mc = Mc512 / Mr512 * Mr512; nc = Nc512; break;
            case GemmPath.Vector256: mr = Mr256; nr = Nr256; kc = Kc256; mc = Mc256; nc = Nc256; break;
            default: mr = MrScalar; nr = NrScalar; kc = KcScalar; mc = McScalar; nc = NcScalar; break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Kernel(GemmPath path, int kc, float* a, int aStride, float* b, int bStride, float* c, int ldc, bool overwrite)
    {
        switch (path)
        {
            case GemmPath.Vector512: Kernel512x8(kc, a, aStride, b, bStride, c, ldc, overwrite); break;
            case GemmPath.Vector256: Kernel256(kc, a, aStride, b, bStride, c, ldc, overwrite); break;
            default: KernelScalar(kc, a, aStride, b, bStride, c, ldc, overwrite); break;
        }
    }

    /// <summary>Per-thread packing buffers: pinned (never move), 64-byte aligned, grown once.</summary>
    private static unsafe class PackBuffers
    {
        [ThreadStatic] private static float[]? t_a, t_b;

        public static float* A(int floats) => Get(ref t_a, floats);
        public static float* B(int floats) => Get(ref t_b, floats);

        private static float* Get(ref float[]? buffer, int floats)
        {
            if (buffer == null || buffer.Length < floats + 16)
                buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            // Pinned-heap arrays do not move, so the address stays valid for the thread's lifetime.
            nint p = (nint)Unsafe.AsPointer(ref buffer[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }
}

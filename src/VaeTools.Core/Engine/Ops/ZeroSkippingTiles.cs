using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace VaeTools.Engine.Ops;

/// <summary>
/// A product C[4-row tile] (+)= A_tile · B that skips the k where all four rows of A are zero: the tile keeps
/// only those k (an index list), with the four rows' values at each (4 per k), and
/// the kernel reads row index[p] of B for step p. For MNIST-like input (a fifth non-zero) about 40% of the k
/// of four images survive against 19% non-zeros per image, but every surviving B row is used four times from
/// registers, as in a dense GEMM, where skipping single zeros re-reads B once per non-zero.
/// The input layer uses it both ways:
/// forward, tiles of four images (k = pixels, B = the weight); weight gradient, tiles of four pixels
/// (k = images, B = dY). Each C element sums over the surviving k in increasing order in one accumulator,
/// so the result does not depend on how columns are split over threads.
/// Measured: docs/performance.md, "Zero pixels" (and "Tried and dropped" for the sparse-column variant).
/// </summary>
internal sealed class ZeroSkippingTiles
{
    public const int TileRows = 4;

    /// <summary>
    /// The kernel asks for the B row this many steps ahead: the rows come in no order the hardware prefetcher can
    /// follow, and in training the weight was just updated in the other core's cache. Measured in training with
    /// settings interleaved every 10 steps: forward 618 -> 575 and 795 -> 771 us a step on a busy machine.
    /// </summary>
    private const int PrefetchDistance = 16;

    private int[] _start = new int[1], _index = Array.Empty<int>();
    private float[] _values = Array.Empty<float>();
    private int[] _cursor = Array.Empty<int>(), _rowList = Array.Empty<int>(), _rowListStart = Array.Empty<int>();

    /// <summary>Whether this CPU runs the tile kernels (AVX-512F); otherwise callers use another path.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Number of tiles built.</summary>
    public int Tiles { get; private set; }

    /// <summary>Rows of C (4 per tile, fewer in the last).</summary>
    public int Rows { get; private set; }

    /// <summary>Surviving k of all tiles together.</summary>
    public int Entries => _start[Tiles];

    /// <summary>
    /// Tiles of four rows of X [rows x cols] (row-major): tile t covers rows 4t..4t+3 and keeps each column k
    /// where one of them is non-zero. For the forward product X · W.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void BuildFromRows(ReadOnlySpan<float> x, int rows, int cols)
    {
        Rows = rows;
        Tiles = (rows + TileRows - 1) / TileRows;
        Ensure(ref _start, Tiles + 1);
        Ensure(ref _index, Tiles * cols);
        Ensure(ref _values, Tiles * cols * TileRows);
        int n = 0;
        fixed (float* px = x)
        fixed (int* index = _index)
        fixed (float* values = _values)
        {
            for (int t = 0; t < Tiles; t++)
            {
                _start[t] = n;
                int valid = Math.Min(TileRows, rows - t * TileRows);
                float* r0 = px + (long)t * TileRows * cols;
                // Missing rows of a last, short tile read row 0 of the tile and are masked to zero below.
                float* r1 = valid > 1 ? r0 + cols : r0, r2 = valid > 2 ? r0 + 2 * cols : r0, r3 = valid > 3 ? r0 + 3 * cols : r0;
                float m1 = valid > 1 ? 1f : 0f, m2 = valid > 2 ? 1f : 0f, m3 = valid > 3 ? 1f : 0f;
                Vector512<float> keep1 = valid > 1 ? Vector512<float>.AllBitsSet : default;
                Vector512<float> keep2 = valid > 2 ? Vector512<float>.AllBitsSet : default;
                Vector512<float> keep3 = valid > 3 ? Vector512<float>.AllBitsSet : default;
                int k = 0;
                for (; k + 16 <= cols; k += 16)
                {
                    var nz = ~Vector512.Equals(Vector512.Load(r0 + k), Vector512<float>.Zero)
                           | (~Vector512.Equals(Vector512.Load(r1 + k), Vector512<float>.Zero) & keep1)
                           | (~Vector512.Equals(Vector512.Load(r2 + k), Vector512<float>.Zero) & keep2)
                           | (~Vector512.Equals(Vector512.Load(r3 + k), Vector512<float>.Zero) & keep3);
                    ulong mask = nz.ExtractMostSignificantBits();
                    while (mask != 0)
                    {
                        int j = k + BitOperations.TrailingZeroCount(mask);
                        mask &= mask - 1;
                        index[n] = j;
                        float* v = values + 4L * n;
                        v[0] = r0[j]; v[1] = r1[j] * m1; v[2] = r2[j] * m2; v[3] = r3[j] * m3;
                        n++;
                    }
                }
                for (; k < cols; k++)
                {
                    float a = r0[k], b = r1[k] * m1, c = r2[k] * m2, d = r3[k] * m3;
                    if (a == 0f && b == 0f && c == 0f && d == 0f) continue;
                    index[n] = k;
                    float* v = values + 4L * n;
                    v[0] = a; v[1] = b; v[2] = c; v[3] = d;
                    n++;
                }
            }
            _start[Tiles] = n;
        }
    }

    /// <summary>
    /// Tiles of four columns of X [rows x cols]: tile t covers columns 4t..4t+3 (C rows of X^T) and keeps each
    /// row of X where one of them is non-zero, in increasing order. For the weight gradient X^T · dY.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void BuildFromColumns(ReadOnlySpan<float> x, int rows, int cols)
    {
        Rows = cols;
        Tiles = (cols + TileRows - 1) / TileRows;
        Ensure(ref _start, Tiles + 1);
        Ensure(ref _cursor, Tiles + 1);
        Ensure(ref _rowListStart, rows + 1);
        Ensure(ref _rowList, rows * Tiles);
        int fullTiles = cols / TileRows;
        // Pass 1: for each row of X, the tiles where it has a non-zero (16 columns = 4 tiles at a time); count per tile.
        Array.Clear(_cursor, 0, Tiles + 1);
        int n = 0;
        fixed (float* px = x)
        fixed (int* list = _rowList)
        fixed (int* count = _cursor)
        {
            for (int r = 0; r < rows; r++)
            {
                _rowListStart[r] = n;
                float* row = px + (long)r * cols;
                int k = 0;
                for (; k + 16 <= fullTiles * TileRows; k += 16)
                {
                    ulong m = (~Vector512.Equals(Vector512.Load(row + k), Vector512<float>.Zero)).ExtractMostSignificantBits();
                    m = (m | m >> 1 | m >> 2 | m >> 3) & 0x1111; // bit 4i: some column of tile i is non-zero
                    while (m != 0)
                    {
                        int t = (k + BitOperations.TrailingZeroCount(m)) / TileRows;
                        m &= m - 1;
                        list[n++] = t;
                        count[t + 1]++;
                    }
                }
                for (int t = k / TileRows; t < Tiles; t++)
                {
                    bool any = false;
                    for (int j = t * TileRows; j < Math.Min(cols, (t + 1) * TileRows); j++) any |= row[j] != 0f;
                    if (!any) continue;
                    list[n++] = t;
                    count[t + 1]++;
                }
            }
            _rowListStart[rows] = n;
        }
        for (int t = 0; t < Tiles; t++) _cursor[t + 1] += _cursor[t];
        Array.Copy(_cursor, _start, Tiles + 1);
        Ensure(ref _index, n);
        Ensure(ref _values, n * TileRows);
        // Pass 2: rows in increasing order into their tiles.
        fixed (float* px = x)
        fixed (float* values = _values)
        {
            for (int r = 0; r < rows; r++)
            {
                float* row = px + (long)r * cols;
                for (int e = _rowListStart[r]; e < _rowListStart[r + 1]; e++)
                {
                    int t = _rowList[e], pos = _cursor[t]++;
                    _index[pos] = r;
                    float* v = values + 4L * pos;
                    int j0 = t * TileRows;
                    if (t < fullTiles) { v[0] = row[j0]; v[1] = row[j0 + 1]; v[2] = row[j0 + 2]; v[3] = row[j0 + 3]; }
                    else for (int i = 0; i < TileRows; i++) v[i] = j0 + i < cols ? row[j0 + i] : 0f;
                }
            }
        }
    }

    private static void Ensure<T>(ref T[] array, int length)
    {
        if (array.Length < length) array = new T[Math.Max(length, array.Length * 2)];
    }

    /// <summary>
    /// Columns [c0, c1) of C rows 4t.. of every tile t: C (+)= tile · B, B row-major with row stride ldb (rows
    /// indexed by the tiles' k), C with row stride ldc. Overwrite stores the product (zero for a tile with no k).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Multiply(float[] b, int ldb, float[] c, int ldc, int c0, int c1, bool overwrite)
    {
        if (c1 <= c0) return;
        fixed (int* index = _index)
        fixed (float* values = _values)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            for (int t = 0; t < Tiles; t++)
            {
                int s = _start[t], len = _start[t + 1] - s;
                int valid = Math.Min(TileRows, Rows - t * TileRows);
                float* tile = pc + (long)t * TileRows * ldc;
                int col = c0;
                for (; col + 64 <= c1; col += 64)
                    Kernel4x64(len, index + s, values + 4L * s, pb + col, ldb, tile + col, ldc, valid, overwrite);
                for (; col + 16 <= c1; col += 16)
                    Kernel4x16(len, index + s, values + 4L * s, pb + col, ldb, tile + col, ldc, valid, overwrite);
                for (; col < c1; col++)
                    for (int i = 0; i < valid; i++)
                    {
                        float acc = 0f;
                        for (int p = 0; p < len; p++) acc = MathF.FusedMultiplyAdd(values[4L * (s + p) + i], pb[(long)index[s + p] * ldb + col], acc);
                        float* dst = tile + (long)i * ldc + col;
                        *dst = overwrite ? acc : *dst + acc;
                    }
            }
        }
    }

    /// <summary>A 4 x 64 tile: 16 accumulators; per surviving k, one row segment of B (4 vectors) and 4 broadcasts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel4x64(int len, int* index, float* values, float* b, int ldb, float* c, int ldc, int rows, bool overwrite)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int p = 0; p < len; p++, values += 4)
        {
            float* row = b + (long)index[p] * ldb;
            float* ahead = b + (long)index[Math.Min(p + PrefetchDistance, len - 1)] * ldb;
            Sse.Prefetch0(ahead); Sse.Prefetch0(ahead + 16); Sse.Prefetch0(ahead + 32); Sse.Prefetch0(ahead + 48);
            var b0 = Vector512.Load(row); var b1 = Vector512.Load(row + 16);
            var b2 = Vector512.Load(row + 32); var b3 = Vector512.Load(row + 48);
            var v = Vector512.Create(values[0]);
            a00 = Avx512F.FusedMultiplyAdd(v, b0, a00); a01 = Avx512F.FusedMultiplyAdd(v, b1, a01);
            a02 = Avx512F.FusedMultiplyAdd(v, b2, a02); a03 = Avx512F.FusedMultiplyAdd(v, b3, a03);
            v = Vector512.Create(values[1]);
            a10 = Avx512F.FusedMultiplyAdd(v, b0, a10); a11 = Avx512F.FusedMultiplyAdd(v, b1, a11);
            a12 = Avx512F.FusedMultiplyAdd(v, b2, a12); a13 = Avx512F.FusedMultiplyAdd(v, b3, a13);
            v = Vector512.Create(values[2]);
            a20 = Avx512F.FusedMultiplyAdd(v, b0, a20); a21 = Avx512F.FusedMultiplyAdd(v, b1, a21);
            a22 = Avx512F.FusedMultiplyAdd(v, b2, a22); a23 = Avx512F.FusedMultiplyAdd(v, b3, a23);
            v = Vector512.Create(values[3]);
            a30 = Avx512F.FusedMultiplyAdd(v, b0, a30); a31 = Avx512F.FusedMultiplyAdd(v, b1, a31);
            a32 = Avx512F.FusedMultiplyAdd(v, b2, a32); a33 = Avx512F.FusedMultiplyAdd(v, b3, a33);
        }
        Store(c, overwrite, a00, a01, a02, a03);
        if (rows > 1) Store(c + ldc, overwrite, a10, a11, a12, a13);
        if (rows > 2) Store(c + 2L * ldc, overwrite, a20, a21, a22, a23);
        if (rows > 3) Store(c + 3L * ldc, overwrite, a30, a31, a32, a33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float* c, bool overwrite, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3)
    {
        if (!overwrite)
        {
            x0 += Vector512.Load(c); x1 += Vector512.Load(c + 16);
            x2 += Vector512.Load(c + 32); x3 += Vector512.Load(c + 48);
        }
        x0.Store(c); x1.Store(c + 16); x2.Store(c + 32); x3.Store(c + 48);
    }

    /// <summary>A 4 x 16 tile for the columns left after the 64-wide blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel4x16(int len, int* index, float* values, float* b, int ldb, float* c, int ldc, int rows, bool overwrite)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int p = 0; p < len; p++, values += 4)
        {
            var row = Vector512.Load(b + (long)index[p] * ldb);
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(values[0]), row, a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Create(values[1]), row, a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Create(values[2]), row, a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Create(values[3]), row, a3);
        }
        Store16(c, overwrite, a0);
        if (rows > 1) Store16(c + ldc, overwrite, a1);
        if (rows > 2) Store16(c + 2L * ldc, overwrite, a2);
        if (rows > 3) Store16(c + 3L * ldc, overwrite, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store16(float* c, bool overwrite, Vector512<float> x)
    {
        if (!overwrite) x += Vector512.Load(c);
        x.Store(c);
    }
}

using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using VaeTools.Internal;

namespace VaeTools.Engine.Ops;

/// <summary>
/// A fully connected layer whose weight is stored input-major: Y[B x out] = X[B x in] · Wt[in x out] + b[1 x out]
/// (Wt is the transpose of PyTorch's [out x in]). Two layers use it. The decoder's output layer, because its
/// weight gradient Wt' = X^T dY is then a product our GEMM runs about twice as fast as dY^T X at these sizes
/// (measured: 273 against 525 us for a 64-image replica), for a little slower forward; and the layer fed with
/// data, because with <see cref="SkipZeros"/> it can skip zero inputs.
/// Most MNIST pixels are 0, so when at most <see cref="SparseDensity"/> of X is non-zero the layer
/// skips the zeros: forward adds x_bj · Wt[j, :] for each non-zero pixel j of image b, and the weight
/// gradient adds x_bj · dY[b, :] into row j of dWt — the same sums as the dense product, a fifth of the work.
/// Denser input goes through the GEMM. Work is split over output columns, so results do not depend
/// on the thread count.
/// Backward: dX += dY · Wt^T (dense; data needs none), dWt += X^T · dY, db += column sums of dY.
/// Measured: docs/performance.md, "Zero pixels".
/// </summary>
public sealed class InputMajorLinearNode : Node, IParallelTask
{
    /// <summary>Inputs with at most this fraction of non-zeros take the sparse path (without AVX-512).</summary>
    public const double SparseDensity = 0.35;

    /// <summary>With AVX-512: take the sparse path when the four-image tiles keep at most this fraction of the pixels.</summary>
    public const double TileDensity = 0.6;

    // With AVX-512 the sparse path runs on four-row tiles (see ZeroSkippingTiles): images for the forward product,
    // pixels for the weight gradient. Without, it adds one weight row per non-zero pixel (CSR / CSC below).
    private readonly ZeroSkippingTiles _imageTiles = new(), _pixelTiles = new();
    private bool _tiles;

    // X in compressed rows (CSR) and compressed columns (CSC), built once per forward pass.
    private int[] _rowStart = Array.Empty<int>(), _rowIndex = Array.Empty<int>();
    private float[] _rowValue = Array.Empty<float>();
    private int[] _colStart = Array.Empty<int>(), _colIndex = Array.Empty<int>();
    private float[] _colValue = Array.Empty<float>();
    private bool _backward, _overwriteWeightGrad;

    internal InputMajorLinearNode(Graph g, Node x, Node weightT, Node bias, bool skipZeros) : base(g, "InputMajorLinear", x, weightT, bias)
    {
        SkipZeros = skipZeros;
    }

    /// <summary>Look for zero inputs and skip them when there are enough (for data; hidden activations are too dense to pay).</summary>
    public bool SkipZeros { get; }

    private Node X => Inputs[0];
    private Node Wt => Inputs[1];
    private Node Bias => Inputs[2];

    /// <summary>Whether the last forward pass took the sparse path.</summary>
    public bool UsedSparsePath { get; private set; }

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (X.Cols != Wt.Rows)
            throw Mismatch($"the input {X.Value.Shape} has {X.Cols} features but the input-major weight {Wt.Value.Shape} expects {Wt.Rows} (weights are [in x out]).");
        if (Bias.Rows != 1 || Bias.Cols != Wt.Cols)
            throw Mismatch($"the bias {Bias.Value.Shape} does not fit the weight {Wt.Value.Shape}; expected [1 x {Wt.Cols}].");
        return (X.Rows, Wt.Cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        int batch = X.Rows, ins = X.Cols, outs = Cols;
        var y = Value.Span;
        _tiles = SkipZeros && ZeroSkippingTiles.IsSupported && TestHooks.Current is not { NoZeroSkippingTiles: true };
        if (_tiles)
        {
            _imageTiles.BuildFromRows(X.Value.Span, batch, ins);
            UsedSparsePath = _imageTiles.Entries <= TileDensity * _imageTiles.Tiles * ins;
        }
        else UsedSparsePath = SkipZeros && BuildRows();
        if (UsedSparsePath)
        {
            _backward = false;
            Graph.Pool.Run(this);
            return;
        }
        var b = Bias.Value.Span;
        for (int r = 0; r < batch; r++) b.CopyTo(y.Slice(r * outs, outs));
        Gemm.Multiply(false, false, batch, outs, ins, X.Value.Span, ins, Wt.Value.Span, outs, y, outs, accumulate: true, Graph.Pool);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        int batch = Rows, outs = Cols, ins = X.Cols;
        var dy = Grad!.Span;
        if (X.RequiresGrad) // dX[B x in] += dY[B x out] · Wt^T
            Gemm.Multiply(false, true, batch, ins, outs, dy, outs, Wt.Value.Span, outs, X.Grad!.Span, ins, AccumulateInto(X), Graph.Pool);
        if (Wt.RequiresGrad)
        {
            if (UsedSparsePath)
            {
                if (_tiles) _pixelTiles.BuildFromColumns(X.Value.Span, batch, ins);
                else BuildColumns();
                _backward = true;
                _overwriteWeightGrad = !AccumulateInto(Wt);
                Graph.Pool.Run(this);
            }
            else // dWt[in x out] += X^T · dY
                Gemm.Multiply(true, false, ins, outs, batch, X.Value.Span, ins, dy, outs, Wt.Grad!.Span, outs, AccumulateInto(Wt), Graph.Pool);
        }
        if (Bias.RequiresGrad)
        {
            var db = GradOf(Bias);
            for (int r = 0; r < batch; r++) Kernels.AddInPlace(db, dy.Slice(r * outs, outs));
        }
    }

    /// <summary>Builds the CSR of X; returns whether X is sparse enough for the sparse path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool BuildRows()
    {
        int batch = X.Rows, ins = X.Cols;
        var x = X.Value.Span;
        if (_rowStart.Length < batch + 1) _rowStart = new int[batch + 1];
        if (_rowIndex.Length < x.Length) { _rowIndex = new int[x.Length]; _rowValue = new float[x.Length]; }
        // Branch-free: every value is written, the cursor advances only past non-zeros
        // (a branch on "pixel != 0" would be mispredicted at random).
        int k = 0;
        for (int r = 0; r < batch; r++)
        {
            _rowStart[r] = k;
            var row = x.Slice(r * ins, ins);
            for (int j = 0; j < row.Length; j++)
            {
                float v = row[j];
                _rowIndex[k] = j;
                _rowValue[k] = v;
                k += v != 0f ? 1 : 0;
            }
        }
        _rowStart[batch] = k;
        return k <= SparseDensity * x.Length;
    }

    /// <summary>Builds the CSC of X from its CSR (a counting sort by column; rows stay in order within a column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BuildColumns()
    {
        int batch = X.Rows, ins = X.Cols, nnz = _rowStart[batch];
        if (_colStart.Length < ins + 1) _colStart = new int[ins + 1];
        if (_colIndex.Length < nnz) { _colIndex = new int[nnz]; _colValue = new float[nnz]; }
        Array.Clear(_colStart, 0, ins + 1);
        for (int k = 0; k < nnz; k++) _colStart[_rowIndex[k] + 1]++;
        for (int j = 0; j < ins; j++) _colStart[j + 1] += _colStart[j];
        // _colStart[j] now is the start of column j; use it as a cursor, then shift back.
        for (int r = 0; r < batch; r++)
            for (int k = _rowStart[r]; k < _rowStart[r + 1]; k++)
            {
                int pos = _colStart[_rowIndex[k]]++;
                _colIndex[pos] = r;
                _colValue[pos] = _rowValue[k];
            }
        for (int j = ins; j > 0; j--) _colStart[j] = _colStart[j - 1];
        _colStart[0] = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IParallelTask.Execute(int part, int parts)
    {
        int outs = Cols;
        var (c0, c1) = Partition.Range(outs, part, parts);
        if (c1 <= c0) return;
        if (!_backward)
        {
            // y_b[c0..c1) = bias + sum over non-zero pixels j of x_bj Wt[j, c0..c1)
            var wt = Wt.Value.Buffer;
            var y = Value.Buffer;
            for (int r = 0; r < X.Rows; r++) Array.Copy(Bias.Value.Buffer, c0, y, r * outs + c0, c1 - c0);
            if (_tiles) _imageTiles.Multiply(wt, outs, y, outs, c0, c1, overwrite: false);
            else
                for (int r = 0; r < X.Rows; r++)
                {
                    int s = _rowStart[r], e = _rowStart[r + 1];
                    AccumulateRows(_rowIndex.AsSpan(s, e - s), _rowValue.AsSpan(s, e - s), wt, outs, c0, c1, y.AsSpan(r * outs, outs));
                }
        }
        else if (_tiles) _pixelTiles.Multiply(Grad!.Buffer, outs, Wt.Grad!.Buffer, outs, c0, c1, _overwriteWeightGrad);
        else
        {
            // dWt[j, c0..c1) += sum over images b with x_bj != 0 of x_bj dY[b, c0..c1)
            var dy = Grad!.Buffer;
            var dwt = Wt.Grad!.Buffer;
            for (int j = 0; j < X.Cols; j++)
            {
                int s = _colStart[j], e = _colStart[j + 1];
                if (_overwriteWeightGrad) Array.Clear(dwt, j * outs + c0, c1 - c0); // first writer: start from zero, block by block
                if (s == e) continue;
                AccumulateRows(_colIndex.AsSpan(s, e - s), _colValue.AsSpan(s, e - s), dy, outs, c0, c1, dwt.AsSpan(j * outs, outs));
            }
        }
    }

    /// <summary>a * b + c, fused where the CPU can.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Avx512F.IsSupported ? Avx512F.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <summary>
    /// dst[c] += sum_k values[k] * src[rows[k] * ld + c] for c in [c0, c1). Each 64-column block of dst is held in
    /// registers while k runs, with two sets of accumulators so consecutive FMAs do not wait on each other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AccumulateRows(ReadOnlySpan<int> rows, ReadOnlySpan<float> values, float[] src, int ld, int c0, int c1, Span<float> dst)
    {
        ref float s0 = ref MemoryMarshal.GetArrayDataReference(src);
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        ref int r0 = ref MemoryMarshal.GetReference(rows);
        ref float v0 = ref MemoryMarshal.GetReference(values);
        int n = rows.Length, c = c0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; c + 64 <= c1; c += 64)
            {
                var a0 = Vector512.LoadUnsafe(ref d0, (nuint)c); var a1 = Vector512.LoadUnsafe(ref d0, (nuint)(c + 16));
                var a2 = Vector512.LoadUnsafe(ref d0, (nuint)(c + 32)); var a3 = Vector512.LoadUnsafe(ref d0, (nuint)(c + 48));
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                int k = 0;
                for (; k + 2 <= n; k += 2)
                {
                    var w = Vector512.Create(Unsafe.Add(ref v0, k));
                    var u = Vector512.Create(Unsafe.Add(ref v0, k + 1));
                    nuint o = (nuint)(Unsafe.Add(ref r0, k) * ld + c), p = (nuint)(Unsafe.Add(ref r0, k + 1) * ld + c);
                    a0 = Fma(w, Vector512.LoadUnsafe(ref s0, o), a0); a1 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 16), a1);
                    a2 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 32), a2); a3 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 48), a3);
                    b0 = Fma(u, Vector512.LoadUnsafe(ref s0, p), b0); b1 = Fma(u, Vector512.LoadUnsafe(ref s0, p + 16), b1);
                    b2 = Fma(u, Vector512.LoadUnsafe(ref s0, p + 32), b2); b3 = Fma(u, Vector512.LoadUnsafe(ref s0, p + 48), b3);
                }
                if (k < n)
                {
                    var w = Vector512.Create(Unsafe.Add(ref v0, k));
                    nuint o = (nuint)(Unsafe.Add(ref r0, k) * ld + c);
                    a0 = Fma(w, Vector512.LoadUnsafe(ref s0, o), a0); a1 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 16), a1);
                    a2 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 32), a2); a3 = Fma(w, Vector512.LoadUnsafe(ref s0, o + 48), a3);
                }
                (a0 + b0).StoreUnsafe(ref d0, (nuint)c); (a1 + b1).StoreUnsafe(ref d0, (nuint)(c + 16));
                (a2 + b2).StoreUnsafe(ref d0, (nuint)(c + 32)); (a3 + b3).StoreUnsafe(ref d0, (nuint)(c + 48));
            }
            for (; c + 16 <= c1; c += 16)
            {
                var a = Vector512.LoadUnsafe(ref d0, (nuint)c);
                for (int k = 0; k < n; k++)
                    a = Fma(Vector512.Create(Unsafe.Add(ref v0, k)), Vector512.LoadUnsafe(ref s0, (nuint)(Unsafe.Add(ref r0, k) * ld + c)), a);
                a.StoreUnsafe(ref d0, (nuint)c);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; c + 32 <= c1; c += 32)
            {
                var a0 = Vector256.LoadUnsafe(ref d0, (nuint)c); var a1 = Vector256.LoadUnsafe(ref d0, (nuint)(c + 8));
                var a2 = Vector256.LoadUnsafe(ref d0, (nuint)(c + 16)); var a3 = Vector256.LoadUnsafe(ref d0, (nuint)(c + 24));
                for (int k = 0; k < n; k++)
                {
                    var w = Vector256.Create(Unsafe.Add(ref v0, k));
                    nuint o = (nuint)(Unsafe.Add(ref r0, k) * ld + c);
                    a0 = Fma(w, Vector256.LoadUnsafe(ref s0, o), a0); a1 = Fma(w, Vector256.LoadUnsafe(ref s0, o + 8), a1);
                    a2 = Fma(w, Vector256.LoadUnsafe(ref s0, o + 16), a2); a3 = Fma(w, Vector256.LoadUnsafe(ref s0, o + 24), a3);
                }
                a0.StoreUnsafe(ref d0, (nuint)c); a1.StoreUnsafe(ref d0, (nuint)(c + 8));
                a2.StoreUnsafe(ref d0, (nuint)(c + 16)); a3.StoreUnsafe(ref d0, (nuint)(c + 24));
            }
        }
        for (; c < c1; c++)
        {
            float a = dst[c];
            for (int k = 0; k < n; k++) a += values[k] * src[rows[k] * ld + c];
            dst[c] = a;
        }
    }
}

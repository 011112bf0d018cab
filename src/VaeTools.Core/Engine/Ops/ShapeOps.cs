using System.Runtime.CompilerServices;
namespace VaeTools.Engine.Ops;

/// <summary>Columns [start, start + count) of x: [r x c] -> [r x count]. Backward scatters the gradient back.</summary>
public sealed class ColumnSliceNode : Node
{
    private readonly int _start, _count;

    internal ColumnSliceNode(Graph g, Node x, int start, int count) : base(g, "ColumnSlice", x)
    {
        if (start < 0 || count <= 0)
            throw new ArgumentOutOfRangeException(nameof(start), $"ColumnSlice needs start >= 0 and count > 0; got start {start}, count {count}.");
        _start = start;
        _count = count;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (_start + _count > X.Cols)
            throw Mismatch($"columns {_start}..{_start + _count - 1} do not exist in {X.Value.Shape}.");
        return (X.Rows, _count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        for (int r = 0; r < Rows; r++)
            X.Value.Span.Slice(r * X.Cols + _start, _count).CopyTo(Value.Span.Slice(r * _count, _count));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        var dx = GradOf(X);
        for (int r = 0; r < Rows; r++)
            Kernels.AddInPlace(dx.Slice(r * X.Cols + _start, _count), Grad!.Span.Slice(r * _count, _count));
    }
}

/// <summary>
/// The same values in a new shape: [r x c] -> [rows x cols] with rows*cols = r*c; row-major order is kept.
/// One of rows, cols may be -1, meaning "as many as fit" (e.g. [K*B x 1] -> [K x B] with rows = K, cols = -1,
/// whatever the batch size).
/// </summary>
public sealed class ReshapeNode : Node
{
    private readonly int _rows, _cols;

    internal ReshapeNode(Graph g, Node x, int rows, int cols) : base(g, "Reshape", x)
    {
        bool ok = (rows > 0 || rows == -1) && (cols > 0 || cols == -1) && !(rows == -1 && cols == -1);
        if (!ok)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Reshape needs positive sizes (one may be -1); got [{rows} x {cols}].");
        _rows = rows;
        _cols = cols;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape()
    {
        int n = X.Rows * X.Cols;
        int rows = _rows, cols = _cols;
        if (rows == -1) rows = n % cols == 0 ? n / cols : -1;
        if (cols == -1) cols = n % rows == 0 ? n / rows : -1;
        if (rows < 0 || cols < 0 || rows * cols != n)
            throw Mismatch($"cannot view {X.Value.Shape} ({n} values) as [{(_rows == -1 ? "?" : _rows.ToString())} x {(_cols == -1 ? "?" : _cols.ToString())}].");
        return (rows, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward() => X.Value.Span.CopyTo(Value.Span);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward() => Kernels.AddInPlace(GradOf(X), Grad!.Span);
}

/// <summary>
/// x stacked <c>times</c> times: [B x c] -> [times*B x c], block k (rows k*B .. k*B+B-1) a copy of x.
/// Used to draw K samples per image. Backward sums the K blocks' gradients.
/// </summary>
public sealed class RepeatRowsNode : Node
{
    private readonly int _times;

    internal RepeatRowsNode(Graph g, Node x, int times) : base(g, "RepeatRows", x)
    {
        if (times <= 0) throw new ArgumentOutOfRangeException(nameof(times), times, "RepeatRows needs a positive count.");
        _times = times;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape() => (X.Rows * _times, X.Cols);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        int n = X.Value.Length;
        for (int k = 0; k < _times; k++) X.Value.Span.CopyTo(Value.Span.Slice(k * n, n));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        int n = X.Value.Length;
        var dx = GradOf(X);
        for (int k = 0; k < _times; k++) Kernels.AddInPlace(dx, Grad!.Span.Slice(k * n, n));
    }
}

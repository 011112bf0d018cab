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

    protected internal override void Forward()
    {
        for (int r = 0; r < Rows; r++)
            X.Value.Span.Slice(r * X.Cols + _start, _count).CopyTo(Value.Span.Slice(r * _count, _count));
    }

    protected internal override void Backward()
    {
        for (int r = 0; r < Rows; r++)
            Kernels.AddInPlace(X.Grad!.Span.Slice(r * X.Cols + _start, _count), Grad!.Span.Slice(r * _count, _count));
    }
}

/// <summary>
/// The same values in a new shape: [r x c] -> [rows x cols] with rows*cols = r*c; row-major order is kept.
/// A rows of -1 means "as many as fit" (e.g. [K*B x 1] -> [K x B] with cols = B).
/// </summary>
public sealed class ReshapeNode : Node
{
    private readonly int _rows, _cols;

    internal ReshapeNode(Graph g, Node x, int rows, int cols) : base(g, "Reshape", x)
    {
        if (cols <= 0 || (rows <= 0 && rows != -1))
            throw new ArgumentOutOfRangeException(nameof(rows), $"Reshape needs positive sizes (rows may be -1); got [{rows} x {cols}].");
        _rows = rows;
        _cols = cols;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape()
    {
        int n = X.Rows * X.Cols;
        int rows = _rows == -1 ? (n % _cols == 0 ? n / _cols : -1) : _rows;
        if (rows < 0 || rows * _cols != n)
            throw Mismatch($"cannot view {X.Value.Shape} ({n} values) as [{(_rows == -1 ? "?" : _rows.ToString())} x {_cols}].");
        return (rows, _cols);
    }

    protected internal override void Forward() => X.Value.Span.CopyTo(Value.Span);

    protected internal override void Backward() => Kernels.AddInPlace(X.Grad!.Span, Grad!.Span);
}

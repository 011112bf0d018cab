using System.Runtime.CompilerServices;
namespace VaeTools.Engine.Ops;

/// <summary>Which dimension a reduction removes.</summary>
public enum Axis
{
    /// <summary>Over rows: [r x c] -> [1 x c].</summary>
    Rows = 0,
    /// <summary>Over columns: [r x c] -> [r x 1].</summary>
    Columns = 1,
    /// <summary>Over everything: [r x c] -> [1 x 1].</summary>
    All = 2,
}

/// <summary>
/// Sum (or mean) along an axis. Sums accumulate in double in a fixed order.
/// Backward: every input element receives the output gradient (times 1/n for a mean).
/// </summary>
public sealed class SumNode : Node
{
    private readonly Axis _axis;
    private readonly bool _mean;

    internal SumNode(Graph g, Node x, Axis axis, bool mean) : base(g, mean ? "Mean" : "Sum", x)
    {
        _axis = axis;
        _mean = mean;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape() => _axis switch
    {
        Axis.Rows => (1, X.Cols),
        Axis.Columns => (X.Rows, 1),
        _ => (1, 1),
    };

    /// <summary>
    /// For a mean: divide by this instead of the number of elements when it is positive. Data-parallel
    /// training sets it to the whole batch's count, so the parts' losses and gradients add up to the batch mean.
    /// </summary>
    public float Divisor { get; set; }

    private float Count => _mean && Divisor > 0 ? Divisor : _axis switch
    {
        Axis.Rows => X.Rows,
        Axis.Columns => X.Cols,
        _ => X.Rows * X.Cols,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> x = X.Value.Span;
        var y = Value.Span;
        int rows = X.Rows, cols = X.Cols;
        double scale = _mean ? 1.0 / Math.Max(1f, Count) : 1.0;
        switch (_axis)
        {
            case Axis.All:
                y[0] = (float)(Kernels.SumDouble(x) * scale);
                break;
            case Axis.Columns:
                for (int r = 0; r < rows; r++) y[r] = (float)(Kernels.SumDouble(x.Slice(r * cols, cols)) * scale);
                break;
            case Axis.Rows:
                for (int c = 0; c < cols; c++)
                {
                    double s = 0;
                    for (int r = 0; r < rows; r++) s += x[r * cols + c];
                    y[c] = (float)(s * scale);
                }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> dy = Grad!.Span;
        var dx = GradOf(X);
        int rows = X.Rows, cols = X.Cols;
        float scale = _mean ? 1f / Math.Max(1f, Count) : 1f;
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
        {
            float g = _axis switch { Axis.Rows => dy[c], Axis.Columns => dy[r], _ => dy[0] };
            dx[r * cols + c] += g * scale;
        }
    }
}

/// <summary>
/// log sum exp along an axis, stabilised by the maximum: y = m + log sum exp(x - m).
/// Backward: dx = dy * softmax(x) along the axis = dy * exp(x - y).
/// </summary>
public sealed class LogSumExpNode : Node
{
    private readonly Axis _axis;

    internal LogSumExpNode(Graph g, Node x, Axis axis) : base(g, "LogSumExp", x)
    {
        if (axis == Axis.All) throw new ArgumentException("LogSumExp reduces over Rows or Columns; reshape first to reduce everything.", nameof(axis));
        _axis = axis;
    }

    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape() =>
        _axis == Axis.Rows ? (1, X.Cols) : (X.Rows, 1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> x = X.Value.Span;
        var y = Value.Span;
        int rows = X.Rows, cols = X.Cols;
        int outer = _axis == Axis.Rows ? cols : rows, inner = _axis == Axis.Rows ? rows : cols;
        for (int o = 0; o < outer; o++)
        {
            float max = float.NegativeInfinity;
            for (int i = 0; i < inner; i++) max = MathF.Max(max, x[At(o, i, cols)]);
            if (float.IsNegativeInfinity(max)) { y[o] = float.NegativeInfinity; continue; }
            double s = 0;
            for (int i = 0; i < inner; i++) s += Math.Exp(x[At(o, i, cols)] - max);
            y[o] = (float)(max + Math.Log(s));
        }
    }

    private int At(int outer, int inner, int cols) =>
        _axis == Axis.Rows ? inner * cols + outer : outer * cols + inner;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> x = X.Value.Span, y = Value.Span, dy = Grad!.Span;
        var dx = GradOf(X);
        int rows = X.Rows, cols = X.Cols;
        int outer = _axis == Axis.Rows ? cols : rows, inner = _axis == Axis.Rows ? rows : cols;
        for (int o = 0; o < outer; o++)
        {
            if (float.IsNegativeInfinity(y[o])) continue;
            for (int i = 0; i < inner; i++)
            {
                int k = At(o, i, cols);
                dx[k] += dy[o] * MathF.Exp(x[k] - y[o]);
            }
        }
    }
}

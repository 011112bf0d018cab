using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace VaeTools.Engine.Ops;

/// <summary>The one-input element-wise functions. Each has its derivative beside it in <see cref="UnaryNode.Backward"/>.</summary>
public enum UnaryKind
{
    Relu, LeakyRelu, Tanh, Elu, Softplus, Sigmoid, Exp, Log, Scale, AddScalar, Square, Abs, Negate,
}

/// <summary>
/// y = f(x) element-wise, [r x c] -> [r x c]. <see cref="Parameter"/> is the slope of LeakyReLU, the
/// alpha of ELU, the factor of Scale or the addend of AddScalar; it may be changed between steps
/// (a KL warm-up changes a Scale factor each epoch).
/// </summary>
public sealed class UnaryNode : Node
{
    private Tensor? _scratch;

    internal UnaryNode(Graph g, UnaryKind kind, Node x, float parameter = 0f) : base(g, kind.ToString(), x)
    {
        Function = kind;
        Parameter = parameter;
    }

    public UnaryKind Function { get; }
    public float Parameter { get; set; }
    private Node X => Inputs[0];

    protected internal override (int Rows, int Cols) InferShape() => (X.Rows, X.Cols);

    private Span<float> Scratch()
    {
        _scratch ??= new Tensor(0, 0);
        _scratch.Resize(Rows, Cols);
        return _scratch.Span;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> x = X.Value.Span;
        var y = Value.Span;
        float p = Parameter;
        switch (Function)
        {
            case UnaryKind.Relu: Kernels.Map<Kernels.MaxOp>(x, 0f, y); break;
            case UnaryKind.LeakyRelu:
                for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : p * x[i];
                break;
            case UnaryKind.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryKind.Elu:
                FastMath.Exp(x, y);
                for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : p * (y[i] - 1f);
                break;
            case UnaryKind.Softplus: FastMath.Softplus(x, y); break;
            case UnaryKind.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryKind.Exp: FastMath.Exp(x, y); break;
            case UnaryKind.Log: TensorPrimitives.Log(x, y); break;
            case UnaryKind.Scale: Kernels.Map<Kernels.MultiplyOp>(x, p, y); break;
            case UnaryKind.AddScalar: Kernels.Map<Kernels.AddOp>(x, p, y); break;
            case UnaryKind.Square: Kernels.Map<Kernels.MultiplyOp>(x, x, y); break;
            case UnaryKind.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryKind.Negate: TensorPrimitives.Negate(x, y); break;
            default: throw new InvalidOperationException($"Unknown function {Function}.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> x = X.Value.Span, y = Value.Span, dy = Grad!.Span;
        var dx = GradOf(X);
        float p = Parameter;
        switch (Function)
        {
            case UnaryKind.Relu: Kernels.ReluBackward(y, dy, dx); break; // f' = 1[x > 0]
            case UnaryKind.LeakyRelu: // f' = 1 or slope
                for (int i = 0; i < x.Length; i++) dx[i] += x[i] > 0f ? dy[i] : p * dy[i];
                break;
            case UnaryKind.Tanh: // f' = 1 - y^2
                for (int i = 0; i < x.Length; i++) dx[i] += dy[i] * (1f - y[i] * y[i]);
                break;
            case UnaryKind.Elu: // f' = 1 for x > 0, alpha e^x = y + alpha otherwise
                for (int i = 0; i < x.Length; i++) dx[i] += x[i] > 0f ? dy[i] : dy[i] * (y[i] + p);
                break;
            case UnaryKind.Softplus: // f' = sigmoid(x)
            {
                var s = Scratch();
                TensorPrimitives.Sigmoid(x, s);
                Kernels.MultiplyAdd(s, dy, dx);
                break;
            }
            case UnaryKind.Sigmoid: // f' = y (1 - y)
                for (int i = 0; i < x.Length; i++) dx[i] += dy[i] * y[i] * (1f - y[i]);
                break;
            case UnaryKind.Exp: Kernels.MultiplyAdd(dy, y, dx); break; // f' = y
            case UnaryKind.Log: // f' = 1 / x
                for (int i = 0; i < x.Length; i++) dx[i] += dy[i] / x[i];
                break;
            case UnaryKind.Scale: Kernels.MultiplyAdd(dy, p, dx); break;
            case UnaryKind.AddScalar: Kernels.AddInPlace(dx, dy); break;
            case UnaryKind.Square: // f' = 2x
                for (int i = 0; i < x.Length; i++) dx[i] += 2f * x[i] * dy[i];
                break;
            case UnaryKind.Abs: // f' = sign(x) (0 at 0)
                for (int i = 0; i < x.Length; i++) dx[i] += MathF.Sign(x[i]) * dy[i];
                break;
            case UnaryKind.Negate: Kernels.Map<Kernels.SubtractOp>(dx, dy, dx); break;
        }
    }
}

public enum BinaryKind { Add, Subtract, Multiply, Divide }

/// <summary>
/// z = a (op) b element-wise. a is [r x c]; b is [r x c], a row [1 x c] (added to every row),
/// a column [r x 1] (added to every column) or a scalar [1 x 1]. Backward sums b's gradient over
/// the broadcast dimension.
/// </summary>
public sealed class BinaryNode : Node
{
    internal BinaryNode(Graph g, BinaryKind kind, Node a, Node b) : base(g, kind.ToString(), a, b)
    {
        Function = kind;
    }

    public BinaryKind Function { get; }
    private Node A => Inputs[0];
    private Node B => Inputs[1];

    protected internal override (int Rows, int Cols) InferShape()
    {
        bool rowsOk = B.Rows == A.Rows || B.Rows == 1;
        bool colsOk = B.Cols == A.Cols || B.Cols == 1;
        if (!rowsOk || !colsOk)
            throw Mismatch($"cannot combine {A.Value.Shape} with {B.Value.Shape}; the second operand must be the same shape, [1 x {A.Cols}], [{A.Rows} x 1] or [1 x 1].");
        return (A.Rows, A.Cols);
    }

    /// <summary>Index into b (of shape [bRows x bCols], broadcast) for element (r, c) of a.</summary>
    private static int BIndex(int r, int c, int bRows, int bCols) => (bRows == 1 ? 0 : r) * bCols + (bCols == 1 ? 0 : c);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> a = A.Value.Span, b = B.Value.Span;
        var z = Value.Span;
        int rows = Rows, cols = Cols, bRows = B.Rows, bCols = B.Cols;
        if (B.Rows == rows && B.Cols == cols)
        {
            switch (Function)
            {
                case BinaryKind.Add: Kernels.Map<Kernels.AddOp>(a, b, z); break;
                case BinaryKind.Subtract: Kernels.Map<Kernels.SubtractOp>(a, b, z); break;
                case BinaryKind.Multiply: Kernels.Map<Kernels.MultiplyOp>(a, b, z); break;
                case BinaryKind.Divide: Kernels.Map<Kernels.DivideOp>(a, b, z); break;
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
        {
            int i = r * cols + c;
            float bv = b[BIndex(r, c, bRows, bCols)];
            z[i] = Function switch
            {
                BinaryKind.Add => a[i] + bv,
                BinaryKind.Subtract => a[i] - bv,
                BinaryKind.Multiply => a[i] * bv,
                _ => a[i] / bv,
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> a = A.Value.Span, b = B.Value.Span, dz = Grad!.Span;
        int rows = Rows, cols = Cols, bRows = B.Rows, bCols = B.Cols;
        if (B.Rows == rows && B.Cols == cols && Function != BinaryKind.Divide)
        {
            // Same shapes (z = mu + sigma * eps and the like): whole-tensor kernels.
            if (A.RequiresGrad)
            {
                var da = GradOf(A);
                if (Function == BinaryKind.Multiply) Kernels.MultiplyAdd(dz, b, da); // d(ab)/da = b
                else Kernels.AddInPlace(da, dz);
            }
            if (B.RequiresGrad)
            {
                var db = GradOf(B);
                if (Function == BinaryKind.Multiply) Kernels.MultiplyAdd(dz, a, db); // d(ab)/db = a
                else if (Function == BinaryKind.Add) Kernels.AddInPlace(db, dz);
                else Kernels.Map<Kernels.SubtractOp>(db, dz, db);
            }
            return;
        }
        if (A.RequiresGrad)
        {
            var da = GradOf(A);
            for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                da[i] += Function switch
                {
                    BinaryKind.Add or BinaryKind.Subtract => dz[i],
                    BinaryKind.Multiply => dz[i] * b[BIndex(r, c, bRows, bCols)], // d(ab)/da = b
                    _ => dz[i] / b[BIndex(r, c, bRows, bCols)],                   // d(a/b)/da = 1/b
                };
            }
        }
        if (B.RequiresGrad)
        {
            var db = GradOf(B);
            for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c, j = BIndex(r, c, bRows, bCols);
                db[j] += Function switch
                {
                    BinaryKind.Add => dz[i],
                    BinaryKind.Subtract => -dz[i],
                    BinaryKind.Multiply => dz[i] * a[i],              // d(ab)/db = a
                    _ => -dz[i] * a[i] / (b[j] * b[j]),               // d(a/b)/db = -a/b^2
                };
            }
        }
    }
}

using System.Runtime.CompilerServices;
namespace VaeTools.Engine.Ops;

/// <summary>
/// Y = op(A) · op(B). Shapes: op(A) is [m x k], op(B) is [k x n], Y is [m x n].
/// Backward: dA += dY · op(B)^T (transposed back as needed), dB += op(A)^T · dY.
/// </summary>
public sealed class MatMulNode : Node
{
    private readonly bool _transA, _transB;

    internal MatMulNode(Graph g, Node a, Node b, bool transA, bool transB) : base(g, "MatMul", a, b)
    {
        _transA = transA;
        _transB = transB;
    }

    private Node A => Inputs[0];
    private Node B => Inputs[1];

    protected internal override (int Rows, int Cols) InferShape()
    {
        int m = _transA ? A.Cols : A.Rows, ka = _transA ? A.Rows : A.Cols;
        int kb = _transB ? B.Cols : B.Rows, n = _transB ? B.Rows : B.Cols;
        if (ka != kb)
            throw Mismatch($"inner dimensions differ: {(_transA ? "A^T" : "A")} of {A.Value.Shape} times {(_transB ? "B^T" : "B")} of {B.Value.Shape}.");
        return (m, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        int k = _transA ? A.Rows : A.Cols;
        Gemm.Multiply(_transA, _transB, Rows, Cols, k, A.Value.Span, A.Cols, B.Value.Span, B.Cols, Value.Span, Cols, accumulate: false, Graph.Pool);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        var dy = Grad!;
        int m = Rows, n = Cols, k = _transA ? A.Rows : A.Cols;
        if (A.RequiresGrad)
        {
            // op(A) = dY · op(B)^T : [m x k]
            if (!_transA)
                Gemm.Multiply(false, !_transB, m, k, n, dy.Span, n, B.Value.Span, B.Cols, A.Grad!.Span, A.Cols, AccumulateInto(A), Graph.Pool);
            else // A is [k x m]: dA = op(B) · dY^T
                Gemm.Multiply(_transB, true, k, m, n, B.Value.Span, B.Cols, dy.Span, n, A.Grad!.Span, A.Cols, AccumulateInto(A), Graph.Pool);
        }
        if (B.RequiresGrad)
        {
            // op(B) = op(A)^T · dY : [k x n]
            if (!_transB)
                Gemm.Multiply(!_transA, false, k, n, m, A.Value.Span, A.Cols, dy.Span, n, B.Grad!.Span, B.Cols, AccumulateInto(B), Graph.Pool);
            else // B is [n x k]: dB = dY^T · op(A)
                Gemm.Multiply(true, _transA, n, k, m, dy.Span, n, A.Value.Span, A.Cols, B.Grad!.Span, B.Cols, AccumulateInto(B), Graph.Pool);
        }
    }
}

/// <summary>
/// A fully connected layer with PyTorch's weight layout: Y[B x out] = X[B x in] · W[out x in]^T + b[1 x out].
/// Backward: dX += dY · W, dW += dY^T · X, db += column sums of dY.
/// </summary>
public sealed class LinearNode : Node
{
    internal LinearNode(Graph g, Node x, Node weight, Node bias) : base(g, "Linear", x, weight, bias) { }

    private Node X => Inputs[0];
    private Node W => Inputs[1];
    private Node Bias => Inputs[2];

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (X.Cols != W.Cols)
            throw Mismatch($"the input {X.Value.Shape} has {X.Cols} features but the weight {W.Value.Shape} expects {W.Cols} (weights are [out x in]).");
        if (Bias.Rows != 1 || Bias.Cols != W.Rows)
            throw Mismatch($"the bias {Bias.Value.Shape} does not fit the weight {W.Value.Shape}; expected [1 x {W.Rows}].");
        return (X.Rows, W.Rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        // Y starts as the bias in every row; the product accumulates onto it.
        var y = Value.Span;
        var b = Bias.Value.Span;
        int n = Cols;
        for (int r = 0; r < Rows; r++) b.CopyTo(y.Slice(r * n, n));
        Gemm.Multiply(false, true, Rows, n, X.Cols, X.Value.Span, X.Cols, W.Value.Span, W.Cols, y, n, accumulate: true, Graph.Pool);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        var dy = Grad!.Span;
        int batch = Rows, outs = Cols, ins = X.Cols;
        if (X.RequiresGrad) // dX[B x in] += dY[B x out] · W[out x in]
            Gemm.Multiply(false, false, batch, ins, outs, dy, outs, W.Value.Span, ins, X.Grad!.Span, ins, AccumulateInto(X), Graph.Pool);
        if (W.RequiresGrad) // dW[out x in] += dY^T[out x B] · X[B x in]
            Gemm.Multiply(true, false, outs, ins, batch, dy, outs, X.Value.Span, ins, W.Grad!.Span, ins, AccumulateInto(W), Graph.Pool);
        if (Bias.RequiresGrad)
        {
            var db = GradOf(Bias);
            for (int r = 0; r < batch; r++) Kernels.AddInPlace(db, dy.Slice(r * outs, outs));
        }
    }
}

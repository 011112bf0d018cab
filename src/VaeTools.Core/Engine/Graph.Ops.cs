using VaeTools.Engine.Ops;

namespace VaeTools.Engine;

// The operations model code is written in. Shapes: [rows x cols]; B = batch.
public sealed partial class Graph
{
    /// <summary>op(a) · op(b): [m x k] · [k x n] -> [m x n].</summary>
    public Node MatMul(Node a, Node b, bool transposeA = false, bool transposeB = false) =>
        AddOp(new MatMulNode(this, a, b, transposeA, transposeB));

    /// <summary>x · W^T + b with PyTorch's layout: x [B x in], W [out x in], b [1 x out] -> [B x out].</summary>
    public Node Linear(Node x, Node weight, Node bias) => AddOp(new LinearNode(this, x, weight, bias));

    /// <summary>
    /// x · Wt + b with the weight stored input-major: x [B x in], Wt [in x out], b [1 x out]. With
    /// <paramref name="skipZeros"/> (a layer fed with data) zero inputs cost nothing; see <see cref="InputMajorLinearNode"/>.
    /// </summary>
    public InputMajorLinearNode InputMajorLinear(Node x, Node weightT, Node bias, bool skipZeros = false) =>
        AddOp(new InputMajorLinearNode(this, x, weightT, bias, skipZeros));

    /// <summary>
    /// torch.nn.functional.conv2d: x [B x Cin*H*W] (images channel-major), weight [Cout x Cin*k*k] (PyTorch's
    /// [Cout, Cin, k, k]), bias [1 x Cout] -> [B x Cout*Ho*Wo], Ho = floor((H + 2p - k) / s) + 1.
    /// </summary>
    public Conv2dNode Conv2d(Node x, Node weight, Node bias, ConvGeometry geometry) =>
        AddOp(new Conv2dNode(this, x, weight, bias, geometry));

    /// <summary>
    /// torch.nn.functional.conv_transpose2d: x [B x Cin*H*W], weight [Cin x Cout*k*k] (PyTorch's [Cin, Cout, k, k]),
    /// bias [1 x Cout] -> [B x Cout*Ho*Wo], Ho = (H - 1) s - 2p + k + output padding.
    /// </summary>
    public ConvTranspose2dNode ConvTranspose2d(Node x, Node weight, Node bias, ConvGeometry geometry) =>
        AddOp(new ConvTranspose2dNode(this, x, weight, bias, geometry));

    public Node Relu(Node x) => AddOp(new UnaryNode(this, UnaryKind.Relu, x));
    public Node LeakyRelu(Node x, float slope = 0.01f) => AddOp(new UnaryNode(this, UnaryKind.LeakyRelu, x, slope));
    public Node Tanh(Node x) => AddOp(new UnaryNode(this, UnaryKind.Tanh, x));
    public Node Elu(Node x, float alpha = 1f) => AddOp(new UnaryNode(this, UnaryKind.Elu, x, alpha));
    public Node Softplus(Node x) => AddOp(new UnaryNode(this, UnaryKind.Softplus, x));
    public Node Sigmoid(Node x) => AddOp(new UnaryNode(this, UnaryKind.Sigmoid, x));
    public Node Exp(Node x) => AddOp(new UnaryNode(this, UnaryKind.Exp, x));
    public Node Log(Node x) => AddOp(new UnaryNode(this, UnaryKind.Log, x));
    public Node Square(Node x) => AddOp(new UnaryNode(this, UnaryKind.Square, x));
    public Node Abs(Node x) => AddOp(new UnaryNode(this, UnaryKind.Abs, x));
    public Node Negate(Node x) => AddOp(new UnaryNode(this, UnaryKind.Negate, x));

    /// <summary>factor · x. The returned node's <see cref="UnaryNode.Parameter"/> may be changed between steps.</summary>
    public UnaryNode Scale(Node x, float factor) => AddOp(new UnaryNode(this, UnaryKind.Scale, x, factor));

    public UnaryNode AddScalar(Node x, float addend) => AddOp(new UnaryNode(this, UnaryKind.AddScalar, x, addend));

    /// <summary>a + b; b may be the same shape, a row [1 x c], a column [r x 1] or a scalar [1 x 1].</summary>
    public Node Add(Node a, Node b) => AddOp(new BinaryNode(this, BinaryKind.Add, a, b));
    public Node Subtract(Node a, Node b) => AddOp(new BinaryNode(this, BinaryKind.Subtract, a, b));
    public Node Multiply(Node a, Node b) => AddOp(new BinaryNode(this, BinaryKind.Multiply, a, b));
    public Node Divide(Node a, Node b) => AddOp(new BinaryNode(this, BinaryKind.Divide, a, b));

    public Node Sum(Node x, Axis axis = Axis.All) => AddOp(new SumNode(this, x, axis, mean: false));
    public SumNode Mean(Node x, Axis axis = Axis.All) => AddOp(new SumNode(this, x, axis, mean: true));
    public Node LogSumExp(Node x, Axis axis) => AddOp(new LogSumExpNode(this, x, axis));

    public Node ColumnSlice(Node x, int start, int count) => AddOp(new ColumnSliceNode(this, x, start, count));
    public Node Reshape(Node x, int rows, int cols) => AddOp(new ReshapeNode(this, x, rows, cols));

    /// <summary>x stacked <paramref name="times"/> times along the rows: [B x c] -> [times*B x c].</summary>
    public Node RepeatRows(Node x, int times) => AddOp(new RepeatRowsNode(this, x, times));

    /// <summary>Per-row Bernoulli log-likelihood of targets under logits: [B x D], [B x D] -> [B x 1].</summary>
    public Node BernoulliLogLikelihood(Node logits, Node targets) => AddOp(new BernoulliLogLikelihoodNode(this, logits, targets));

    /// <summary>Per-row Gaussian log-density of x under N(mean, e^logVariance): -> [B x 1].</summary>
    public Node GaussianLogDensity(Node x, Node mean, Node logVariance) => AddOp(new GaussianLogDensityNode(this, x, mean, logVariance));

    /// <summary>Per-row KL(N(mean, e^logVariance) || N(0, I)): [B x P], [B x P] -> [B x 1].</summary>
    public Node KlStandardNormal(Node mean, Node logVariance) => AddOp(new KlStandardNormalNode(this, mean, logVariance));

    /// <summary>Per-row KL between two diagonal Gaussians given means and log-variances: -> [B x 1].</summary>
    public Node KlDiagonalGaussian(Node mean1, Node logVariance1, Node mean2, Node logVariance2) =>
        AddOp(new KlDiagonalGaussianNode(this, mean1, logVariance1, mean2, logVariance2));
}

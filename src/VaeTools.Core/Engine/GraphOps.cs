using VaeTools.Engine.Ops;
using VaeTools.Model;

namespace VaeTools.Engine;

/// <summary>
/// The managed engine's side of the seam: each call adds an op to a static <see cref="Graph"/>, which is then run
/// forward and backward many times with no per-step cost. Layers resolve to the model's <see cref="LinearLayer"/>s, whose
/// weight layout (input-major for the data-fed and output layers, zero inputs skipped) stays on this side.
/// </summary>
public sealed class GraphOps : IVaeOps<Node>
{
    private readonly VaeModel? _model;

    /// <param name="graph">The graph the ops are recorded into.</param>
    /// <param name="model">Whose layers and parameters <see cref="Linear"/>, the convolutions and <see cref="Parameter"/> use; null for maths without weights.</param>
    public GraphOps(Graph graph, VaeModel? model)
    {
        Graph = graph;
        _model = model;
    }

    public Graph Graph { get; }

    private VaeModel Model => _model ?? throw new InvalidOperationException("These graph ops were made without a model, so they have no layers or parameters.");

    public Node Linear(Node x, string layer) => Model.Layer(layer).Apply(Graph, x);
    public Node Conv2d(Node x, string layer, ConvGeometry geometry) =>
        Graph.Conv2d(x, Parameter(layer + ".weight"), Parameter(layer + ".bias"), geometry);
    public Node ConvTranspose2d(Node x, string layer, ConvGeometry geometry) =>
        Graph.ConvTranspose2d(x, Parameter(layer + ".weight"), Parameter(layer + ".bias"), geometry);
    public Node Parameter(string name) => Graph.Param(Model.GetParameter(name));
    public Node Constant(string name, int rows, int cols, float value) => Graph.Constant(name, rows, cols, value);
    // Parameters and constants have their shape while the graph is built; other nodes only after the first forward pass.
    public bool IsScalar(Node x) => x.Rows == 1 && x.Cols == 1;

    public Node Relu(Node x) => Graph.Relu(x);
    public Node LeakyRelu(Node x, float slope) => Graph.LeakyRelu(x, slope);
    public Node Tanh(Node x) => Graph.Tanh(x);
    public Node Elu(Node x) => Graph.Elu(x);
    public Node Softplus(Node x) => Graph.Softplus(x);
    public Node Sigmoid(Node x) => Graph.Sigmoid(x);
    public Node Exp(Node x) => Graph.Exp(x);
    public Node Square(Node x) => Graph.Square(x);
    public Node Abs(Node x) => Graph.Abs(x);
    public Node Negate(Node x) => Graph.Negate(x);
    public Node Scale(Node x, float factor) => Graph.Scale(x, factor);
    public Node AddScalar(Node x, float addend) => Graph.AddScalar(x, addend);
    public Node Add(Node a, Node b) => Graph.Add(a, b);
    public Node Subtract(Node a, Node b) => Graph.Subtract(a, b);
    public Node Multiply(Node a, Node b) => Graph.Multiply(a, b);
    public Node Sum(Node x, Axis axis) => Graph.Sum(x, axis);
    public Node Mean(Node x) => Graph.Mean(x);
    public Node LogSumExp(Node x, Axis axis) => Graph.LogSumExp(x, axis);
    public Node ColumnSlice(Node x, int start, int count) => Graph.ColumnSlice(x, start, count);
    public Node Reshape(Node x, int rows, int cols) => Graph.Reshape(x, rows, cols);
    public Node RepeatRows(Node x, int times) => Graph.RepeatRows(x, times);
    public Node MatMulTransposeB(Node a, Node b) => Graph.MatMul(a, b, transposeB: true);
    public Node BernoulliLogLikelihood(Node logits, Node targets) => Graph.BernoulliLogLikelihood(logits, targets);
    public Node GaussianLogDensity(Node x, Node mean, Node logVariance) => Graph.GaussianLogDensity(x, mean, logVariance);
    public Node KlStandardNormal(Node mean, Node logVariance) => Graph.KlStandardNormal(mean, logVariance);
    public Node Normal(Node like, int cols) => Graph.Normal(like, cols);
    public Node Normal(int rows, int cols) => Graph.Normal(rows, cols);
    public Node Laplace(int rows, int cols, float tau) => Graph.Laplace(rows, cols, tau);
}

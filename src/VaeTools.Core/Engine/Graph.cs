using System.Runtime.CompilerServices;
namespace VaeTools.Engine;

/// <summary>
/// A trainable tensor shared by every graph that uses it: its value and the gradient
/// that <see cref="Graph.Backward"/> accumulates into.
/// </summary>
public sealed class Parameter
{
    /// <param name="name">Stable name, e.g. "encoder.hidden.0.weight".</param>
    /// <param name="value">The values (kept, not copied).</param>
    /// <param name="inputMajor">The value is a weight held as [in x out], the transpose of the [out x in] layout files use.</param>
    public Parameter(string name, Tensor value, bool inputMajor = false)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Value = value ?? throw new ArgumentNullException(nameof(value));
        Grad = new Tensor(value.Rows, value.Cols);
        InputMajor = inputMajor;
    }

    /// <summary>True when Value is [in x out]; model files store the transpose, PyTorch's [out x in].</summary>
    public bool InputMajor { get; }

    /// <summary>Stable name, e.g. "encoder.0.weight"; used in model files.</summary>
    public string Name { get; }
    public Tensor Value { get; }
    public Tensor Grad { get; }
    public override string ToString() => $"{Name} {Value.Shape}";
}

/// <summary>
/// One operation in a <see cref="Graph"/>. Each op computes its output shape from its inputs'
/// current shapes, writes its value in <see cref="Forward"/>, and in <see cref="Backward"/> adds
/// its contribution to the gradients of those inputs that need one. Forward and backward of an op
/// live side by side in one class, so the derivative can be read next to the function.
/// </summary>
public abstract class Node
{
    private protected Node(Graph graph, string kind, params Node[] inputs)
    {
        Graph = graph;
        Kind = kind;
        Inputs = inputs;
        foreach (var input in inputs)
        {
            ArgumentNullException.ThrowIfNull(input);
            if (input.Graph != graph)
                throw new ArgumentException($"{kind}: input {input.Kind} belongs to another graph.");
        }
        RequiresGrad = inputs.Any(i => i.RequiresGrad);
        Value = new Tensor(0, 0);
    }

    public Graph Graph { get; }
    /// <summary>Operation name, e.g. "Linear", used in error messages.</summary>
    public string Kind { get; }
    public IReadOnlyList<Node> Inputs { get; }
    /// <summary>Output of the last forward pass.</summary>
    public Tensor Value { get; private protected set; }
    /// <summary>d(loss)/d(Value) after a backward pass; null when nothing upstream is trainable.</summary>
    public Tensor? Grad { get; private protected set; }
    public bool RequiresGrad { get; private protected set; }
    internal int Index { get; set; }
    /// <summary>The nodes this one depends on (itself included), in order; computed on first use.</summary>
    internal Node[]? Plan { get; set; }

    public int Rows => Value.Rows;
    public int Cols => Value.Cols;

    /// <summary>The output shape for the inputs' current shapes; throws <see cref="ShapeMismatchException"/> when they do not fit.</summary>
    protected internal abstract (int Rows, int Cols) InferShape();

    protected internal abstract void Forward();

    /// <summary>Adds d(loss)/d(input) into each trainable input's Grad, given this node's Grad.</summary>
    /// <remarks>
    /// Write input gradients through <see cref="GradOf"/> (to add into them) or pass <see cref="AccumulateInto"/>
    /// as a product's accumulate flag (to let the first writer overwrite): Backward does not clear buffers up front.
    /// </remarks>
    protected internal abstract void Backward();

    /// <summary>
    /// True while this node's Grad holds nothing yet in the current backward pass (read it as zero).
    /// Backward marks every gradient pending instead of clearing it; the first op to write one either
    /// overwrites it (a matrix product, <see cref="AccumulateInto"/>) or clears it first (<see cref="GradOf"/>).
    /// </summary>
    internal bool GradPending { get; set; }

    /// <summary><paramref name="input"/>'s gradient, ready to be added into (cleared on first use in a pass).</summary>
    private protected static Span<float> GradOf(Node input)
    {
        if (input.GradPending)
        {
            input.Grad!.Clear();
            input.GradPending = false;
        }
        return input.Grad!.Span;
    }

    /// <summary>
    /// The accumulate flag for a product that writes <paramref name="input"/>'s whole gradient: false (overwrite)
    /// for the first writer of the pass, true after.
    /// </summary>
    private protected static bool AccumulateInto(Node input)
    {
        bool accumulate = !input.GradPending;
        input.GradPending = false;
        return accumulate;
    }

    /// <summary>Sizes Value for the current inputs; allocates only when a buffer must grow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal virtual void Prepare()
    {
        var (r, c) = InferShape();
        Value.Resize(r, c);
    }

    /// <summary>
    /// Sizes Grad like Value. Called by Backward only, so a graph used for inference alone
    /// never holds gradient buffers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal virtual void PrepareGrad()
    {
        Grad ??= new Tensor(0, 0);
        Grad.Resize(Value.Rows, Value.Cols);
    }

    private protected ShapeMismatchException Mismatch(string what) =>
        new($"{Kind}: {what}");

    public override string ToString() => $"{Kind}{Value.Shape}";
}

/// <summary>A value fed in from outside (a data batch, a latent code); never trainable.</summary>
public sealed class InputNode : Node
{
    internal InputNode(Graph graph, string name, int cols) : base(graph, "Input " + name)
    {
        Name = name;
        Value = new Tensor(0, cols);
    }

    public string Name { get; }

    /// <summary>Resizes the input to [rows x Cols] (allocating only to grow) and returns its tensor to fill.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Tensor SetRows(int rows)
    {
        Value.Resize(rows, Value.Cols);
        return Value;
    }

    /// <summary>Copies <paramref name="value"/> in; its width must match this input's.</summary>
    public void Set(Tensor value)
    {
        if (value.Cols != Value.Cols)
            throw new ShapeMismatchException($"Input '{Name}' takes rows of width {Value.Cols}; got a {value.Shape} tensor.");
        Value.Resize(value.Rows, value.Cols);
        value.Span.CopyTo(Value.Span);
    }

    protected internal override (int Rows, int Cols) InferShape() => (Value.Rows, Value.Cols);
    protected internal override void Forward() { }
    protected internal override void Backward() { }
}

/// <summary>A trainable parameter inside a graph; its Grad is the parameter's own gradient tensor.</summary>
public sealed class ParameterNode : Node
{
    internal ParameterNode(Graph graph, Parameter parameter) : base(graph, "Parameter " + parameter.Name)
    {
        Parameter = parameter;
        Value = parameter.Value;
        Grad = parameter.Grad;
        RequiresGrad = true;
    }

    public Parameter Parameter { get; }
    internal override void Prepare() { }
    internal override void PrepareGrad() { }
    protected internal override (int Rows, int Cols) InferShape() => (Value.Rows, Value.Cols);
    protected internal override void Forward() { }
    protected internal override void Backward() { }
}

/// <summary>Fresh noise with as many rows as <c>like</c> at every forward pass, drawn from the graph's random source.</summary>
public sealed class NoiseNode : Node
{
    private readonly int _cols;

    internal NoiseNode(Graph graph, Node like, int cols, NoiseKind kind, float scale = 1f) : base(graph, "Noise", like)
    {
        Scale = scale;
        _cols = cols;
        NoiseKind = kind;
        RequiresGrad = false;
    }

    public NoiseKind NoiseKind { get; }
    /// <summary>tau of Laplace noise.</summary>
    public float Scale { get; }

    protected internal override (int Rows, int Cols) InferShape() => (Inputs[0].Rows, _cols);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        var v = Value.Span;
        switch (NoiseKind)
        {
            case NoiseKind.StandardNormal: Graph.Random.FillNormal(v); break;
            case NoiseKind.CenteredUniform: Graph.Random.FillUniform(v, -0.5f, 0.5f); break;
            case NoiseKind.Laplace: Graph.Random.FillLaplace(v, Scale); break;
        }
    }

    protected internal override void Backward() { }
}

public enum NoiseKind
{
    /// <summary>N(0, 1) per element.</summary>
    StandardNormal,
    /// <summary>Uniform(-1/2, 1/2) per element.</summary>
    CenteredUniform,
    /// <summary>Laplace(0, tau) per element, drawn as -tau sign(u) ln(1 - 2|u|), u ~ Uniform(-1/2, 1/2).</summary>
    Laplace,
}

/// <summary>
/// A computation graph built once and run many times: nodes are created in order (so creation
/// order is a topological order), every buffer is sized on the first pass and reused after, and
/// nothing is allocated per step. Run <see cref="Forward(Node)"/> then <see cref="Backward"/>.
/// Model code is written only against the operations on this class (see Graph.Ops.cs), so that
/// another backend could provide the same small set.
/// </summary>
public sealed partial class Graph
{
    private readonly List<Node> _nodes = new();

    public Graph(WorkerPool? pool = null, RandomSource? random = null)
    {
        Pool = pool ?? WorkerPool.Single;
        Random = random ?? new RandomSource(0);
    }

    /// <summary>Threads for matrix products.</summary>
    public WorkerPool Pool { get; set; }

    /// <summary>The source that noise nodes draw from, in node order.</summary>
    public RandomSource Random { get; set; }

    /// <summary>When set, every forward and backward op is timed into it (for the benchmark's --profile).</summary>
    public OpProfile? Profile { get; set; }

    public IReadOnlyList<Node> Nodes => _nodes;

    private T Add<T>(T node) where T : Node
    {
        node.Index = _nodes.Count;
        _nodes.Add(node);
        return node;
    }

    public InputNode Input(string name, int cols)
    {
        if (cols <= 0) throw new ArgumentOutOfRangeException(nameof(cols), $"Input '{name}' needs a positive width; got {cols}.");
        return Add(new InputNode(this, name, cols));
    }

    /// <summary>A fixed [rows x cols] tensor filled with <paramref name="value"/> (not trainable).</summary>
    public InputNode Constant(string name, int rows, int cols, float value)
    {
        var node = Input(name, cols);
        node.SetRows(rows).Fill(value);
        return node;
    }

    private readonly Dictionary<Parameter, ParameterNode> _parameterNodes = new();

    /// <summary>
    /// Stand-ins for parameters: when set, Param(p) uses Substitutes[p] instead of p. A data-parallel
    /// replica maps each model parameter to one that shares its value but has its own gradient.
    /// </summary>
    public IReadOnlyDictionary<Parameter, Parameter>? Substitutes { get; set; }

    public ParameterNode Param(Parameter parameter)
    {
        if (Substitutes is not null && Substitutes.TryGetValue(parameter, out var stand)) parameter = stand;
        if (_parameterNodes.TryGetValue(parameter, out var node)) return node;
        node = Add(new ParameterNode(this, parameter));
        _parameterNodes.Add(parameter, node);
        return node;
    }

    /// <summary>The parameters this graph uses, in the order they were added.</summary>
    public IEnumerable<Parameter> Parameters => _parameterNodes.Keys;

    /// <summary>Laplace(0, tau) noise of a fixed shape [rows x cols], redrawn at every forward pass.</summary>
    public NoiseNode Laplace(int rows, int cols, float tau) => Add(new NoiseNode(this, Constant("rows", rows, 1, 0f), cols, NoiseKind.Laplace, tau));

    /// <summary>N(0, 1) noise of a fixed shape [rows x cols], redrawn at every forward pass.</summary>
    public NoiseNode Normal(int rows, int cols) => Add(new NoiseNode(this, Constant("rows", rows, 1, 0f), cols, NoiseKind.StandardNormal));

    /// <summary>N(0, 1) noise of shape [like.Rows x cols], redrawn at every forward pass.</summary>
    public NoiseNode Normal(Node like, int cols) => Add(new NoiseNode(this, like, cols, NoiseKind.StandardNormal));

    /// <summary>Uniform(-1/2, 1/2) noise of shape [like.Rows x cols], redrawn at every forward pass.</summary>
    public NoiseNode CenteredUniform(Node like, int cols) => Add(new NoiseNode(this, like, cols, NoiseKind.CenteredUniform));

    internal T AddOp<T>(T node) where T : Node => Add(node);

    /// <summary>The nodes <paramref name="target"/> depends on (itself included), in order. Computed once per target.</summary>
    private Node[] Plan(Node target)
    {
        if (target.Graph != this) throw new ArgumentException("The node belongs to another graph.", nameof(target));
        return target.Plan ??= ComputePlan(target);
    }

    // Kept apart from Plan: its lambda's closure would otherwise be allocated on every call.
    private Node[] ComputePlan(Node target)
    {
        var needed = new bool[_nodes.Count];
        needed[target.Index] = true;
        for (int i = target.Index; i >= 0; i--)
        {
            if (!needed[i]) continue;
            foreach (var input in _nodes[i].Inputs) needed[input.Index] = true;
        }
        return _nodes.Where(n => needed[n.Index]).ToArray();
    }

    /// <summary>Runs every node that <paramref name="target"/> depends on, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(Node target)
    {
        var profile = Profile;
        foreach (var node in Plan(target))
        {
            long start = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            node.Prepare();
            node.Forward();
            profile?.Add(node, backward: false, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>
    /// Back-propagates from the scalar <paramref name="loss"/> (a [1 x 1] node): zeroes the
    /// gradients of every node and parameter it depends on, seeds d(loss)/d(loss) = 1 and runs
    /// each op's backward in reverse order. Parameter gradients are overwritten, not accumulated
    /// across calls. Call <see cref="Forward"/> on the same loss first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(Node loss)
    {
        if (loss.Rows != 1 || loss.Cols != 1)
            throw new ShapeMismatchException($"Backward needs a scalar [1 x 1] loss; {loss.Kind} is {loss.Value.Shape}.");
        if (!loss.RequiresGrad)
            throw new InvalidOperationException($"{loss.Kind} does not depend on any parameter, so there is nothing to differentiate.");
        var plan = Plan(loss);
        foreach (var node in plan)
        {
            if (!node.RequiresGrad) continue;
            node.PrepareGrad();
            node.GradPending = true; // read as zero until an op writes it; nothing is cleared up front
        }
        loss.Grad!.Span[0] = 1f;
        loss.GradPending = false;
        var profile = Profile;
        for (int i = plan.Length - 1; i >= 0; i--)
        {
            var node = plan[i];
            if (!node.RequiresGrad || node.GradPending) continue; // a pending gradient is zero: nothing flows back
            long start = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            node.Backward();
            profile?.Add(node, backward: true, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
        foreach (var node in plan)
        {
            if (node is not ParameterNode || !node.GradPending) continue;
            node.Grad!.Clear(); // a parameter the loss does not reach gets a zero gradient, not stale values
            node.GradPending = false;
        }
    }
}

/// <summary>Time spent per op of a graph, forward and backward, summed over runs.</summary>
public sealed class OpProfile
{
    private readonly Dictionary<(string Op, bool Backward), (long Ticks, long Calls)> _times = new();

    internal void Add(Node node, bool backward, long ticks) =>
        Add(node.Inputs.Count == 0 ? node.Kind : $"{node.Kind} -> {node.Cols} cols", ticks, backward);

    /// <summary>Also record a step outside any graph (e.g. the optimiser).</summary>
    public void Add(string what, long ticks, bool backward = false)
    {
        _times.TryGetValue((what, backward), out var t);
        _times[(what, backward)] = (t.Ticks + ticks, t.Calls + 1);
    }

    /// <summary>
    /// Adds the time since <paramref name="since"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp) to
    /// <paramref name="what"/> when there is a profile; returns the time now, where the next phase starts.
    /// </summary>
    public static long Lap(OpProfile? profile, string what, long since)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        profile?.Add(what, now - since);
        return now;
    }

    /// <summary>(op, backward, total seconds, calls), slowest first.</summary>
    public IEnumerable<(string Op, bool Backward, double Seconds, long Calls)> Entries =>
        _times.OrderByDescending(e => e.Value.Ticks)
            .Select(e => (e.Key.Op, e.Key.Backward, e.Value.Ticks / (double)System.Diagnostics.Stopwatch.Frequency, e.Value.Calls));
}

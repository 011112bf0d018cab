using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VaeTools.Engine;

public enum OptimizerKind { Adam, Sgd, Adagrad }

/// <summary>
/// Updates parameters from their gradients with PyTorch's semantics (torch.optim, defaults included).
/// State (moments, step count) is kept per parameter and can be saved and restored for checkpoints.
/// </summary>
public abstract class Optimizer
{
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        Parameters = parameters.ToArray();
        if (Parameters.Count == 0) throw new ArgumentException("An optimiser needs at least one parameter.", nameof(parameters));
        if (!(learningRate > 0) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        LearningRate = learningRate;
    }

    public IReadOnlyList<Parameter> Parameters { get; }
    public float LearningRate { get; set; }
    /// <summary>Number of updates made so far.</summary>
    public long StepCount { get; protected set; }
    public abstract OptimizerKind Kind { get; }

    /// <summary>Optimiser state smaller than this in magnitude is stored as 0 (see <see cref="AdamOptimizer"/>).</summary>
    public const float FlushBelow = 1e-30f;

    /// <summary>
    /// 2^-126, the smallest normal float, with a 1% margin for the rounding of a product: a product of two floats
    /// meant to be at least this large is not subnormal. The optimisers drop gradient terms that would fall below it
    /// (an x86 core takes a ~100-cycle microcode assist for every subnormal result).
    /// </summary>
    protected const float NormalProductFloor = 1.17549435e-38f * 1.01f;

    /// <summary>Threads for the update (element-wise, so results do not depend on the count).</summary>
    public WorkerPool Pool { get; set; } = WorkerPool.Single;

    /// <summary>Applies one update using each parameter's current Grad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step()
    {
        StepCount++;
        BeginStep();
        try
        {
            if (Pool.Threads == 1) Update(0, 1);
            else Pool.Run(_parallel ??= new ParallelUpdate(this));
        }
        finally
        {
            _addedCount = 0; // added gradients apply to one step only
        }
    }

    private ParallelUpdate? _parallel;

    private sealed class ParallelUpdate(Optimizer owner) : IParallelTask
    {
        public void Execute(int part, int parts) => owner.Update(part, parts);
    }

    private Tensor[][]? _addedGradients;
    private int _addedCount;

    /// <summary>
    /// Gradients to add into each parameter's Grad before the next <see cref="Step"/> uses it: <paramref name="sources"/>[s][i]
    /// is source s's gradient of parameter i, and the first <paramref name="count"/> sources are added in order.
    /// Data-parallel training hands over its other replicas' gradients here, so the sum is made chunk by chunk
    /// just before the update reads it (while it is in cache) instead of in a pass of its own.
    /// </summary>
    public void AddGradientsOnNextStep(Tensor[][] sources, int count)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (count < 0 || count > sources.Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"Between 0 and {sources.Length} sources.");
        for (int s = 0; s < count; s++)
        {
            if (sources[s].Length != Parameters.Count)
                throw new ArgumentException($"Gradient source {s} has {sources[s].Length} tensors for {Parameters.Count} parameters.", nameof(sources));
            for (int i = 0; i < Parameters.Count; i++)
                if (sources[s][i].Length != Parameters[i].Grad.Length)
                    throw new ShapeMismatchException($"Gradient source {s} for {Parameters[i].Name} is {sources[s][i].Shape}; the parameter is {Parameters[i].Value.Shape}.");
        }
        _addedGradients = sources;
        _addedCount = count;
    }

    /// <summary>Values summed then updated at a time: small enough to stay in L1 between the two.</summary>
    private const int Chunk = 4096;

    /// <summary>Updates this part's share of every parameter (chunks aligned to 16 values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Update(int part, int parts)
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            int n = Parameters[i].Value.Length;
            var (start, end) = Partition.Range(n, part, parts);
            for (int c = start; c < end; c += Chunk)
            {
                int count = Math.Min(Chunk, end - c);
                if (_addedCount > 0)
                {
                    var g = Parameters[i].Grad.Span.Slice(c, count);
                    for (int s = 0; s < _addedCount; s++)
                        Ops.Kernels.AddInPlace(g, _addedGradients![s][i].Span.Slice(c, count));
                }
                UpdateRange(i, c, count);
            }
        }
    }

    /// <summary>Computes the per-step scalars (bias corrections, decayed rates); StepCount is already incremented.</summary>
    protected virtual void BeginStep() { }

    /// <summary>Updates values [start, start + count) of parameter <paramref name="index"/>.</summary>
    protected abstract void UpdateRange(int index, int start, int count);

    /// <summary>Named state tensors (e.g. "exp_avg" per parameter) for checkpoints, in a fixed order.</summary>
    public abstract IEnumerable<(string Name, Tensor Value)> StateTensors();

    /// <summary>Copies optimiser state from <paramref name="other"/> (same kind, same parameter shapes).</summary>
    public void CopyStateFrom(Optimizer other)
    {
        if (other.Kind != Kind) throw new ArgumentException($"Cannot copy {other.Kind} state into a {Kind} optimiser.");
        var mine = StateTensors().ToArray();
        var theirs = other.StateTensors().ToArray();
        if (mine.Length != theirs.Length) throw new ArgumentException("The optimisers hold different numbers of state tensors.");
        for (int i = 0; i < mine.Length; i++) mine[i].Value.CopyFrom(theirs[i].Value);
        StepCount = other.StepCount;
    }

    /// <summary>Restores the step count (with <see cref="StateTensors"/> filled by the caller).</summary>
    public void SetStepCount(long steps) => StepCount = steps >= 0 ? steps : throw new ArgumentOutOfRangeException(nameof(steps));

    public static Optimizer Create(OptimizerKind kind, IEnumerable<Parameter> parameters, float learningRate) => kind switch
    {
        OptimizerKind.Adam => new AdamOptimizer(parameters, learningRate),
        OptimizerKind.Sgd => new SgdOptimizer(parameters, learningRate),
        OptimizerKind.Adagrad => new AdagradOptimizer(parameters, learningRate),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser."),
    };

    /// <summary>x, or 0 when |x| &lt; <see cref="FlushBelow"/>.</summary>
    protected static float Flush(float x) => MathF.Abs(x) < FlushBelow ? 0f : x;

    protected static Tensor[] ZerosLike(IReadOnlyList<Parameter> ps) => ps.Select(p => new Tensor(p.Value.Rows, p.Value.Cols)).ToArray();
}

/// <summary>
/// Adam as torch.optim.Adam (amsgrad off): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// One deliberate difference: a moment below <see cref="Optimizer.FlushBelow"/> in magnitude is set to 0.
/// Weights whose gradient is always 0 (MNIST's border pixels) otherwise decay their m geometrically into the
/// subnormal range, where every float operation costs ~100 cycles: a tenfold slower step after ~800 steps.
/// The flushed values would move a parameter by less than lr * 1e-30 / eps = 1e-25.
/// Measured: docs/performance.md, "No subnormals".
/// </summary>
public sealed class AdamOptimizer : Optimizer
{
    private readonly Tensor[] _m, _v;

    public AdamOptimizer(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be >= 0.");
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay;
        _momentGradientFloor = NormalProductFloor / (1 - beta1);             // 1.2e-37 for the default beta1
        _squareGradientFloor = MathF.Sqrt(NormalProductFloor / (1 - beta2)); // 3.4e-18 for the default beta2
        _m = ZerosLike(Parameters);
        _v = ZerosLike(Parameters);
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public override OptimizerKind Kind => OptimizerKind.Adam;

    public override IEnumerable<(string, Tensor)> StateTensors()
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            yield return (Parameters[i].Name + ".exp_avg", _m[i]);
            yield return (Parameters[i].Name + ".exp_avg_sq", _v[i]);
        }
    }

    /// <summary>
    /// Gradients smaller than these in magnitude enter the first / second moment as 0: below them (1 - b1) g, or
    /// (1 - b2) g^2, would be subnormal (see <see cref="Optimizer.NormalProductFloor"/>). Late in a long training
    /// the weights of background pixels get gradients of 1e-20 and less, and with 5%
    /// of the gradients that small the update ran 6 times slower (measured). Dropping such a term cannot change a
    /// stored moment: it is about 2^-126 or less, under half an ulp of any moment above <see cref="Optimizer.FlushBelow"/>,
    /// and smaller moments are stored as 0 anyway.
    /// </summary>
    private readonly float _momentGradientFloor, _squareGradientFloor;

    private float _stepSize, _bc2Sqrt;

    protected override void BeginStep()
    {
        _stepSize = (float)(LearningRate / (1 - Math.Pow(Beta1, StepCount)));
        _bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void UpdateRange(int k, int start, int count) =>
        Update(Parameters[k].Value.Span.Slice(start, count), Parameters[k].Grad.Span.Slice(start, count),
            _m[k].Span.Slice(start, count), _v[k].Span.Slice(start, count), _stepSize, _bc2Sqrt);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float stepSize, float bc2Sqrt)
    {
        float b1 = Beta1, b2 = Beta2, c1 = 1 - b1, c2 = 1 - b2, eps = Epsilon, wd = WeightDecay, invBc2Sqrt = 1f / bc2Sqrt;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && wd == 0f)
        {
            ref float rp = ref MemoryMarshal.GetReference(p);
            ref float rg = ref MemoryMarshal.GetReference(g);
            ref float rm = ref MemoryMarshal.GetReference(m);
            ref float rv = ref MemoryMarshal.GetReference(v);
            var vb1 = Vector256.Create(b1); var vc1 = Vector256.Create(c1);
            var vb2 = Vector256.Create(b2); var vc2 = Vector256.Create(c2);
            var vInv = Vector256.Create(invBc2Sqrt); var vEps = Vector256.Create(eps); var vStep = Vector256.Create(stepSize);
            var tiny = Vector256.Create(FlushBelow);
            var mFloor = Vector256.Create(_momentGradientFloor); var vFloor = Vector256.Create(_squareGradientFloor);
            for (; i <= p.Length - 8; i += 8)
            {
                var gi = Vector256.LoadUnsafe(ref rg, (nuint)i);
                var ga = Vector256.Abs(gi);
                var gm = Vector256.ConditionalSelect(Vector256.LessThan(ga, mFloor), Vector256<float>.Zero, gi);
                var gv = Vector256.ConditionalSelect(Vector256.LessThan(ga, vFloor), Vector256<float>.Zero, gi);
                var mi = vb1 * Vector256.LoadUnsafe(ref rm, (nuint)i) + vc1 * gm;
                var vi = vb2 * Vector256.LoadUnsafe(ref rv, (nuint)i) + vc2 * (gv * gv);
                mi = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(mi), tiny), Vector256<float>.Zero, mi);
                vi = Vector256.ConditionalSelect(Vector256.LessThan(vi, tiny), Vector256<float>.Zero, vi);
                mi.StoreUnsafe(ref rm, (nuint)i);
                vi.StoreUnsafe(ref rv, (nuint)i);
                var denom = Vector256.Sqrt(vi) * vInv + vEps;
                (Vector256.LoadUnsafe(ref rp, (nuint)i) - vStep * (mi / denom)).StoreUnsafe(ref rp, (nuint)i);
            }
        }
        for (; i < p.Length; i++)
        {
            float gi = g[i] + wd * p[i], ga = MathF.Abs(gi);
            m[i] = Flush(b1 * m[i] + c1 * (ga < _momentGradientFloor ? 0f : gi));
            float gv = ga < _squareGradientFloor ? 0f : gi;
            v[i] = Flush(b2 * v[i] + c2 * gv * gv);
            float denom = MathF.Sqrt(v[i]) * invBc2Sqrt + eps;
            p[i] -= stepSize * (m[i] / denom);
        }
    }
}

/// <summary>
/// SGD as torch.optim.SGD: with momentum mu, buf = g on the first step and mu buf + (1 - dampening) g after;
/// the update is buf (or g + mu buf with Nesterov); p -= lr * update.
/// </summary>
public sealed class SgdOptimizer : Optimizer
{
    private readonly Tensor[] _buf;

    public SgdOptimizer(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0f, float dampening = 0f, bool nesterov = false, float weightDecay = 0f)
        : base(parameters, learningRate)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be >= 0.");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("Nesterov momentum needs momentum > 0 and zero dampening.");
        Momentum = momentum; Dampening = dampening; Nesterov = nesterov; WeightDecay = weightDecay;
        _buf = ZerosLike(Parameters);
    }

    public float Momentum { get; }
    public float Dampening { get; }
    public bool Nesterov { get; }
    public float WeightDecay { get; }
    public override OptimizerKind Kind => OptimizerKind.Sgd;

    public override IEnumerable<(string, Tensor)> StateTensors()
    {
        for (int i = 0; i < Parameters.Count; i++) yield return (Parameters[i].Name + ".momentum_buffer", _buf[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void UpdateRange(int k, int start, int count)
    {
        bool first = StepCount == 1;
        float lr = LearningRate, mu = Momentum, damp = 1 - Dampening, wd = WeightDecay;
        {
            var p = Parameters[k].Value.Span.Slice(start, count);
            var g = Parameters[k].Grad.Span.Slice(start, count);
            var b = _buf[k].Span.Slice(start, count);
            for (int i = 0; i < p.Length; i++)
            {
                float d = g[i] + wd * p[i];
                if (mu != 0f)
                {
                    b[i] = Flush(first ? d : mu * b[i] + damp * d); // a decaying buffer would turn subnormal
                    d = Nesterov ? d + mu * b[i] : b[i];
                }
                p[i] -= lr * d;
            }
        }
    }
}

/// <summary>
/// Adagrad as torch.optim.Adagrad: sum += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps).
/// </summary>
public sealed class AdagradOptimizer : Optimizer
{
    private readonly Tensor[] _sum;

    public AdagradOptimizer(IEnumerable<Parameter> parameters, float learningRate = 1e-2f, float learningRateDecay = 0f, float epsilon = 1e-10f, float initialAccumulator = 0f, float weightDecay = 0f)
        : base(parameters, learningRate)
    {
        if (initialAccumulator < 0) throw new ArgumentOutOfRangeException(nameof(initialAccumulator), initialAccumulator, "must be >= 0.");
        LearningRateDecay = learningRateDecay; Epsilon = epsilon; WeightDecay = weightDecay;
        _sum = ZerosLike(Parameters);
        foreach (var s in _sum) s.Fill(initialAccumulator);
    }

    public float LearningRateDecay { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public override OptimizerKind Kind => OptimizerKind.Adagrad;

    public override IEnumerable<(string, Tensor)> StateTensors()
    {
        for (int i = 0; i < Parameters.Count; i++) yield return (Parameters[i].Name + ".sum", _sum[i]);
    }

    /// <summary>
    /// A gradient below this adds nothing to the sum: its square would be subnormal
    /// (see <see cref="Optimizer.NormalProductFloor"/>). The terms dropped are
    /// far below what the sum's square root must reach (about 1e-17) to move the denominator past eps's last bit.
    /// </summary>
    private static readonly float SquareGradientFloor = MathF.Sqrt(NormalProductFloor); // 1.09e-19

    private float _clr;

    protected override void BeginStep() => _clr = (float)(LearningRate / (1 + (StepCount - 1) * (double)LearningRateDecay));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void UpdateRange(int k, int start, int count)
    {
        float clr = _clr, eps = Epsilon, wd = WeightDecay;
        {
            var p = Parameters[k].Value.Span.Slice(start, count);
            var g = Parameters[k].Grad.Span.Slice(start, count);
            var s = _sum[k].Span.Slice(start, count);
            for (int i = 0; i < p.Length; i++)
            {
                float d = g[i] + wd * p[i];
                s[i] += MathF.Abs(d) < SquareGradientFloor ? 0f : d * d;
                p[i] -= clr * d / (MathF.Sqrt(s[i]) + eps);
            }
        }
    }
}

using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

/// <summary>
/// Every differentiable op's backward is compared with central finite differences of its forward.
/// The checked scalar is L = sum(w * y) with fixed random weights w, summed in double outside the
/// graph, so the only float32 noise is in y itself.
/// </summary>
public class GradientCheckTests
{
    /// <summary>How to fill one input: uniform magnitude in [lo, hi] with a random sign, or positive only.</summary>
    public readonly record struct Spec(int Rows, int Cols, float Lo = 0.1f, float Hi = 1.5f, bool Positive = false, float ZeroFraction = 0f);

    private static Tensor Make(Spec s, RandomSource rng)
    {
        var t = new Tensor(s.Rows, s.Cols);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++)
        {
            float mag = s.Lo + (s.Hi - s.Lo) * rng.NextFloat();
            span[i] = s.Positive || rng.NextFloat() < 0.5f ? mag : -mag;
            if (rng.NextFloat() < s.ZeroFraction) span[i] = 0f;
        }
        return t;
    }

    /// <summary>Builds the op on parameter inputs, checks d(sum w*y)/d(input) for every input element.</summary>
    internal static void Check(Func<Graph, Node[], Node> build, Spec[] specs, double h = 1e-3, double atol = 3e-3, double rtol = 1e-2)
    {
        var rng = new RandomSource(12345);
        var parameters = specs.Select((s, i) => new Parameter("p" + i, Make(s, rng))).ToArray();
        var g = new Graph();
        var inputs = parameters.Select(p => (Node)g.Param(p)).ToArray();
        var y = build(g, inputs);
        // Forward once to learn y's shape, then fix the weights.
        g.Random = new RandomSource(7);
        g.Forward(y);
        var w = g.Input("w", y.Cols);
        var wt = w.SetRows(y.Rows);
        rng.FillNormal(wt.Span);
        var loss = g.Sum(g.Multiply(y, w));

        double Objective()
        {
            g.Random = new RandomSource(7); // the same noise at every evaluation
            g.Forward(y);
            double s = 0;
            var ys = y.Value.Span;
            var ws = w.Value.Span;
            for (int i = 0; i < ys.Length; i++) s += (double)ys[i] * ws[i];
            return s;
        }

        g.Random = new RandomSource(7);
        g.Forward(loss);
        g.Backward(loss);
        var analytic = parameters.Select(p => p.Grad.ToArray()).ToArray();

        for (int pi = 0; pi < parameters.Length; pi++)
        {
            var v = parameters[pi].Value.Span;
            for (int i = 0; i < v.Length; i++)
            {
                float orig = v[i];
                v[i] = (float)(orig + h);
                double up = Objective();
                v[i] = (float)(orig - h);
                double down = Objective();
                v[i] = orig;
                double fd = (up - down) / (2 * h);
                double an = analytic[pi][i];
                Assert.True(Math.Abs(fd - an) <= atol + rtol * Math.Abs(fd),
                    $"input {pi} element {i}: finite difference {fd:G6} vs backward {an:G6}");
            }
        }
    }

    private static readonly Spec Small = new(3, 4);

    [Fact]
    public void Backward_twice_gives_the_same_gradients_not_their_sum()
    {
        // Backward marks gradients pending instead of clearing them: the first writer of each pass overwrites.
        var rng = new RandomSource(4);
        var w = new Parameter("w", new Tensor(3, 5));
        var b = new Parameter("b", new Tensor(1, 3));
        rng.FillNormal(w.Value.Span);
        var g = new Graph();
        var x = g.Input("x", 5);
        rng.FillNormal(x.SetRows(4).Span);
        var loss = g.Sum(g.Tanh(g.Linear(x, g.Param(w), g.Param(b))));
        g.Forward(loss);
        g.Backward(loss);
        var first = w.Grad.ToArray();
        var firstBias = b.Grad.ToArray();
        g.Backward(loss);
        Assert.Equal(first, w.Grad.ToArray());
        Assert.Equal(firstBias, b.Grad.ToArray());
        Assert.Contains(first, v => v != 0f);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_gradient_matches_finite_differences(bool ta, bool tb) =>
        Check((g, x) => g.MatMul(x[0], x[1], ta, tb),
            new[] { ta ? new Spec(5, 3) : new Spec(3, 5), tb ? new Spec(4, 5) : new Spec(5, 4) });

    [Fact]
    public void Linear_gradient_matches_finite_differences() => Check((g, x) => g.Linear(x[0], x[1], x[2]), new[] { new Spec(3, 5), new Spec(4, 5), new Spec(1, 4) });

    [Theory]
    [InlineData(0f, true)]     // dense: goes through the GEMM
    [InlineData(0.85f, true)]  // sparse like MNIST: skips the zeros
    [InlineData(0.85f, false)] // sparse input, but a layer that does not look for zeros
    public void InputMajorLinear_gradient_matches_finite_differences(float zeroFraction, bool skipZeros) =>
        Check((g, x) => g.InputMajorLinear(x[0], x[1], x[2], skipZeros),
            new[] { new Spec(6, 40, ZeroFraction: zeroFraction), new Spec(40, 21), new Spec(1, 21) });

    [Fact] public void Relu_gradient_matches_finite_differences() => Check((g, x) => g.Relu(x[0]), new[] { Small });
    [Fact] public void LeakyRelu_gradient_matches_finite_differences() => Check((g, x) => g.LeakyRelu(x[0], 0.2f), new[] { Small });
    [Fact] public void Tanh_gradient_matches_finite_differences() => Check((g, x) => g.Tanh(x[0]), new[] { Small });
    [Fact] public void Elu_gradient_matches_finite_differences() => Check((g, x) => g.Elu(x[0], 0.7f), new[] { Small });
    [Fact] public void Softplus_gradient_matches_finite_differences() => Check((g, x) => g.Softplus(x[0]), new[] { new Spec(3, 4, 0.1f, 6f) });
    [Fact] public void Sigmoid_gradient_matches_finite_differences() => Check((g, x) => g.Sigmoid(x[0]), new[] { new Spec(3, 4, 0.1f, 4f) });
    [Fact] public void Exp_gradient_matches_finite_differences() => Check((g, x) => g.Exp(x[0]), new[] { Small });
    [Fact] public void Log_gradient_matches_finite_differences() => Check((g, x) => g.Log(x[0]), new[] { new Spec(3, 4, 0.2f, 3f, Positive: true) });
    [Fact] public void Scale_gradient_matches_finite_differences() => Check((g, x) => g.Scale(x[0], -2.5f), new[] { Small });
    [Fact] public void AddScalar_gradient_matches_finite_differences() => Check((g, x) => g.AddScalar(x[0], 0.75f), new[] { Small });
    [Fact] public void Square_gradient_matches_finite_differences() => Check((g, x) => g.Square(x[0]), new[] { Small });
    [Fact] public void Abs_gradient_matches_finite_differences() => Check((g, x) => g.Abs(x[0]), new[] { Small });
    [Fact] public void Negate_gradient_matches_finite_differences() => Check((g, x) => g.Negate(x[0]), new[] { Small });

    public static IEnumerable<object[]> BroadcastCases()
    {
        foreach (var kind in Enum.GetValues<BinaryKind>())
        foreach (var (r, c) in new[] { (3, 4), (1, 4), (3, 1), (1, 1) })
            yield return new object[] { kind, r, c };
    }

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void Binary_gradient_matches_finite_differences(BinaryKind kind, int bRows, int bCols) =>
        Check((g, x) => kind switch
        {
            BinaryKind.Add => g.Add(x[0], x[1]),
            BinaryKind.Subtract => g.Subtract(x[0], x[1]),
            BinaryKind.Multiply => g.Multiply(x[0], x[1]),
            _ => g.Divide(x[0], x[1]),
        }, new[] { Small, new Spec(bRows, bCols, 0.5f, 2f) });

    [Theory]
    [InlineData(Axis.Rows, false)]
    [InlineData(Axis.Columns, false)]
    [InlineData(Axis.All, false)]
    [InlineData(Axis.Rows, true)]
    [InlineData(Axis.Columns, true)]
    [InlineData(Axis.All, true)]
    public void Sum_and_mean(Axis axis, bool mean) =>
        Check((g, x) => mean ? g.Mean(x[0], axis) : g.Sum(x[0], axis), new[] { Small });

    [Theory]
    [InlineData(Axis.Rows)]
    [InlineData(Axis.Columns)]
    public void LogSumExp_gradient_matches_finite_differences(Axis axis) => Check((g, x) => g.LogSumExp(x[0], axis), new[] { new Spec(3, 4, 0.1f, 5f) });

    [Fact] public void ColumnSlice_gradient_matches_finite_differences() => Check((g, x) => g.ColumnSlice(x[0], 1, 2), new[] { Small });
    [Fact] public void RepeatRows_gradient_matches_finite_differences() => Check((g, x) => g.RepeatRows(x[0], 3), new[] { Small });
    [Fact] public void Reshape_gradient_matches_finite_differences() => Check((g, x) => g.Reshape(x[0], -1, 2), new[] { Small });

    [Fact]
    public void Bernoulli_log_likelihood_logits_and_targets() =>
        Check((g, x) => g.BernoulliLogLikelihood(x[0], x[1]),
            new[] { new Spec(3, 5, 0.1f, 6f), new Spec(3, 5, 0.05f, 0.95f, Positive: true) });

    [Theory]
    [InlineData(3, 5)]
    [InlineData(1, 5)]
    [InlineData(1, 1)]
    public void GaussianLogDensity_gradient_matches_finite_differences(int vRows, int vCols) =>
        Check((g, x) => g.GaussianLogDensity(x[0], x[1], x[2]),
            new[] { new Spec(3, 5), new Spec(3, 5), new Spec(vRows, vCols, 0.1f, 1f) });

    [Fact]
    public void KlStandardNormal_gradient_matches_finite_differences() => Check((g, x) => g.KlStandardNormal(x[0], x[1]), new[] { Small, Small });

    [Fact]
    public void KlDiagonalGaussian_gradient_matches_finite_differences() =>
        Check((g, x) => g.KlDiagonalGaussian(x[0], x[1], x[2], x[3]), new[] { Small, Small, Small, Small });

    [Fact]
    public void Reparameterised_vae_loss_with_fixed_noise()
    {
        // A whole tiny VAE step: encoder to (mu, logvar), z = mu + exp(logvar/2) eps, decoder logits,
        // loss = mean(KL - log p(x|z)). Checks the composition, noise included.
        Check((g, p) =>
        {
            var h = g.Tanh(g.Linear(p[0], p[1], p[2]));
            var mu = g.Linear(h, p[3], p[4]);
            var logVar = g.Linear(h, p[5], p[6]);
            var eps = g.Normal(mu, 2);
            var z = g.Add(mu, g.Multiply(g.Exp(g.Scale(logVar, 0.5f)), eps));
            var logits = g.Linear(g.Relu(z), p[7], p[8]);
            var rec = g.BernoulliLogLikelihood(logits, p[0]);
            var kl = g.KlStandardNormal(mu, logVar);
            return g.Mean(g.Subtract(kl, rec));
        }, new[]
        {
            new Spec(4, 6, 0.05f, 0.95f, Positive: true),
            new Spec(3, 6, 0.1f, 0.6f), new Spec(1, 3, 0.1f, 0.5f),
            new Spec(2, 3, 0.1f, 0.6f), new Spec(1, 2, 0.1f, 0.5f),
            new Spec(2, 3, 0.1f, 0.6f), new Spec(1, 2, 0.1f, 0.5f),
            new Spec(6, 2, 0.1f, 0.6f), new Spec(1, 6, 0.1f, 0.5f),
        });
    }
}

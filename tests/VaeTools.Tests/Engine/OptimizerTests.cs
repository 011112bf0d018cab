using VaeTools.Engine;

namespace VaeTools.Tests.Engine;

/// <summary>Optimisers against independent float64 transcriptions of torch.optim's documented algorithms.</summary>
public class OptimizerTests
{
    private const int N = 37; // not a multiple of the vector width: exercises the scalar tail

    private static (Parameter p, double[] x) Setup(ulong seed)
    {
        var rng = new RandomSource(seed);
        var p = new Parameter("p", new Tensor(1, N));
        rng.FillNormal(p.Value.Span);
        return (p, p.Value.ToArray().Select(v => (double)v).ToArray());
    }

    /// <summary>Gradient of f(x) = sum_i c_i x_i^2 / 2 + sin(x_i), a bumpy quadratic.</summary>
    private static double Grad(double x, int i) => (1 + i % 5) * x + Math.Cos(x);

    private static void SetGrad(Parameter p)
    {
        var v = p.Value.Span;
        var g = p.Grad.Span;
        for (int i = 0; i < N; i++) g[i] = (float)Grad(v[i], i);
    }

    private static void AssertClose(double[] expected, Parameter p, double tol)
    {
        var v = p.Value.Span;
        for (int i = 0; i < N; i++) Assert.True(Math.Abs(expected[i] - v[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {v[i]}");
    }

    [Fact]
    public void Adam_follows_torch_optim_adam()
    {
        var (p, x) = Setup(1);
        var opt = new AdamOptimizer(new[] { p }, learningRate: 0.05f);
        double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.05;
        var m = new double[N];
        var v = new double[N];
        for (int t = 1; t <= 25; t++)
        {
            SetGrad(p);
            opt.Step();
            for (int i = 0; i < N; i++)
            {
                double g = Grad(x[i], i);
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mHat = m[i] / (1 - Math.Pow(b1, t));
                double vHat = v[i] / (1 - Math.Pow(b2, t));
                x[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
        }
        AssertClose(x, p, 2e-4);
        Assert.Equal(25, opt.StepCount);
    }

    [Fact]
    public void Adam_first_step_moves_every_parameter_by_the_learning_rate()
    {
        // Bias correction makes the first update lr * g / |g| exactly (up to eps).
        var (p, x) = Setup(2);
        SetGrad(p);
        var g = p.Grad.ToArray();
        new AdamOptimizer(new[] { p }, learningRate: 0.01f).Step();
        for (int i = 0; i < N; i++) Assert.Equal(x[i] - 0.01 * Math.Sign(g[i]), p.Value.Span[i], 5);
    }

    [Theory]
    [InlineData(0f, 0f, false)]
    [InlineData(0.9f, 0f, false)]
    [InlineData(0.9f, 0.1f, false)]
    [InlineData(0.9f, 0f, true)]
    public void Sgd_follows_torch_optim_sgd(float momentum, float dampening, bool nesterov)
    {
        var (p, x) = Setup(3);
        var opt = new SgdOptimizer(new[] { p }, 0.02f, momentum, dampening, nesterov);
        var buf = new double[N];
        for (int t = 1; t <= 20; t++)
        {
            SetGrad(p);
            opt.Step();
            for (int i = 0; i < N; i++)
            {
                double d = Grad(x[i], i);
                if (momentum != 0)
                {
                    buf[i] = t == 1 ? d : momentum * buf[i] + (1 - dampening) * d;
                    d = nesterov ? d + momentum * buf[i] : buf[i];
                }
                x[i] -= 0.02 * d;
            }
        }
        AssertClose(x, p, 1e-4);
    }

    [Fact]
    public void Adagrad_follows_torch_optim_adagrad()
    {
        var (p, x) = Setup(4);
        var opt = new AdagradOptimizer(new[] { p }, 0.1f, learningRateDecay: 0.01f);
        var sum = new double[N];
        for (int t = 1; t <= 20; t++)
        {
            SetGrad(p);
            opt.Step();
            double clr = 0.1 / (1 + (t - 1) * 0.01);
            for (int i = 0; i < N; i++)
            {
                double g = Grad(x[i], i);
                sum[i] += g * g;
                x[i] -= clr * g / (Math.Sqrt(sum[i]) + 1e-10);
            }
        }
        AssertClose(x, p, 1e-4);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adagrad)]
    public void Parallel_update_is_bitwise_identical_to_single_threaded_and_covers_every_value(OptimizerKind kind)
    {
        float[] Run(WorkerPool pool)
        {
            var ps = new[] { new Parameter("a", new Tensor(1, 1001)), new Parameter("b", new Tensor(3, 5)), new Parameter("c", new Tensor(1, 1)) };
            var rng = new RandomSource(6);
            foreach (var p in ps) rng.FillNormal(p.Value.Span);
            var opt = Optimizer.Create(kind, ps, 0.01f);
            opt.Pool = pool;
            for (int t = 0; t < 5; t++)
            {
                foreach (var p in ps) { var v = p.Value.Span; var g = p.Grad.Span; for (int i = 0; i < v.Length; i++) g[i] = v[i] * v[i] - 0.3f; }
                opt.Step();
            }
            return ps.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        var single = Run(WorkerPool.Single);
        using var pool = new WorkerPool(3);
        var parallel = Run(pool);
        Assert.Equal(single, parallel);
        var untouched = new float[single.Length];
        Assert.NotEqual(untouched, single);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void State_of_a_weight_whose_gradient_stopped_goes_to_zero_without_passing_through_subnormals(OptimizerKind kind)
    {
        // One gradient, then zeros for long enough that 0.9^t would reach the subnormal range (~850 steps).
        var p = new Parameter("p", new Tensor(1, 40));
        var opt = kind == OptimizerKind.Sgd ? new SgdOptimizer(new[] { p }, 0.01f, momentum: 0.9f) : Optimizer.Create(kind, new[] { p }, 0.001f);
        p.Grad.Fill(1e-3f);
        opt.Step();
        p.Grad.Clear();
        bool sawSubnormal = false;
        for (int t = 0; t < 1500; t++)
        {
            opt.Step();
            foreach (var (_, state) in opt.StateTensors())
                foreach (var v in state.Span) sawSubnormal |= float.IsSubnormal(v);
        }
        Assert.False(sawSubnormal);
        var first = opt.StateTensors().First().Value.Span;
        Assert.Equal(0f, first[0]); // the decayed first moment (momentum buffer) is exactly 0 by now
    }

    [Fact]
    public void Adam_tiny_gradients_give_exactly_the_moments_of_the_plain_formula()
    {
        // The update drops gradients whose (1 - b1) g or (1 - b2) g^2 would be subnormal (to avoid the CPU's slow
        // subnormal arithmetic); that must never change what it stores. Compare with the plain float32 formula, in
        // the vector loop's order of operations, on gradients around both thresholds and moments at the flush level.
        const int n = 64 * 16; // the vector loop only
        var rng = new RandomSource(11);
        var unit = new float[3 * n];
        rng.FillUniform(unit, 0f, 1f);
        float[] magnitudes = { 0f, 1e-45f, 1e-39f, 1.1e-37f, 1.3e-37f, 1e-30f, 1e-20f, 1e-19f, 3.3e-18f, 3.5e-18f, 1e-17f, 1e-10f, 1e-3f, 0.5f };
        float[] moments = { 0f, 1e-30f, 1.0000001e-30f, 3e-30f, 1e-25f, 1e-12f, 1e-6f, 0.01f };
        var p = new Parameter("p", new Tensor(1, n));
        var opt = new AdamOptimizer(new[] { p }, learningRate: 1e-3f);
        var state = opt.StateTensors().Select(t => t.Item2).ToArray(); // exp_avg, exp_avg_sq
        var (m, v) = (new float[n], new float[n]);
        for (int i = 0; i < n; i++)
        {
            float sign = unit[i] < 0.5f ? -1f : 1f;
            p.Grad.Span[i] = sign * magnitudes[i % magnitudes.Length] * (1f + unit[n + i] * 0.1f);
            m[i] = state[0].Span[i] = -sign * moments[(i / magnitudes.Length) % moments.Length];
            v[i] = state[1].Span[i] = moments[(int)(unit[2 * n + i] * moments.Length)];
            p.Value.Span[i] = 1f;
        }
        var pRef = p.Value.ToArray();
        opt.Step();

        float b1 = 0.9f, b2 = 0.999f, c1 = 1 - b1, c2 = 1 - b2, step = 1e-3f / (1 - b1), bc2Sqrt = MathF.Sqrt(1 - b2);
        static float Flush(float x) => MathF.Abs(x) < Optimizer.FlushBelow ? 0f : x;
        for (int i = 0; i < n; i++)
        {
            float g = p.Grad.Span[i];
            m[i] = Flush(b1 * m[i] + c1 * g);
            v[i] = Flush(b2 * v[i] + c2 * (g * g));
            pRef[i] -= step * (m[i] / (MathF.Sqrt(v[i]) * (1f / bc2Sqrt) + 1e-8f));
            Assert.True(m[i] == state[0].Span[i], $"exp_avg[{i}] for g = {g:R}: {state[0].Span[i]:R}, plain formula {m[i]:R}");
            Assert.True(v[i] == state[1].Span[i], $"exp_avg_sq[{i}] for g = {g:R}: {state[1].Span[i]:R}, plain formula {v[i]:R}");
            Assert.True(pRef[i] == p.Value.Span[i], $"p[{i}] for g = {g:R}: {p.Value.Span[i]:R}, plain formula {pRef[i]:R}");
        }
    }

    [Fact]
    public void Adagrad_tiny_gradients_move_parameters_as_the_plain_formula_without_subnormal_sums()
    {
        float[] magnitudes = { 0f, 1e-39f, 1e-30f, 1e-25f, 1e-20f, 1.08e-19f, 1.1e-19f, 1e-15f, 1e-3f, 0.7f };
        int n = magnitudes.Length * 4;
        var p = new Parameter("p", new Tensor(1, n));
        var opt = new AdagradOptimizer(new[] { p }, learningRate: 0.01f);
        var sum = opt.StateTensors().Single().Item2;
        var pRef = new float[n];
        var sRef = new float[n];
        for (int step = 1; step <= 3; step++)
        {
            for (int i = 0; i < n; i++)
            {
                if (step == 1) pRef[i] = p.Value.Span[i] = 1f;
                p.Grad.Span[i] = (i % 2 == 0 ? 1 : -1) * magnitudes[i % magnitudes.Length] * step;
            }
            opt.Step();
            for (int i = 0; i < n; i++)
            {
                float g = p.Grad.Span[i];
                sRef[i] += g * g;
                pRef[i] -= 0.01f * g / (MathF.Sqrt(sRef[i]) + 1e-10f);
                Assert.True(pRef[i] == p.Value.Span[i], $"step {step}, g = {g:R}: p = {p.Value.Span[i]:R}, plain formula {pRef[i]:R}");
                Assert.False(float.IsSubnormal(sum.Span[i]), $"step {step}, g = {g:R}: the sum {sum.Span[i]:R} is subnormal");
            }
        }
    }

    [Fact]
    public void Added_gradients_equal_summing_first_and_apply_to_one_step_only()
    {
        float[] Run(bool added)
        {
            var p = new Parameter("p", new Tensor(1, 10000));
            var rng = new RandomSource(8);
            rng.FillNormal(p.Value.Span);
            var extra = new[] { new[] { new Tensor(1, 10000) }, new[] { new Tensor(1, 10000) } };
            var opt = new AdamOptimizer(new[] { p }, 0.01f);
            using var pool = new WorkerPool(2);
            opt.Pool = pool;
            for (int t = 0; t < 3; t++)
            {
                rng.FillNormal(p.Grad.Span);
                rng.FillNormal(extra[0][0].Span);
                rng.FillNormal(extra[1][0].Span);
                if (added) opt.AddGradientsOnNextStep(extra, 2);
                else
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(p.Grad.Span, extra[0][0].Span, p.Grad.Span);
                    System.Numerics.Tensors.TensorPrimitives.Add(p.Grad.Span, extra[1][0].Span, p.Grad.Span);
                }
                opt.Step();
            }
            var before = p.Value.ToArray();
            p.Grad.Clear();
            opt.Step(); // nothing added this time: with a zero gradient only the moments move p
            Assert.NotEqual(before, p.Value.ToArray());
            return p.Value.ToArray();
        }
        Assert.Equal(Run(false), Run(true));
    }

    [Fact]
    public void Bad_settings_are_rejected_by_name()
    {
        var p = new Parameter("p", new Tensor(1, 3));
        Assert.Contains("learning rate", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamOptimizer(new[] { p }, -1f)).Message);
        Assert.Contains("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamOptimizer(new[] { p }, 1e-3f, beta1: 1f)).Message);
        Assert.Throws<ArgumentException>(() => new SgdOptimizer(new[] { p }, 0.1f, momentum: 0f, nesterov: true));
        Assert.Throws<ArgumentException>(() => new AdamOptimizer(Array.Empty<Parameter>()));
    }
}

public class InitTests
{
    [Fact]
    public void PyTorch_default_is_uniform_within_one_over_sqrt_fan_in()
    {
        var w = new Tensor(400, 784);
        var b = new Tensor(1, 400);
        Init.PyTorchDefault(w, b, new RandomSource(1));
        double bound = 1 / Math.Sqrt(784);
        var all = w.ToArray().Concat(b.ToArray()).ToArray();
        Assert.All(all, v => Assert.InRange(v, -bound, bound));
        double mean = all.Average(v => (double)v), variance = all.Average(v => (double)v * v);
        Assert.InRange(mean, -0.01 * bound, 0.01 * bound);
        Assert.InRange(variance, 0.98 * bound * bound / 3, 1.02 * bound * bound / 3); // Var U(-a, a) = a^2 / 3
        Assert.True(all.Max() > 0.99 * bound && all.Min() < -0.99 * bound);
    }

    [Fact]
    public void Normal_has_the_requested_std_and_zero_bias()
    {
        var w = new Tensor(512, 784);
        var b = new Tensor(1, 512);
        b.Fill(3f);
        Init.Normal(w, b, 0.01f, new RandomSource(2));
        var v = w.ToArray();
        double std = Math.Sqrt(v.Average(x => (double)x * x));
        Assert.InRange(std, 0.0099, 0.0101);
        Assert.All(b.ToArray(), x => Assert.Equal(0f, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => Init.Normal(w, b, 0f, new RandomSource(2)));
    }
}

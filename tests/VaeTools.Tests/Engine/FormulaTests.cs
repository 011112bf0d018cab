using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

/// <summary>The distribution ops against independent float64 computations and Monte Carlo estimates.</summary>
public class FormulaTests
{
    private static (Graph g, InputNode[] inputs) Inputs(params Tensor[] values)
    {
        var g = new Graph();
        var nodes = values.Select((v, i) => { var n = g.Input("x" + i, v.Cols); n.Set(v); return n; }).ToArray();
        return (g, nodes);
    }

    private static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    [Fact]
    public void Bernoulli_log_likelihood_matches_naive_double_formula()
    {
        var rng = new RandomSource(1);
        var logits = new Tensor(4, 30);
        var x = new Tensor(4, 30);
        rng.FillUniform(logits.Span, -8f, 8f);
        rng.FillUniform(x.Span, 0f, 1f);
        var (g, n) = Inputs(logits, x);
        var y = g.BernoulliLogLikelihood(n[0], n[1]);
        g.Forward(y);
        for (int r = 0; r < 4; r++)
        {
            double expected = 0;
            for (int d = 0; d < 30; d++)
            {
                double p = 1 / (1 + Math.Exp(-(double)logits[r, d]));
                expected += x[r, d] * Math.Log(p) + (1 - x[r, d]) * Math.Log(1 - p); // the textbook form
            }
            Assert.Equal(expected, y.Value[r, 0], 3);
        }
    }

    [Fact]
    public void Bernoulli_log_likelihood_is_finite_and_exact_for_huge_logits()
    {
        // A clamped sigmoid would give log(0) or a wrong constant here; the fused form is exact.
        var logits = Tensor.FromRows(new[] { new[] { 200f, -200f, 60f, -60f } });
        var x = Tensor.FromRows(new[] { new[] { 0f, 1f, 1f, 0f } });
        var (g, n) = Inputs(logits, x);
        var y = g.BernoulliLogLikelihood(n[0], n[1]);
        g.Forward(y);
        double expected = -(200 + 200 + Softplus(-60) + Softplus(-60));
        Assert.Equal(expected, y.Value[0, 0], 3);
        Assert.True(float.IsFinite(y.Value[0, 0]));
    }

    [Fact]
    public void Gaussian_log_density_matches_double_formula_for_each_variance_shape()
    {
        var rng = new RandomSource(2);
        var x = new Tensor(3, 7);
        var m = new Tensor(3, 7);
        rng.FillNormal(x.Span);
        rng.FillNormal(m.Span);
        foreach (var (vr, vc) in new[] { (3, 7), (1, 7), (1, 1) })
        {
            var v = new Tensor(vr, vc);
            rng.FillUniform(v.Span, -1.5f, 1.5f);
            var (g, n) = Inputs(x, m, v);
            var y = g.GaussianLogDensity(n[0], n[1], n[2]);
            g.Forward(y);
            for (int r = 0; r < 3; r++)
            {
                double expected = 0;
                for (int d = 0; d < 7; d++)
                {
                    double s = Math.Exp(0.5 * v[vr == 1 ? 0 : r, vc == 1 ? 0 : d]);
                    double z = (x[r, d] - m[r, d]) / s;
                    expected += -0.5 * Math.Log(2 * Math.PI) - Math.Log(s) - 0.5 * z * z; // per-dimension negative log-density, negated
                }
                Assert.Equal(expected, y.Value[r, 0], 4);
            }
        }
    }

    [Fact]
    public void Kl_diagonal_gaussian_matches_closed_form_and_monte_carlo()
    {
        float[] m1 = { 0.3f, -1.2f, 2f }, v1 = { -0.5f, 0.4f, 0f }, m2 = { -0.2f, 0.5f, 2.5f }, v2 = { 0.7f, -0.3f, 0.2f };
        var (g, n) = Inputs(Row(m1), Row(v1), Row(m2), Row(v2));
        var kl = g.KlDiagonalGaussian(n[0], n[1], n[2], n[3]);
        g.Forward(kl);

        double closed = 0, mc = 0;
        var rng = new RandomSource(3);
        const int samples = 400_000;
        for (int d = 0; d < 3; d++)
        {
            double s1 = Math.Exp(0.5 * v1[d]), s2 = Math.Exp(0.5 * v2[d]);
            closed += Math.Log(s2 / s1) + (s1 * s1 + (m1[d] - m2[d]) * (m1[d] - m2[d])) / (2 * s2 * s2) - 0.5;
            double acc = 0;
            for (int i = 0; i < samples; i++)
            {
                double z = m1[d] + s1 * rng.NextGaussian();
                acc += LogNormal(z, m1[d], s1) - LogNormal(z, m2[d], s2);
            }
            mc += acc / samples;
        }
        Assert.Equal(closed, kl.Value[0, 0], 4);
        Assert.Equal(closed, mc, 1); // Monte Carlo: standard error here is about 0.003
    }

    [Fact]
    public void Kl_standard_normal_equals_general_kl_against_zero_mean_unit_variance()
    {
        float[] mu = { 0.3f, -1.2f, 2f, 0f }, v = { -0.5f, 0.4f, 0f, -3f };
        var (g, n) = Inputs(Row(mu), Row(v), Row(new float[4]), Row(new float[4]));
        var a = g.KlStandardNormal(n[0], n[1]);
        var b = g.KlDiagonalGaussian(n[0], n[1], n[2], n[3]);
        g.Forward(a);
        g.Forward(b);
        double expected = 0;
        for (int d = 0; d < 4; d++) expected += 0.5 * (Math.Exp(v[d]) + mu[d] * mu[d] - 1 - v[d]);
        Assert.Equal(expected, a.Value[0, 0], 5);
        Assert.Equal(expected, b.Value[0, 0], 5);
    }

    [Fact]
    public void Log_sum_exp_is_stable_for_large_and_negative_infinite_values()
    {
        var (g, n) = Inputs(Tensor.FromRows(new[] { new[] { 1000f, 1000f }, new[] { -1000f, -1001f }, new[] { float.NegativeInfinity, 0f } }));
        var y = g.LogSumExp(n[0], Axis.Columns);
        g.Forward(y);
        Assert.Equal(1000 + Math.Log(2), y.Value[0, 0], 3);
        Assert.Equal(-1000 + Math.Log(1 + Math.Exp(-1)), y.Value[1, 0], 3);
        Assert.Equal(0.0, y.Value[2, 0], 6);
    }

    [Fact]
    public void Shape_mismatch_names_both_shapes()
    {
        var g = new Graph();
        var x = g.Input("x", 5);
        x.SetRows(2);
        var w = g.Param(new Parameter("w", new Tensor(3, 4)));
        var b = g.Param(new Parameter("b", new Tensor(1, 3)));
        var y = g.Linear(x, w, b);
        var e = Assert.Throws<ShapeMismatchException>(() => g.Forward(y));
        Assert.Contains("[2 x 5]", e.Message);
        Assert.Contains("[3 x 4]", e.Message);

        var a = g.Input("a", 4);
        a.SetRows(3);
        var c = g.Input("c", 2);
        c.SetRows(2);
        var sum = g.Add(a, c);
        var e2 = Assert.Throws<ShapeMismatchException>(() => g.Forward(sum));
        Assert.Contains("[3 x 4]", e2.Message);
        Assert.Contains("[2 x 2]", e2.Message);
    }

    private static Tensor Row(float[] v) => Tensor.FromRows(new[] { v });

    private static double LogNormal(double z, double m, double s) =>
        -0.5 * Math.Log(2 * Math.PI) - Math.Log(s) - (z - m) * (z - m) / (2 * s * s);
}

using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

/// <summary>
/// The one definition of z = mu + sigma eps and of the per-dimension KL (VaeMath), as the analysis and the sampling cmdlets
/// now use it, against independent float64 computations and a Monte Carlo estimate.
/// </summary>
public class ReparameterisationTests
{
    private static VaeModel Model(int latent) => new(new VaeConfig { InputDim = 6, HiddenDims = new[] { 5 }, LatentDim = latent, Seed = 1 });

    private static LatentEncoding Encoding(int n, int p, ulong seed)
    {
        var random = new RandomSource(seed);
        var mean = new Tensor(n, p);
        var logVar = new Tensor(n, p);
        random.FillUniform(mean.Span, -2f, 2f);
        random.FillUniform(logVar.Span, -4f, 1.5f);
        return new LatentEncoding(mean, logVar);
    }

    [Fact]
    public void Sample_latent_is_mu_plus_sigma_times_the_sources_normals_row_by_row()
    {
        const int n = 7, p = 3;
        var enc = Encoding(n, p, 4);
        var z = Model(p).SampleLatent(enc, new RandomSource(21));
        var eps = new float[n * p];
        new RandomSource(21).FillNormal(eps); // the same source, read in the same order, by hand
        for (int i = 0; i < n * p; i++)
        {
            double expected = enc.Mean.Span[i] + Math.Exp(0.5 * enc.LogVariance.Span[i]) * eps[i];
            Assert.True(Math.Abs(z.Span[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"z[{i}] = {z.Span[i]}, expected {expected}");
        }
    }

    [Fact]
    public void Sample_latent_draws_have_the_posteriors_mean_and_variance()
    {
        // One posterior, 20000 rows of it: mu = (1.5, -0.5), sigma^2 = (0.25, 4).
        const int n = 20000;
        var mean = new Tensor(n, 2);
        var logVar = new Tensor(n, 2);
        for (int i = 0; i < n; i++)
        {
            mean[i, 0] = 1.5f; mean[i, 1] = -0.5f;
            logVar[i, 0] = MathF.Log(0.25f); logVar[i, 1] = MathF.Log(4f);
        }
        var z = Model(2).SampleLatent(new LatentEncoding(mean, logVar), new RandomSource(8));
        double[] mu = { 1.5, -0.5 }, variance = { 0.25, 4 };
        for (int d = 0; d < 2; d++)
        {
            double sum = 0, sq = 0;
            for (int i = 0; i < n; i++) { sum += z[i, d]; sq += z[i, d] * (double)z[i, d]; }
            double m = sum / n, v = sq / n - m * m;
            Assert.InRange(m, mu[d] - 4 * Math.Sqrt(variance[d] / n), mu[d] + 4 * Math.Sqrt(variance[d] / n));
            Assert.InRange(v / variance[d], 0.96, 1.04); // 4 standard errors of a sample variance (sqrt(2/n) = 1%)
        }
    }

    [Fact]
    public void Sample_latent_refuses_an_encoding_of_another_latent_size_and_names_both()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Model(3).SampleLatent(Encoding(4, 2, 1), new RandomSource(1)));
        Assert.Contains("[4 x 2]", e.Message);
        Assert.Contains("latent size 3", e.Message);
    }

    [Fact]
    public void Per_dimension_kl_matches_float64_and_its_row_sums_are_the_closed_form_kl_of_the_loss()
    {
        const int n = 9, p = 4;
        var enc = Encoding(n, p, 6);
        var g = new Graph();
        var mu = g.Input("mean", p);
        var lv = g.Input("logvar", p);
        enc.Mean.Span.CopyTo(mu.SetRows(n).Span);
        enc.LogVariance.Span.CopyTo(lv.SetRows(n).Span);
        var ops = new GraphOps(g, model: null);
        var perDimension = VaeMath<Node>.KlPerDimension(ops, mu, lv);
        var perRow = ops.KlStandardNormal(mu, lv); // the loss's fused op
        g.Forward(perDimension);
        g.Forward(perRow);
        for (int i = 0; i < n; i++)
        {
            double rowSum = 0;
            for (int d = 0; d < p; d++)
            {
                double m = enc.Mean[i, d], s2 = Math.Exp(enc.LogVariance[i, d]);
                double expected = Math.Log(1 / Math.Sqrt(s2)) + (s2 + m * m) / 2 - 0.5; // KL(N(m, s2) || N(0, 1))
                double got = perDimension.Value[i, d];
                Assert.True(Math.Abs(got - expected) <= 1e-5 * (1 + expected), $"row {i}, dimension {d}: {got}, expected {expected}");
                rowSum += got;
            }
            Assert.True(Math.Abs(perRow.Value[i, 0] - rowSum) <= 1e-5 * (1 + rowSum), $"row {i}: fused {perRow.Value[i, 0]}, sum {rowSum}");
        }
    }

    [Fact]
    public void Graph_ops_without_a_model_say_they_have_no_layers()
    {
        var g = new Graph();
        var x = g.Input("x", 3);
        var e = Assert.Throws<InvalidOperationException>(() => new GraphOps(g, model: null).Linear(x, "encoder.mean"));
        Assert.Contains("without a model", e.Message);
    }
}

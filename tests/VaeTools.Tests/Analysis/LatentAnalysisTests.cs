using VaeTools.Tests.TestSupport;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Analysis;

/// <summary>Per-dimension KL, active units, grids, quantiles and interpolation (spec: Analysis).</summary>
public class LatentAnalysisTests
{
    [Fact]
    public void Per_dimension_kl_and_active_units_match_a_direct_computation()
    {
        // Four dimensions over 2000 images: constant mean (inactive however far from 0), N(0, 1) means (active),
        // means varying with sd 0.05 (variance 0.0025 < 0.01: inactive) and with sd 0.2 (0.04: active).
        const int n = 2000, p = 4;
        var random = new RandomSource(3);
        var mean = new Tensor(n, p);
        var logVar = new Tensor(n, p);
        for (int i = 0; i < n; i++)
        {
            mean[i, 0] = 2.5f;
            mean[i, 1] = (float)random.NextGaussian();
            mean[i, 2] = 0.3f + 0.05f * (float)random.NextGaussian();
            mean[i, 3] = 0.2f * (float)random.NextGaussian();
            for (int d = 0; d < p; d++) logVar[i, d] = -3f + 3f * random.NextFloat();
        }
        var usage = LatentAnalysis.Usage(new LatentEncoding(mean, logVar));

        for (int d = 0; d < p; d++)
        {
            // KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2)/2 - 1/2, averaged over images; variance of mu over images.
            double kl = 0, m = 0;
            for (int i = 0; i < n; i++)
            {
                double s = Math.Sqrt(Math.Exp(logVar[i, d])), mu = mean[i, d];
                kl += (Math.Log(1 / s) + (s * s + mu * mu) / 2 - 0.5) / n;
                m += mu / n;
            }
            double variance = 0;
            for (int i = 0; i < n; i++) variance += (mean[i, d] - m) * (mean[i, d] - m) / n;
            Assert.Equal(kl, usage.KlPerDimension[d], 6);
            Assert.Equal(variance, usage.MeanVariance[d], 6);
        }
        Assert.Equal(usage.KlPerDimension.Sum(), usage.TotalKl, 9);
        Assert.Equal(2, usage.ActiveUnits);
        Assert.True(usage.MeanVariance[0] < 1e-9, $"a constant mean has variance {usage.MeanVariance[0]}");
        Assert.Equal(LatentAnalysis.ActiveThreshold, usage.Threshold);
        Assert.Equal(1, LatentAnalysis.Usage(new LatentEncoding(mean, logVar), threshold: 0.5).ActiveUnits);
    }

    [Fact]
    public void A_unit_whose_mean_varies_but_carries_almost_no_information_is_not_active()
    {
        // A unit still collapsing: means with sd 0.11 (variance 0.012, above the 0.01 threshold) and posterior
        // variance 0.99, so KL = 1/2 (0.99 + mu^2 - 1 - log 0.99) = about 0.006 nats. Beside it a used unit: means
        // N(0, 0.9^2), posterior variance 0.1 (KL about 1.0 nats).
        const int n = 4000;
        var random = new RandomSource(11);
        var mean = new Tensor(n, 2);
        var logVar = new Tensor(n, 2);
        for (int i = 0; i < n; i++)
        {
            mean[i, 0] = 0.11f * (float)random.NextGaussian();
            logVar[i, 0] = MathF.Log(0.99f);
            mean[i, 1] = 0.9f * (float)random.NextGaussian();
            logVar[i, 1] = MathF.Log(0.1f);
        }
        var usage = LatentAnalysis.Usage(new LatentEncoding(mean, logVar));
        Assert.InRange(usage.MeanVariance[0], 0.0105, 0.0140);
        Assert.InRange(usage.KlPerDimension[0], 0.004, 0.009);
        Assert.InRange(usage.KlPerDimension[1], 0.9, 1.2);
        Assert.False(usage.IsActive(0));
        Assert.True(usage.IsActive(1));
        Assert.Equal(1, usage.ActiveUnits);
        // With no KL floor the spec's variance rule alone counts both.
        var varianceOnly = LatentAnalysis.Usage(new LatentEncoding(mean, logVar), klThreshold: 0);
        Assert.True(varianceOnly.IsActive(0));
        Assert.Equal(2, varianceOnly.ActiveUnits);
    }

    [Fact]
    public void Usage_of_a_model_is_the_usage_of_its_encodings()
    {
        var model = new VaeModel(new VaeConfig { InputDim = 10, HiddenDims = new[] { 8 }, LatentDim = 3, Seed = 4 });
        var x = new Tensor(50, 10);
        new RandomSource(5).FillUniform(x.Span, 0f, 1f);
        var data = new TensorDataset(x);
        var fromModel = LatentAnalysis.Usage(model, data);
        var fromEncoding = LatentAnalysis.Usage(model.Encode(data));
        Assert.Equal(fromEncoding.KlPerDimension, fromModel.KlPerDimension);
        Assert.Equal(fromEncoding.MeanVariance, fromModel.MeanVariance);
    }

    [Theory]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.5, 0.0)]
    [InlineData(0.8413447460685429, 1.0)]      // Phi(1)
    [InlineData(0.01, -2.3263478740408408)]
    [InlineData(0.001, -3.090232306167813)]    // lower tail region of the approximation
    [InlineData(0.999, 3.090232306167813)]
    [InlineData(1e-6, -4.753424308822899)]
    [InlineData(0.025, -1.959963984540054)]
    public void Normal_quantile_matches_known_values(double p, double expected)
    {
        Assert.True(Math.Abs(LatentAnalysis.NormalQuantile(p) - expected) < 1e-8 * Math.Max(1, Math.Abs(expected)),
            $"Phi^-1({p}) = {LatentAnalysis.NormalQuantile(p):R}, expected {expected:R}");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void Normal_quantile_rejects_probabilities_outside_the_open_interval(double p)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LatentAnalysis.NormalQuantile(p));
        Assert.Equal("p", e.ParamName);
    }

    [Fact]
    public void Grid_runs_left_to_right_and_top_to_bottom_over_the_range()
    {
        var z = LatentAnalysis.Grid2D(3, -1, 1, -2, 4);
        Assert.Equal((9, 2), (z.Rows, z.Cols));
        // Row-major from the top-left: x = -1, 0, 1 across; y = 4, 1, -2 down.
        double[] xs = { -1, 0, 1 }, ys = { 4, 1, -2 };
        for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(xs[c], z[r * 3 + c, 0], 6);
            Assert.Equal(ys[r], z[r * 3 + c, 1], 6);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentAnalysis.Grid2D(1, -1, 1, -1, 1));
        Assert.Throws<ArgumentException>(() => LatentAnalysis.Grid2D(3, 1, 1, -1, 1));
    }

    [Fact]
    public void Quantile_grid_places_points_at_normal_quantiles_of_cell_centres()
    {
        // Side 20: cell centres at (i + 0.5) / 20, so the corners are Phi^-1(0.025) = -1.96 and Phi^-1(0.975) = 1.96.
        var z = LatentAnalysis.QuantileGrid2D(20);
        Assert.Equal((400, 2), (z.Rows, z.Cols));
        Assert.Equal(-1.959964, z[0, 0], 5);   // top-left: x smallest, y largest
        Assert.Equal(1.959964, z[0, 1], 5);
        Assert.Equal(1.959964, z[399, 0], 5);  // bottom-right
        Assert.Equal(-1.959964, z[399, 1], 5);
        // Column 10 has p = 10.5 / 20 = 0.525: Phi^-1(0.525) = 0.0627068... ; symmetric about the centre.
        Assert.Equal(0.06270677794321385, z[10, 0], 5);
        for (int c = 0; c < 20; c++) Assert.Equal(-z[c, 0], z[19 - c, 0], 6);
        for (int i = 1; i < 20; i++) Assert.True(z[i, 0] > z[i - 1, 0]);
    }

    [Fact]
    public void Interpolation_runs_from_the_first_code_to_the_second_in_equal_steps()
    {
        float[] a = { 1f, -2f, 0.5f }, b = { 3f, 2f, -0.5f };
        var z = LatentAnalysis.Interpolate(a, b, 5);
        Assert.Equal((5, 3), (z.Rows, z.Cols));
        for (int s = 0; s < 5; s++)
        for (int d = 0; d < 3; d++)
            Assert.Equal(a[d] + (b[d] - a[d]) * s / 4.0, z[s, d], 6);
        Assert.Equal(a, z.Span[..3].ToArray());  // exact endpoints
        Assert.Equal(b, z.Span[12..].ToArray());
        Assert.Throws<ShapeMismatchException>(() => LatentAnalysis.Interpolate(a, new float[2], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentAnalysis.Interpolate(a, b, 1));
    }
}

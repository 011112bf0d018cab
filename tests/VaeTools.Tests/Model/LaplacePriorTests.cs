using VaeTools.Tests.TestSupport;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

/// <summary>The Laplace(0, tau) prior: its samples and the Monte Carlo KL that trains against it (spec: Model).</summary>
public class LaplacePriorTests
{
    [Theory]
    [InlineData(1.0f, 1.0f)]
    [InlineData(0.5f, 1.0f)]
    [InlineData(1.5f, 0.6f)]
    public void Prior_samples_have_the_laplace_mean_absolute_value_and_variance(float tau, float temperature)
    {
        var model = new VaeModel(new VaeConfig { InputDim = 4, HiddenDims = new[] { 4 }, LatentDim = 5, Prior = Prior.Laplace, LaplaceScale = tau });
        var z = model.SamplePrior(40000, temperature, new RandomSource(12)).ToArray().Select(v => (double)v).ToArray();
        double b = tau * temperature, n = z.Length;            // Laplace(0, b): E|z| = b, Var z = 2 b^2
        double meanAbs = z.Average(Math.Abs), mean = z.Average();
        double variance = z.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        // Standard errors: sd|z| = b; sd(z^2) = sqrt(E z^4 - (E z^2)^2) = sqrt(24 - 4) b^2.
        Assert.True(Math.Abs(meanAbs - b) < 4 * b / Math.Sqrt(n), $"mean |z| {meanAbs:F4}, expected {b}");
        Assert.True(Math.Abs(variance - 2 * b * b) < 4 * Math.Sqrt(20) * b * b / Math.Sqrt(n), $"variance {variance:F4}, expected {2 * b * b}");
        Assert.True(Math.Abs(mean) < 4 * Math.Sqrt(2) * b / Math.Sqrt(n), $"mean {mean:F4}, expected 0");
        // Laplace, not Gaussian: the kurtosis E z^4 / (E z^2)^2 is 6 (a Gaussian has 3).
        double kurtosis = z.Average(v => v * v * v * v) / Math.Pow(z.Average(v => v * v), 2);
        Assert.InRange(kurtosis, 5.3, 6.7);
    }

    [Fact]
    public void Monte_carlo_kl_averages_to_the_integral()
    {
        // KL(N(mu, s^2) || Laplace(0, tau)) per dimension = -1/2 log(2 pi e s^2) + log(2 tau) + E|z| / tau, z ~ N(mu, s^2);
        // E|z| by numerical integration (Simpson, 20000 intervals over mu +- 12 s). The model's one-sample estimate
        // log q(z|x) - log p(z), averaged over 4000 reparameterised draws per image, must agree within its noise.
        const float tau = 0.8f;
        var model = new VaeModel(new VaeConfig { InputDim = 6, HiddenDims = new[] { 8 }, LatentDim = 3, Prior = Prior.Laplace, LaplaceScale = tau, Seed = 9 });
        // Posteriors away from the prior's centre and width, so every term of the KL matters.
        new[] { 1.5f, -0.4f, 0.1f }.CopyTo(model.EncoderMean!.Bias.Value.Span);
        new[] { -1.0f, 0.6f, -2.5f }.CopyTo(model.EncoderLogVariance!.Bias.Value.Span);
        const int b = 3, k = 4000;
        var x = new Tensor(b, 6);
        new RandomSource(2).FillUniform(x.Span, 0f, 1f);
        var loss = model.BuildLossGraph(Objective.Elbo, k, random: new RandomSource(4));
        loss.Data.Set(x);
        loss.Graph.Forward(loss.Loss);
        var kl = loss.Kl!.Value; // [K*B x 1], row s*B + i is sample s of image i

        for (int i = 0; i < b; i++)
        {
            var (mu, lv) = Reference.Encode(model, x.Span.Slice(i * 6, 6));
            double exact = 0;
            for (int d = 0; d < mu.Length; d++)
            {
                double s = Math.Exp(0.5 * lv[d]);
                exact += -0.5 * Math.Log(2 * Math.PI * Math.E * s * s) + Math.Log(2 * tau) + ExpectedAbs(mu[d], s) / tau;
            }
            var samples = Enumerable.Range(0, k).Select(s => (double)kl[s * b + i, 0]).ToArray();
            double mean = samples.Average(), se = Math.Sqrt(Reference.Variance(samples) / k);
            Assert.True(Math.Abs(mean - exact) < 4 * se, $"image {i}: Monte Carlo KL {mean:F4} +- {se:F4}, integral {exact:F4}.");
            Assert.True(se < 0.05, $"image {i}: too noisy to compare ({se:F4}).");
        }
    }

    /// <summary>E|z| for z ~ N(mu, s^2), by Simpson's rule.</summary>
    private static double ExpectedAbs(double mu, double s)
    {
        const int n = 20000;
        double a = mu - 12 * s, h = 24 * s / n, sum = 0;
        for (int j = 0; j <= n; j++)
        {
            double z = a + j * h;
            double f = Math.Abs(z) * Math.Exp(-0.5 * Math.Pow((z - mu) / s, 2)) / (s * Math.Sqrt(2 * Math.PI));
            sum += f * (j == 0 || j == n ? 1 : j % 2 == 1 ? 4 : 2);
        }
        return sum * h / 3;
    }
}

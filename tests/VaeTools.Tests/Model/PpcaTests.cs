using VaeTools.Tests.TestSupport;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

/// <summary>The symmetric eigensolver and probabilistic PCA fitted in closed form (the first seed's linear baseline).</summary>
public class PpcaTests
{
    private static double[] RandomSymmetric(int n, ulong seed)
    {
        var random = new RandomSource(seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = random.NextGaussian();
        return a;
    }

    private static void AssertDecomposes(double[] a, int n, SymmetricEigen eigen, double tolerance)
    {
        double norm = Math.Sqrt(a.Sum(v => v * v));
        for (int k = 0; k < n; k++)
        {
            if (k > 0) Assert.True(eigen.Values[k - 1] >= eigen.Values[k], "eigenvalues must come largest first");
            for (int i = 0; i < n; i++)
            {
                double av = 0;
                for (int j = 0; j < n; j++) av += a[i * n + j] * eigen.Vectors[j * n + k];
                Assert.True(Math.Abs(av - eigen.Values[k] * eigen.Vectors[i * n + k]) <= tolerance * norm, $"A v != lambda v for eigenpair {k}, row {i}");
            }
            for (int l = 0; l <= k; l++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += eigen.Vectors[i * n + k] * eigen.Vectors[i * n + l];
                Assert.Equal(k == l ? 1.0 : 0.0, dot, 10);
            }
        }
    }

    [Theory]
    [InlineData(1, 1UL)]
    [InlineData(2, 2UL)]
    [InlineData(7, 3UL)]
    [InlineData(60, 4UL)]
    public void Eigen_decomposition_satisfies_A_v_equals_lambda_v_with_orthonormal_vectors(int n, ulong seed)
    {
        var a = RandomSymmetric(n, seed);
        var eigen = new SymmetricEigen(a, n);
        AssertDecomposes(a, n, eigen, 1e-12);
        double trace = Enumerable.Range(0, n).Sum(i => a[i * n + i]);
        Assert.Equal(trace, eigen.Values.Sum(), 9);
    }

    [Fact]
    public void Eigenvalues_of_the_second_difference_matrix_are_the_known_cosines()
    {
        // tridiag(-1, 2, -1) of order n has eigenvalues 2 - 2 cos(k pi / (n + 1)), k = 1..n.
        const int n = 30;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            a[i * n + i] = 2;
            if (i > 0) a[i * n + i - 1] = a[(i - 1) * n + i] = -1;
        }
        var eigen = new SymmetricEigen(a, n);
        var expected = Enumerable.Range(1, n).Select(k => 2 - 2 * Math.Cos(k * Math.PI / (n + 1))).OrderByDescending(v => v).ToArray();
        for (int k = 0; k < n; k++) Assert.Equal(expected[k], eigen.Values[k], 12);
    }

    [Fact]
    public void Repeated_and_zero_eigenvalues_are_found_as_well()
    {
        // Q diag(3, 3, 3, 0, 0, 1) Q^T for a random orthogonal Q (from a decomposition of a random matrix).
        const int n = 6;
        var q = new SymmetricEigen(RandomSymmetric(n, 9), n).Vectors;
        double[] lambda = { 3, 3, 3, 0, 0, 1 };
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++) a[i * n + j] += q[i * n + k] * lambda[k] * q[j * n + k];
        var eigen = new SymmetricEigen(a, n);
        Assert.Equal(new[] { 3.0, 3, 3, 1, 0, 0 }, eigen.Values.Select(v => Math.Round(v, 10) + 0.0));
        AssertDecomposes(a, n, eigen, 1e-12);
        Assert.Throws<ArgumentException>(() => new SymmetricEigen(new[] { 1.0, double.NaN, double.NaN, 1.0 }, 2));
    }

    /// <summary>N points from a known PPCA model: x = W z + mu + sigma eps.</summary>
    private static (TensorDataset Data, double[] W, double[] Mu) Generate(int n, int d, int p, double noise, ulong seed)
    {
        var random = new RandomSource(seed);
        var w = new double[d * p];
        for (int i = 0; i < w.Length; i++) w[i] = random.NextGaussian();
        var mu = Enumerable.Range(0, d).Select(j => 0.5 * j - 1).ToArray();
        var x = new Tensor(n, d);
        var z = new double[p];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < p; i++) z[i] = random.NextGaussian();
            for (int j = 0; j < d; j++)
            {
                double v = mu[j] + Math.Sqrt(noise) * random.NextGaussian();
                for (int i = 0; i < p; i++) v += w[j * p + i] * z[i];
                x[r, j] = (float)v;
            }
        }
        return (new TensorDataset(x, null, "generated PPCA data"), w, mu);
    }

    private static double[] DecoderWeight(VaeModel model)
    {
        int d = model.Config.InputDim, p = model.Config.LatentDim;
        var w = new double[d * p];
        var layer = model.DecoderOutput;
        for (int j = 0; j < d; j++)
            for (int i = 0; i < p; i++) w[j * p + i] = layer.InputMajor ? layer.Weight.Value[i, j] : layer.Weight.Value[j, i];
        return w;
    }

    [Fact]
    public void Fit_recovers_the_generating_covariance_noise_and_mean()
    {
        const int d = 8, p = 2;
        var (data, w, mu) = Generate(100_000, d, p, 0.05, 21);
        var model = Ppca.Fit(data, p);
        Assert.Empty(model.Config.HiddenDims);
        Assert.Equal(Likelihood.GaussianSharedVariance, model.Config.Likelihood);
        Assert.Equal(0.05, Math.Exp(model.DecoderLogVariance!.Value[0, 0]), 0.003);
        // W is identified up to a rotation: compare W W^T.
        var fitted = DecoderWeight(model);
        for (int a = 0; a < d; a++)
        {
            Assert.Equal(mu[a], model.DecoderOutput.Bias.Value[0, a], 0.03);
            for (int b = 0; b < d; b++)
            {
                double expected = 0, actual = 0;
                for (int i = 0; i < p; i++) { expected += w[a * p + i] * w[b * p + i]; actual += fitted[a * p + i] * fitted[b * p + i]; }
                Assert.True(Math.Abs(expected - actual) < 0.05 + 0.02 * Math.Abs(expected), $"W W^T[{a},{b}] = {actual:F4}, generated {expected:F4}");
            }
        }
    }

    /// <summary>log N(x; b, W W^T + s I) by a Cholesky factor of the full D x D covariance: no Woodbury, no eigenvectors.</summary>
    private static double DirectLogDensity(ReadOnlySpan<float> x, double[] w, double[] b, double s, int d, int p)
    {
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double v = i == j ? s : 0;
                for (int k = 0; k < p; k++) v += w[i * p + k] * w[j * p + k];
                c[i * d + j] = v;
            }
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double v = c[i * d + j];
                for (int k = 0; k < j; k++) v -= l[i * d + k] * l[j * d + k];
                l[i * d + j] = i == j ? Math.Sqrt(v) : v / l[j * d + j];
            }
        var y = new double[d];
        double quad = 0, logDet = 0;
        for (int i = 0; i < d; i++)
        {
            double v = x[i] - b[i];
            for (int k = 0; k < i; k++) v -= l[i * d + k] * y[k];
            y[i] = v / l[i * d + i];
            quad += y[i] * y[i];
            logDet += 2 * Math.Log(l[i * d + i]);
        }
        return -0.5 * (d * Math.Log(2 * Math.PI) + logDet + quad);
    }

    [Fact]
    public void Exact_log_likelihood_matches_the_full_covariance_density_and_is_rotation_invariant()
    {
        const int d = 6, p = 2;
        var (data, _, _) = Generate(300, d, p, 0.2, 5);
        var model = Ppca.Fit(data, p);
        var exact = Ppca.ExactLogLikelihood(model, data);
        var w = DecoderWeight(model);
        var b = Enumerable.Range(0, d).Select(j => (double)model.DecoderOutput.Bias.Value[0, j]).ToArray();
        double s = Math.Exp(model.DecoderLogVariance!.Value[0, 0]);
        for (int r = 0; r < data.Count; r++)
        {
            double direct = DirectLogDensity(data.Data.Row(r), w, b, s, d, p);
            Assert.True(Math.Abs(direct - exact[r]) < 1e-9 * Math.Max(1, Math.Abs(direct)), $"image {r}: exact {exact[r]:R}, full-covariance {direct:R}");
        }

        // Rotating W's columns leaves W W^T, and so p(x), unchanged.
        var rotated = model.Clone();
        double cos = Math.Cos(0.7), sin = Math.Sin(0.7);
        var layer = rotated.DecoderOutput;
        for (int j = 0; j < d; j++)
        {
            double w0 = w[j * p], w1 = w[j * p + 1];
            float r0 = (float)(cos * w0 - sin * w1), r1 = (float)(sin * w0 + cos * w1);
            if (layer.InputMajor) { layer.Weight.Value[0, j] = r0; layer.Weight.Value[1, j] = r1; }
            else { layer.Weight.Value[j, 0] = r0; layer.Weight.Value[j, 1] = r1; }
        }
        var afterRotation = Ppca.ExactLogLikelihood(rotated, data);
        for (int r = 0; r < data.Count; r++) Assert.Equal(exact[r], afterRotation[r], 4);
    }

    [Theory]
    [InlineData("W scaled by 1.05")]
    [InlineData("W scaled by 0.95")]
    [InlineData("sigma^2 times 1.2")]
    [InlineData("sigma^2 times 0.8")]
    [InlineData("mean shifted")]
    public void The_fit_is_the_maximum_likelihood_linear_Gaussian_model(string change)
    {
        var (data, _, _) = Generate(2000, 6, 2, 0.3, 8);
        var fit = Ppca.Fit(data, 2);
        var other = fit.Clone();
        switch (change)
        {
            case "W scaled by 1.05": Scale(other.DecoderOutput.Weight.Value, 1.05f); break;
            case "W scaled by 0.95": Scale(other.DecoderOutput.Weight.Value, 0.95f); break;
            case "sigma^2 times 1.2": other.DecoderLogVariance!.Value[0, 0] += MathF.Log(1.2f); break;
            case "sigma^2 times 0.8": other.DecoderLogVariance!.Value[0, 0] += MathF.Log(0.8f); break;
            case "mean shifted": other.DecoderOutput.Bias.Value[0, 3] += 0.05f; break;
        }
        double best = Ppca.ExactLogLikelihood(fit, data).Average(), perturbed = Ppca.ExactLogLikelihood(other, data).Average();
        Assert.True(best > perturbed, $"{change}: fitted mean log p(x) {best:F6} should beat the perturbed {perturbed:F6}");

        static void Scale(Tensor t, float f) { var s = t.Span; for (int i = 0; i < s.Length; i++) s[i] *= f; }
    }

    [Fact]
    public void Encoder_is_the_exact_posterior_so_importance_sampling_gives_the_exact_log_likelihood()
    {
        const int d = 8, p = 3;
        var (data, _, _) = Generate(400, d, p, 0.1, 13);
        var model = Ppca.Fit(data, p);
        var w = DecoderWeight(model);
        double s = Math.Exp(model.DecoderLogVariance!.Value[0, 0]);
        // M = W^T W + s I, built from the decoder alone: diagonal for the closed-form W.
        var m = new double[p, p];
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++)
            {
                for (int j = 0; j < d; j++) m[a, b] += w[j * p + a] * w[j * p + b];
                if (a == b) m[a, b] += s;
            }
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++)
                if (a != b) Assert.True(Math.Abs(m[a, b]) < 1e-4 * m[a, a], $"M[{a},{b}] = {m[a, b]}");
        var encoding = model.Encode(data);
        for (int r = 0; r < 50; r++)
            for (int a = 0; a < p; a++)
            {
                double t = 0;
                for (int j = 0; j < d; j++) t += w[j * p + a] * (data.Data[r, j] - model.DecoderOutput.Bias.Value[0, j]);
                Assert.Equal(t / m[a, a], encoding.Mean[r, a], 3);               // M^-1 W^T (x - mu)
                Assert.Equal(Math.Log(s / m[a, a]), encoding.LogVariance[r, a], 4); // sigma^2 M^-1
            }

        // With q(z|x) = p(z|x) every importance weight p(x, z) / q(z | x) is p(x): any K gives log p(x).
        var exact = Ppca.ExactLogLikelihood(model, data);
        var estimate = LikelihoodEstimator.Estimate(model, data, 4, new RandomSource(3));
        for (int r = 0; r < data.Count; r++)
            Assert.True(Math.Abs(exact[r] - estimate.PerImage[r]) < 2e-3 * Math.Max(1, Math.Abs(exact[r])), $"image {r}: exact {exact[r]:F5}, importance-sampled {estimate.PerImage[r]:F5}");
    }

    [Fact]
    public void Bad_input_is_a_clear_error()
    {
        var (data, _, _) = Generate(50, 4, 1, 0.1, 1);
        Assert.Contains("between 1 and 3", Assert.Throws<ArgumentOutOfRangeException>(() => Ppca.Fit(data, 4)).Message);
        var one = new TensorDataset(new Tensor(1, 4), null, "one point");
        Assert.Contains("at least 2 images", Assert.Throws<ArgumentException>(() => Ppca.Fit(one, 1)).Message);
        // Data on a line: PPCA with one component leaves no noise.
        var line = new Tensor(20, 3);
        for (int r = 0; r < 20; r++) { line[r, 0] = r; line[r, 1] = 2 * r; line[r, 2] = -r; }
        Assert.Contains("noise variance would be 0", Assert.Throws<ArgumentException>(() => Ppca.Fit(new TensorDataset(line, null, "a line"), 1)).Message);
        var vae = new VaeModel(new VaeConfig { InputDim = 4, HiddenDims = new[] { 3 }, LatentDim = 1 });
        Assert.False(Ppca.HasExactLikelihood(vae.Config));
        Assert.Contains("no closed form", Assert.Throws<InvalidOperationException>(() => Ppca.ExactLogLikelihood(vae, data)).Message);
    }

    [Fact]
    public void Mean_image_baseline_is_the_squared_distance_to_the_training_mean()
    {
        var train = new Tensor(4, 2);
        float[] values = { 0, 0, 2, 0, 0, 2, 2, 2 }; // mean (1, 1); per-pixel variance 1
        values.CopyTo(train.Span);
        var test = new Tensor(2, 2);
        new float[] { 1, 1, 3, 1 }.CopyTo(test.Span);
        var result = Ppca.MeanImageBaseline(new TensorDataset(train), new TensorDataset(test, new[] { 4, 7 }), byClass: true);
        Assert.Equal(3, result.Count);
        Assert.Equal(2.0, result[0].MeanSquaredError, 12);                 // (0 + 4) / 2
        double ll0 = -Math.Log(2 * Math.PI), ll1 = ll0 - 2;                 // log N(x; (1, 1), I)
        Assert.Equal((ll0 + ll1) / 2, result[0].LogLikelihood!.Value, 12);
        Assert.Equal((ll0 + ll1) / 2, result[0].Elbo, 12);
        Assert.Equal(4, result[1].Label);
        Assert.Equal(0.0, result[1].MeanSquaredError, 12);
        Assert.Equal(7, result[2].Label);
        Assert.Equal(ll1, result[2].LogLikelihood!.Value, 12);
    }

    [Fact]
    public void On_mnist_two_components_beat_the_mean_image()
    {
        var train = Mnist.Train(10000);
        var test = Mnist.Test(1000);
        var ppca = Ppca.Fit(train, 2);
        var mean = Ppca.MeanImageBaseline(train, test)[0];
        var fit = ReconstructionAnalysis.Measure(ppca, test)[0];
        double ll = Ppca.ExactLogLikelihood(ppca, test).Average();
        Assert.True(fit.MeanSquaredError < mean.MeanSquaredError - 5, $"PPCA squared error {fit.MeanSquaredError:F2} vs mean image {mean.MeanSquaredError:F2}");
        Assert.True(ll > mean.LogLikelihood, $"PPCA log p(x) {ll:F1} vs mean image {mean.LogLikelihood:F1}");
    }
}

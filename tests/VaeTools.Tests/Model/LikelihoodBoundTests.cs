using VaeTools.Tests.TestSupport;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using Xunit.Abstractions;

namespace VaeTools.Tests.Model;

/// <summary>A Bernoulli VAE trained briefly on real MNIST, shared by the tests of one class (trained once).</summary>
public sealed class TrainedMnistModel : IDisposable
{
    public TrainedMnistModel()
    {
        Train = Mnist.Train(3000);
        Test = Mnist.Test(400);
        // Reference-like: one ReLU hidden layer, Bernoulli decoder; narrower than 784-400-20 to keep the test quick.
        Model = new VaeModel(new VaeConfig { HiddenDims = new[] { 200 }, LatentDim = 10, Seed = 1 });
        Trainer = new VaeTrainer(Model, new TrainingOptions { Epochs = 3, BatchSize = 100, Seed = 1, Threads = 2 });
        Trainer.Train(Train);
    }

    public TensorDataset Train { get; }
    public TensorDataset Test { get; }
    public VaeModel Model { get; }
    public VaeTrainer Trainer { get; }
    public void Dispose() => Trainer.Dispose();
}

/// <summary>
/// The importance-weighted bounds and the log-likelihood estimate on a trained model (spec: Objectives):
/// L_1 is the ELBO, L_1 &lt;= L_K &lt;= L_{K+1} &lt;= log p(x).
/// </summary>
public class LikelihoodBoundTests(TrainedMnistModel trained, ITestOutputHelper output) : IClassFixture<TrainedMnistModel>
{
    [Fact]
    public void Bounds_rise_with_the_number_of_samples_on_the_same_images()
    {
        var model = trained.Model;
        var l1 = LikelihoodEstimator.Estimate(model, trained.Test, 1, new RandomSource(11));
        var l5 = LikelihoodEstimator.Estimate(model, trained.Test, 5, new RandomSource(12));
        var l50 = LikelihoodEstimator.Estimate(model, trained.Test, 50, new RandomSource(13));
        output.WriteLine($"L_1 {l1.MeanLogLikelihood:F2}, L_5 {l5.MeanLogLikelihood:F2}, L_50 {l50.MeanLogLikelihood:F2} (+- {l1.StandardError:F2} over images)");

        // The bounds are Monte Carlo estimates on the same images, so compare them image by image: the mean of the
        // per-image differences has a standard error free of the (large) spread between images. Each gap must be
        // positive by more than 4 of its standard errors (a noise-only difference would be within ~2).
        AssertSignificantlyAbove(l5, l1, "L_5 - L_1");
        AssertSignificantlyAbove(l50, l5, "L_50 - L_5");
    }

    private void AssertSignificantlyAbove(LikelihoodEstimate upper, LikelihoodEstimate lower, string what)
    {
        var diff = upper.PerImage.Zip(lower.PerImage, (a, b) => a - b).ToArray();
        double mean = diff.Average(), se = Math.Sqrt(Reference.Variance(diff) / diff.Length);
        output.WriteLine($"{what}: {mean:F3} +- {se:F3}");
        Assert.True(mean > 4 * se, $"{what} = {mean:F3} nats per image, standard error {se:F3}: expected clearly positive.");
    }

    [Fact]
    public void Elbo_lies_below_the_5000_sample_estimate()
    {
        var model = trained.Model;
        var images = RowSubset.Range(trained.Test, 0, 40);
        using var pool = new WorkerPool(2);
        var big = LikelihoodEstimator.Estimate(model, images, 5000, new RandomSource(21), pool);
        // 5000 samples are drawn in several chunks (MaxRowsPerChunk / 40 = 204 samples each): the running
        // log-sum-exp across chunks is part of what is tested.
        Assert.True(LikelihoodEstimator.MaxRowsPerChunk / images.Count < 5000);

        // The ELBO the trainer reports (negated loss), averaged over 20 draws of z to shrink its noise.
        double elbo = Enumerable.Range(0, 20).Average(_ => -trained.Trainer.Evaluate(images).Loss);
        var l50 = LikelihoodEstimator.Estimate(model, images, 50, new RandomSource(22));
        output.WriteLine($"ELBO {elbo:F2}, L_50 {l50.MeanLogLikelihood:F2}, L_5000 {big.MeanLogLikelihood:F2} +- {big.StandardError:F2}");

        Assert.True(elbo < big.MeanLogLikelihood, $"ELBO {elbo:F2} should be below log p(x) ~ {big.MeanLogLikelihood:F2}.");
        Assert.True(l50.MeanLogLikelihood < big.MeanLogLikelihood, $"L_50 {l50.MeanLogLikelihood:F2} should be below L_5000 {big.MeanLogLikelihood:F2}.");
        // Per image too: L_5000 of every image is above that image's L_1 by a clear majority.
        var l1 = LikelihoodEstimator.Estimate(model, images, 1, new RandomSource(23));
        int above = big.PerImage.Zip(l1.PerImage).Count(p => p.First > p.Second);
        Assert.True(above >= 36, $"L_5000 above L_1 for only {above} of 40 images.");
        // A likelihood of binary-ish MNIST under a trained model is a few hundred nats below 0, never above.
        Assert.InRange(big.MeanLogLikelihood, -300, -50);
    }

    [Fact]
    public void One_sample_estimate_equals_the_elbo_in_expectation()
    {
        // L_1 = log p(x|z) + log p(z) - log q(z|x) with z ~ q: a one-sample ELBO whose KL is a Monte Carlo estimate.
        // Its mean must equal the ELBO with the closed-form KL (ReconstructionAnalysis) on the same images. Both are
        // averaged over the same 400 images, so only sampling noise separates them; compare over 32 seeds.
        var model = trained.Model;
        var diffs = new double[32];
        for (int s = 0; s < diffs.Length; s++)
        {
            double l1 = LikelihoodEstimator.Estimate(model, trained.Test, 1, new RandomSource(100 + (ulong)s)).MeanLogLikelihood;
            double elbo = ReconstructionAnalysis.Measure(model, trained.Test, seed: 200 + (ulong)s)[0].Elbo;
            diffs[s] = l1 - elbo;
        }
        double mean = diffs.Average(), se = Math.Sqrt(Reference.Variance(diffs) / diffs.Length);
        output.WriteLine($"L_1 - ELBO = {mean:F3} +- {se:F3}");
        // A wrong constant (e.g. a missing P/2 log 2pi = 9.2 nats here, or log K) would be far outside this.
        Assert.True(Math.Abs(mean) < Math.Max(4 * se, 0.05), $"L_1 - ELBO = {mean:F3} +- {se:F3}: expected 0 within the noise.");
        Assert.True(se < 0.3, $"the comparison is too noisy to mean anything (standard error {se:F3}).");
    }

    [Fact]
    public void Standard_error_is_the_spread_of_the_per_image_values_over_the_square_root_of_their_count()
    {
        var est = LikelihoodEstimator.Estimate(trained.Model, trained.Test, 3, new RandomSource(31));
        Assert.Equal(trained.Test.Count, est.PerImage.Length);
        Assert.Equal(trained.Test.Count, est.Count);
        Assert.Equal(3, est.Samples);
        double mean = est.PerImage.Average();
        double sd = Math.Sqrt(est.PerImage.Sum(v => (v - mean) * (v - mean)) / (est.PerImage.Length - 1));
        Assert.Equal(mean, est.MeanLogLikelihood, 9);
        Assert.Equal(sd / Math.Sqrt(est.PerImage.Length), est.StandardError, 9);
    }

    [Fact]
    public void Estimate_equals_a_float64_log_mean_exp_of_importance_weights_with_the_same_draws()
    {
        // L_K of single images computed from scratch in float64: own encoder and decoder arithmetic, textbook densities,
        // own log-mean-exp. The estimator draws eps for [K x P] row by row from the source it is given (sample k of a
        // lone image is row k), so replaying the same seed here gives the same z; what remains is float32 rounding.
        var model = trained.Model;
        var x = new float[trained.Test.Features];
        const int k = 300;
        for (int i = 0; i < 3; i++)
        {
            var image = RowSubset.Range(trained.Test, i, 1);
            image.CopyRows(new[] { 0 }, x, null);
            var (mu, lv) = Reference.Encode(model, x);
            var random = new NormalReplay(new RandomSource(40 + (ulong)i));
            var logW = new double[k];
            var z = new float[mu.Length];
            for (int s = 0; s < k; s++)
            {
                double logQ = 0, logP = 0;
                for (int d = 0; d < mu.Length; d++)
                {
                    double sd = Math.Exp(0.5 * lv[d]);
                    z[d] = (float)(mu[d] + sd * random.Next());
                    logQ += Reference.GaussianLogPdf(z[d], mu[d], sd);
                    logP += Reference.GaussianLogPdf(z[d], 0, 1);
                }
                logW[s] = Reference.LogLikelihood(model, Reference.DecoderOutput(model, z), x) + logP - logQ;
            }
            double direct = Reference.LogMeanExp(logW);
            var est = LikelihoodEstimator.Estimate(model, image, k, new RandomSource(40 + (ulong)i));
            output.WriteLine($"image {i}: float64 L_{k} {direct:F4}, estimator {est.MeanLogLikelihood:F4}");
            Assert.True(Math.Abs(direct - est.MeanLogLikelihood) < 0.05, $"image {i}: float64 L_{k} {direct:F4} vs estimator {est.MeanLogLikelihood:F4}.");
        }
    }
}

/// <summary>The estimator's handling of data that changes each time it is read (dynamic binarization).</summary>
public class LikelihoodEstimatorDataTests
{
    /// <summary>Returns the source's rows on the first read and their negatives (1 - x) on every later read.</summary>
    private sealed class ChangesAfterFirstRead(IDataset source) : IDataset
    {
        private int _reads;
        public int Count => source.Count;
        public int Features => source.Features;
        public string Description => "changes after the first read";
        public int GetLabel(int index) => source.GetLabel(index);
        public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
        {
            source.CopyRows(indices, destination, random);
            if (_reads++ > 0)
                for (int i = 0; i < destination.Length; i++) destination[i] = 1 - destination[i];
        }
    }

    [Fact]
    public void Every_chunk_of_samples_sees_the_same_draw_of_each_image()
    {
        // With dynamic binarization every read of an image is a fresh draw; log p(x) is about one x, so all K
        // samples of an image must be weighed against the same draw, however many chunks K is split into.
        var model = new VaeModel(new VaeConfig { HiddenDims = new[] { 32 }, LatentDim = 3, Seed = 5 });
        var images = Mnist.Test(4);
        int samples = 3 * LikelihoodEstimator.MaxRowsPerChunk / images.Count; // three chunks
        var fixedData = LikelihoodEstimator.Estimate(model, images, samples, new RandomSource(9));
        var changing = LikelihoodEstimator.Estimate(model, new ChangesAfterFirstRead(images), samples, new RandomSource(9));
        for (int i = 0; i < images.Count; i++)
            Assert.True(Math.Abs(fixedData.PerImage[i] - changing.PerImage[i]) < 1e-9,
                $"image {i}: {changing.PerImage[i]} from data re-read per chunk vs {fixedData.PerImage[i]} from fixed data.");
    }
}

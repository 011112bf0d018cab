using VaeTools.Tests.TestSupport;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using Xunit.Abstractions;

namespace VaeTools.Tests.Model;

/// <summary>What training with each objective and setting must show (spec: Objectives, Analysis).</summary>
public class TrainingBehaviourTests(ITestOutputHelper output)
{
    private static (VaeModel Model, VaeTrainer Trainer) Trained(VaeConfig config, TrainingOptions options, IDataset data)
    {
        var model = new VaeModel(config);
        var trainer = new VaeTrainer(model, options);
        trainer.Train(data);
        return (model, trainer);
    }

    [Fact]
    public void Beta_zero_reconstructs_best_and_beta_ten_uses_the_least_kl()
    {
        var train = Mnist.Train(2000);
        var test = Mnist.Test(500);
        var results = new Dictionary<float, (double SquaredError, double Kl)>();
        foreach (float beta in new[] { 0f, 1f, 10f })
        {
            // Same data, architecture, seed and batches: only beta differs.
            var (model, trainer) = Trained(new VaeConfig { HiddenDims = new[] { 200 }, LatentDim = 10, Beta = beta, Seed = 2 },
                new TrainingOptions { Epochs = 5, BatchSize = 50, Seed = 2, Threads = 2 }, train);
            using (trainer)
                results[beta] = (Reference.SquaredError(model, test), LatentAnalysis.Usage(model, test).TotalKl);
            output.WriteLine($"beta {beta}: squared error {results[beta].SquaredError:F2}, KL {results[beta].Kl:F2}");
        }
        Assert.True(results[0].SquaredError < results[1].SquaredError,
            $"beta 0 squared error {results[0].SquaredError:F2} should be below beta 1's {results[1].SquaredError:F2}.");
        Assert.True(results[10].Kl < results[1].Kl, $"beta 10 KL {results[10].Kl:F2} should be below beta 1's {results[1].Kl:F2}.");
        // And the other way round on each axis: a heavier KL weight costs reconstruction.
        Assert.True(results[1].SquaredError < results[10].SquaredError);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Toy_set_collapses_when_axis_aligned_and_uses_the_latent_when_rotated(ulong seed)
    {
        // x ~ N([2, 3], diag(3^2, 1^2)): a decoder with per-dimension variance models it with no latent at all, so the
        // optimum has KL = 0. Rotated 45 degrees the coordinates correlate (covariance [[5, 4], [4, 5]]), which a
        // diagonal decoder can only express through z: the KL stays well above 0.
        var usage = new Dictionary<bool, double>();
        foreach (bool rotated in new[] { false, true })
        {
            var data = ToyDatasets.Gaussian2D(2000, rotated, seed: 7);
            var (model, trainer) = Trained(
                new VaeConfig { InputDim = 2, HiddenDims = new[] { 16 }, LatentDim = 1, Activation = Activation.Tanh, Likelihood = Likelihood.GaussianPerDimensionVariance, Seed = seed },
                new TrainingOptions { Epochs = 30, BatchSize = 100, LearningRate = 1e-2f, Seed = seed, Threads = 1 }, data);
            using (trainer)
            {
                usage[rotated] = LatentAnalysis.Usage(model, data).TotalKl;
                // Both fits reach about the true entropy: log 2pi + log 3 + 1 = 3.94 nats per point.
                double loss = trainer.Evaluate(data).Loss;
                output.WriteLine($"rotated {rotated}, seed {seed}: KL {usage[rotated]:F4}, loss {loss:F3}");
                Assert.InRange(loss, 3.85, 4.1);
            }
        }
        Assert.True(usage[false] < 0.05, $"axis-aligned: total KL {usage[false]:F4} nats, expected collapse (< 0.05).");
        Assert.True(usage[true] > 0.5, $"rotated: total KL {usage[true]:F4} nats, expected the latent in use (> 0.5).");
    }

    [Fact]
    public void Learned_shared_variance_falls_well_below_one_and_reconstructions_beat_the_mean_image()
    {
        // The spec's configuration exactly: 784-400-2, linear mean, Adam 1e-2, batch 500, the full training set;
        // 3 of its 20 epochs (360 steps) already show the effect (measured: variance 0.07, squared error 38.9 vs 50.2).
        var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train });
        var test = Mnist.Test(500);
        var (model, trainer) = Trained(
            new VaeConfig { HiddenDims = new[] { 400 }, LatentDim = 2, Likelihood = Likelihood.GaussianSharedVariance, Seed = 1 },
            new TrainingOptions { Epochs = 3, BatchSize = 500, LearningRate = 1e-2f, Seed = 1, Threads = 2 }, train);
        trainer.Dispose();
        double variance = Math.Exp(model.GetParameter("decoder.logvar").Value[0, 0]);

        // Squared error of predicting every test image by the mean training image.
        int d = train.Features;
        var meanImage = new double[d];
        var rows = new int[1000];
        var chunk = new float[rows.Length * d];
        for (int start = 0; start < train.Count; start += rows.Length)
        {
            for (int i = 0; i < rows.Length; i++) rows[i] = start + i;
            train.CopyRows(rows, chunk, null);
            for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < d; j++) meanImage[j] += chunk[i * d + j] / (double)train.Count;
        }
        double baseline = 0;
        for (int i = 0; i < test.Count; i++)
        for (int j = 0; j < d; j++) baseline += Math.Pow(test.Data[i, j] - meanImage[j], 2) / test.Count;
        double squaredError = Reference.SquaredError(model, test);

        // The variance that maximises the likelihood given the decoder is the mean squared error per pixel at
        // z ~ q(z|x); the learned one must be near it (a std/variance mix-up would be off by its square root).
        var train500 = Mnist.Train(500);
        var z = model.SampleLatent(model.Encode(train500), new RandomSource(3));
        var recon = model.Decode(z);
        double sampled = 0;
        for (int i = 0; i < train500.Count; i++)
        for (int j = 0; j < d; j++) sampled += Math.Pow(train500.Data[i, j] - recon[i, j], 2);
        double optimum = sampled / (train500.Count * (double)d);

        output.WriteLine($"learned variance {variance:F4} (optimum for the decoder {optimum:F4}); test squared error {squaredError:F2} vs mean image {baseline:F2}");
        Assert.True(variance < 0.2, $"learned variance {variance:F4}: expected well below 1.");
        Assert.InRange(variance / optimum, 0.5, 2.0);
        Assert.InRange(baseline, 45, 60); // MNIST's per-image pixel variance sum is about 52
        Assert.True(squaredError < 0.85 * baseline, $"test squared error {squaredError:F2} vs {baseline:F2} for the mean image.");
    }

    [Fact]
    public void Iwae_and_k_sample_elbo_training_improve_their_bounds()
    {
        var train = Mnist.Train(1000);
        var config = new VaeConfig { HiddenDims = new[] { 100 }, LatentDim = 5, Seed = 6 };
        foreach (var objective in new[] { Objective.Iwae, Objective.Elbo })
        {
            var model = new VaeModel(config);
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 100, Objective = objective, Samples = 5, Seed = 6, Threads = 2 });
            var images = RowSubset.Range(train, 0, 300);
            double before = LikelihoodEstimator.Estimate(model, images, 5, new RandomSource(1)).MeanLogLikelihood;
            var result = trainer.Train(train);
            double after = LikelihoodEstimator.Estimate(model, images, 5, new RandomSource(1)).MeanLogLikelihood;
            output.WriteLine($"{objective} K=5: L_5 {before:F1} -> {after:F1}; epoch losses {string.Join(", ", result.Epochs.Select(e => e.TrainLoss.ToString("F1")))}");
            Assert.True(after > before + 100, $"{objective} K=5 training: L_5 {before:F1} -> {after:F1}, expected a large rise.");
            Assert.True(result.Epochs[2].TrainLoss < result.Epochs[0].TrainLoss);
            if (objective == Objective.Iwae)
            {
                // The IWAE loss is -L_5: the trainer's evaluation and the estimator's L_5 estimate the same number.
                double evaluated = Enumerable.Range(0, 5).Average(_ => -trainer.Evaluate(images).Loss);
                Assert.True(Math.Abs(evaluated - after) < 1.5, $"-IWAE loss {evaluated:F2} vs estimated L_5 {after:F2}.");
            }
        }
    }

    [Fact]
    public void Kl_warmup_lets_the_kl_grow_while_beta_is_small()
    {
        var train = Mnist.Train(1000);
        var config = new VaeConfig { HiddenDims = new[] { 100 }, LatentDim = 10, Seed = 8 };
        double KlAfterOneEpoch(int warmup)
        {
            var model = new VaeModel(config);
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 50, KlWarmupEpochs = warmup, Seed = 8, Threads = 2 });
            var record = trainer.Train(train).Epochs[0];
            // Beta rose linearly over the warm-up: 20 steps of a 10-epoch ramp end at 19/200.
            Assert.Equal(warmup == 0 ? 1.0 : 19.0 / (20 * warmup), record.Beta, 9);
            return LatentAnalysis.Usage(model, train).TotalKl;
        }
        double plain = KlAfterOneEpoch(0), warm = KlAfterOneEpoch(10);
        output.WriteLine($"KL after one epoch: {plain:F2} without warm-up, {warm:F2} with a 10-epoch warm-up");
        Assert.True(warm > plain, $"with beta near 0 the encoder is free to use more KL: {warm:F2} vs {plain:F2}.");
    }
}

using VaeTools.Tests.TestSupport;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

/// <summary>
/// Every likelihood and every objective against an independent float64 computation: the reference reads the
/// weights and redoes the MLP and the densities with plain loops (spec: Model, Objectives).
/// </summary>
public class LossFormulaTests
{
    public static TheoryData<Likelihood, bool> Likelihoods() => new()
    {
        { Likelihood.Bernoulli, false },
        { Likelihood.GaussianUnitVariance, false },
        { Likelihood.GaussianUnitVariance, true },
        { Likelihood.GaussianSharedVariance, false },
        { Likelihood.GaussianSharedVariance, true },
        { Likelihood.GaussianPerDimensionVariance, false },
        { Likelihood.GaussianPerDimensionVariance, true },
    };

    private static VaeModel SmallModel(Likelihood likelihood, bool sigmoidMean, bool decoderOnly = false, Prior prior = Prior.StandardNormal,
        int inputs = 12, int latent = 3, int priorSamples = 5)
    {
        var model = new VaeModel(new VaeConfig
        {
            InputDim = inputs, HiddenDims = new[] { 16, 8 }, LatentDim = latent, Activation = Activation.Tanh,
            Likelihood = likelihood, SigmoidMean = sigmoidMean, DecoderOnly = decoderOnly, PriorSamples = priorSamples,
            Prior = prior, LaplaceScale = 0.7f, Seed = 17,
        });
        // A shared variance away from its starting value 1, so a formula that ignores it is caught.
        model.DecoderLogVariance?.Value.Span.Fill(-0.8f);
        return model;
    }

    /// <summary>Data in [0, 1], like pixels.</summary>
    private static Tensor Data(int rows, int cols, ulong seed)
    {
        var t = new Tensor(rows, cols);
        new RandomSource(seed).FillUniform(t.Span, 0f, 1f);
        return t;
    }

    private static ReadOnlySpan<float> Row(Tensor t, int r) => t.Span.Slice(r * t.Cols, t.Cols);

    [Theory]
    [MemberData(nameof(Likelihoods))]
    public void Reconstruction_term_equals_a_float64_log_density_of_the_decoder_outputs(Likelihood likelihood, bool sigmoidMean)
    {
        var model = SmallModel(likelihood, sigmoidMean);
        var z = Data(5, 3, 1);
        for (int i = 0; i < z.Length; i++) z.Span[i] = 4 * z.Span[i] - 2; // codes in [-2, 2]
        var x = Data(5, 12, 2);

        var g = new Graph();
        var zIn = g.Input("z", 3);
        var xIn = g.Input("x", 12);
        var logLik = model.BuildLogLikelihood(g, model.BuildDecoder(g, zIn), xIn);
        zIn.Set(z);
        xIn.Set(x);
        g.Forward(logLik);

        for (int r = 0; r < 5; r++)
        {
            double expected = Reference.LogLikelihood(model, Reference.DecoderOutput(model, Row(z, r)), Row(x, r));
            Assert.True(Math.Abs(logLik.Value[r, 0] - expected) < 1e-4 * (1 + Math.Abs(expected)),
                $"{likelihood} (sigmoid mean {sigmoidMean}), row {r}: log p(x|z) {logLik.Value[r, 0]} vs float64 {expected}.");
        }
    }

    [Theory]
    [InlineData(Likelihood.Bernoulli, Objective.Elbo, 1, Prior.StandardNormal)]
    [InlineData(Likelihood.GaussianPerDimensionVariance, Objective.Elbo, 1, Prior.StandardNormal)]
    [InlineData(Likelihood.GaussianSharedVariance, Objective.Elbo, 4, Prior.StandardNormal)]
    [InlineData(Likelihood.GaussianUnitVariance, Objective.Elbo, 3, Prior.Laplace)]
    [InlineData(Likelihood.Bernoulli, Objective.Iwae, 5, Prior.StandardNormal)]
    [InlineData(Likelihood.GaussianPerDimensionVariance, Objective.Iwae, 3, Prior.Laplace)]
    [InlineData(Likelihood.Bernoulli, Objective.Iwae, 1, Prior.StandardNormal)]
    public void Training_loss_equals_a_float64_replay_of_the_same_draws(Likelihood likelihood, Objective objective, int k, Prior prior)
    {
        // The loss graph draws eps for its [K*B x P] sample rows, row by row, from the source it is given; row
        // k*B + b is sample k of image b. Replaying the seed gives the same z, and the loss follows from the spec:
        //   ELBO (K samples): mean over images and samples of KL - log p(x|z), KL closed-form for N(0, I),
        //                     log q(z|x) - log p(z) for the Laplace prior;
        //   IWAE: -mean over images of log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x).
        const int b = 4, p = 3;
        var model = SmallModel(likelihood, sigmoidMean: false, prior: prior);
        var x = Data(b, 12, 3);
        var loss = model.BuildLossGraph(objective, k, random: new RandomSource(77));
        loss.Data.Set(x);
        loss.Graph.Forward(loss.Loss);

        var replay = new NormalReplay(new RandomSource(77));
        var eps = new double[k, b, p];
        for (int s = 0; s < k; s++)
        for (int i = 0; i < b; i++)
        for (int d = 0; d < p; d++)
            eps[s, i, d] = replay.Next();

        double tau = model.Config.LaplaceScale, total = 0;
        var z = new float[p];
        for (int i = 0; i < b; i++)
        {
            var (mu, lv) = Reference.Encode(model, Row(x, i));
            var logW = new double[k];
            double elboTerms = 0;
            for (int s = 0; s < k; s++)
            {
                double logQ = 0, logPrior = 0, klClosed = 0;
                for (int d = 0; d < p; d++)
                {
                    double sd = Math.Exp(0.5 * lv[d]);
                    z[d] = (float)(mu[d] + sd * eps[s, i, d]);
                    logQ += Reference.GaussianLogPdf(z[d], mu[d], sd);
                    logPrior += prior == Prior.Laplace ? -Math.Log(2 * tau) - Math.Abs(z[d]) / tau : Reference.GaussianLogPdf(z[d], 0, 1);
                    klClosed += Math.Log(1 / sd) + (sd * sd + mu[d] * mu[d]) / 2 - 0.5; // KL(N(mu, sd^2) || N(0, 1))
                }
                double logLik = Reference.LogLikelihood(model, Reference.DecoderOutput(model, z), Row(x, i));
                logW[s] = logLik + logPrior - logQ;
                elboTerms += (prior == Prior.Laplace ? logQ - logPrior : klClosed) - logLik;
            }
            total += objective == Objective.Iwae ? -Reference.LogMeanExp(logW) : elboTerms / k;
        }
        double expected = total / b;
        float actual = loss.Loss.Value[0, 0];
        Assert.True(Math.Abs(actual - expected) < 1e-4 * (1 + Math.Abs(expected)),
            $"{objective} K={k} {likelihood} {prior}: loss {actual} vs float64 replay {expected}.");
    }

    [Theory]
    [MemberData(nameof(Likelihoods))]
    public void Decoder_only_loss_equals_minus_mean_log_mean_likelihood_over_the_shared_prior_samples(Likelihood likelihood, bool sigmoidMean)
    {
        // -mean_b log (1/K) sum_k p(x_b | z_k) with the K codes the graph drew (shared by the batch), in float64.
        const int k = 7, b = 5;
        var model = SmallModel(likelihood, sigmoidMean, decoderOnly: true, priorSamples: k);
        var x = Data(b, 12, 4);
        var loss = model.BuildDecoderOnlyLossGraph(random: new RandomSource(5));
        loss.Data.Set(x);
        loss.Graph.Forward(loss.Loss);
        var z = Assert.Single(loss.Graph.Nodes.OfType<NoiseNode>()).Value;
        Assert.Equal((k, 3), (z.Rows, z.Cols));

        var outputs = Enumerable.Range(0, k).Select(s => Reference.DecoderOutput(model, Row(z, s))).ToArray();
        double sum = 0;
        for (int i = 0; i < b; i++)
        {
            var perSample = outputs.Select(o => Reference.LogLikelihood(model, o, Row(x, i))).ToArray();
            double logPx = Reference.LogMeanExp(perSample);
            Assert.True(Math.Abs(loss.LogLikelihood.Value[i, 0] - logPx) < 1e-4 * (1 + Math.Abs(logPx)),
                $"{likelihood}: image {i} log p(x) {loss.LogLikelihood.Value[i, 0]} vs float64 {logPx}.");
            sum += logPx;
        }
        Assert.True(Math.Abs(loss.Loss.Value[0, 0] + sum / b) < 1e-4 * (1 + Math.Abs(sum / b)),
            $"{likelihood}: loss {loss.Loss.Value[0, 0]} vs float64 {-sum / b}.");
    }

    [Fact]
    public void Decoder_only_prior_samples_follow_the_laplace_prior_when_chosen()
    {
        var model = SmallModel(Likelihood.Bernoulli, false, decoderOnly: true, prior: Prior.Laplace, priorSamples: 20000);
        var loss = model.BuildDecoderOnlyLossGraph(random: new RandomSource(6));
        loss.Data.Set(Data(1, 12, 5));
        loss.Graph.Forward(loss.Loss);
        var z = loss.Graph.Nodes.OfType<NoiseNode>().Single().Value;
        double meanAbs = z.ToArray().Average(v => Math.Abs((double)v));
        // E|z| = tau = 0.7 for Laplace(0, tau); a standard normal would give sqrt(2/pi) = 0.80. SE = tau / sqrt(60000).
        Assert.InRange(meanAbs, 0.7 - 0.015, 0.7 + 0.015);
    }

    [Fact]
    public void Decoder_only_model_trains_and_refuses_to_encode_saying_why()
    {
        var train = Mnist.Train(1000);
        var model = new VaeModel(new VaeConfig { HiddenDims = new[] { 64 }, LatentDim = 2, DecoderOnly = true, PriorSamples = 5, Seed = 3 });
        using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 100, Seed = 3, Threads = 2 });
        double before = trainer.Evaluate(train).Loss;
        var result = trainer.Train(train);
        double after = trainer.Evaluate(train).Loss;
        // Untrained: ~784 ln 2 = 543 nats; the best z-independent model (per-pixel mean) costs ~206 nats.
        Assert.True(after < before - 100, $"decoder-only loss {before:F1} -> {after:F1}: expected to fall by over 100 nats.");
        Assert.True(result.Epochs[2].TrainLoss < result.Epochs[0].TrainLoss);
        Assert.Equal(0, result.Epochs[2].TrainKl);

        var error = Assert.Throws<InvalidOperationException>(() => model.Encode(train));
        Assert.Contains("decoder-only", error.Message);
        Assert.Contains("no encoder", error.Message);
    }
}

public class DecoderOnlyGaussianTrainingTests
{
    [Theory]
    [InlineData(Likelihood.GaussianSharedVariance)]
    [InlineData(Likelihood.GaussianUnitVariance)]
    [InlineData(Likelihood.GaussianPerDimensionVariance)]
    public void Decoder_only_gaussian_models_train(Likelihood likelihood)
    {
        var train = Mnist.Train(500);
        var model = new VaeModel(new VaeConfig { HiddenDims = new[] { 32 }, LatentDim = 2, DecoderOnly = true, Likelihood = likelihood, SigmoidMean = true, Seed = 4 });
        using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 4, BatchSize = 50, LearningRate = 3e-3f, Seed = 4, Threads = 1 });
        double before = trainer.Evaluate(train).Loss;
        trainer.Train(train);
        double after = trainer.Evaluate(train).Loss;
        Assert.True(double.IsFinite(after) && after < before - 1, $"{likelihood} decoder-only loss {before:F2} -> {after:F2}: expected to fall.");
    }
}

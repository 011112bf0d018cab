using TorchSharp;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.Torch;
using TTensor = TorchSharp.torch.Tensor;

namespace VaeTools.Tests.Torch;

/// <summary>
/// The two engines run the same model maths (VaeMath) on their own autodiff: with the same weights and the same noise
/// (both draw eps from a RandomSource of the same seed) the loss and every parameter's gradient agree to 1e-4 relative,
/// for every likelihood, prior and objective; one optimiser step of Adam, SGD and Adagrad (managed optimisers against
/// torch.optim) gives the same weights to 1e-5.
/// </summary>
public class CrossEngineTests
{
    private static Tensor Batch(int rows, int cols, ulong seed, bool binary = false)
    {
        var x = new Tensor(rows, cols);
        var r = new RandomSource(seed);
        r.FillUniform(x.Span, 0f, 1f);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] < 0.5f) s[i] = 0f; // about half the pixels zero, as in MNIST (the managed input layer skips them)
            else if (binary) s[i] = 1f;
        }
        return x;
    }

    private static VaeConfig Small(Likelihood likelihood = Likelihood.Bernoulli) => new()
    {
        InputDim = 30, HiddenDims = new[] { 12, 7 }, LatentDim = 3, Likelihood = likelihood, Seed = 5,
    };

    public static TheoryData<string> Cases => new()
    {
        "bernoulli", "gaussian-shared", "gaussian-perdim", "gaussian-unit", "gaussian-shared-sigmoid", "gaussian-perdim-sigmoid",
        "laplace", "beta", "elbo-k4", "iwae-k5", "iwae-laplace-k3", "decoder-only-bernoulli", "decoder-only-gaussian-shared",
        "decoder-only-laplace-perdim", "tanh", "leakyrelu", "elu", "softplus", "one-hidden",
    };

    private static (VaeConfig Config, Objective Objective, int Samples) Case(string name) => name switch
    {
        "bernoulli" => (Small(), Objective.Elbo, 1),
        "gaussian-shared" => (Small(Likelihood.GaussianSharedVariance), Objective.Elbo, 1),
        "gaussian-perdim" => (Small(Likelihood.GaussianPerDimensionVariance), Objective.Elbo, 1),
        "gaussian-unit" => (Small(Likelihood.GaussianUnitVariance), Objective.Elbo, 1),
        "gaussian-shared-sigmoid" => (Small(Likelihood.GaussianSharedVariance) with { SigmoidMean = true }, Objective.Elbo, 1),
        "gaussian-perdim-sigmoid" => (Small(Likelihood.GaussianPerDimensionVariance) with { SigmoidMean = true }, Objective.Elbo, 1),
        "laplace" => (Small() with { Prior = Prior.Laplace, LaplaceScale = 0.7f }, Objective.Elbo, 1),
        "beta" => (Small() with { Beta = 4f }, Objective.Elbo, 1),
        "elbo-k4" => (Small(), Objective.Elbo, 4),
        "iwae-k5" => (Small(), Objective.Iwae, 5),
        "iwae-laplace-k3" => (Small(Likelihood.GaussianPerDimensionVariance) with { Prior = Prior.Laplace }, Objective.Iwae, 3),
        "decoder-only-bernoulli" => (Small() with { DecoderOnly = true, PriorSamples = 6 }, Objective.Elbo, 1),
        "decoder-only-gaussian-shared" => (Small(Likelihood.GaussianSharedVariance) with { DecoderOnly = true, PriorSamples = 4 }, Objective.Elbo, 1),
        "decoder-only-laplace-perdim" => (Small(Likelihood.GaussianPerDimensionVariance) with { DecoderOnly = true, PriorSamples = 5, Prior = Prior.Laplace }, Objective.Elbo, 1),
        "tanh" => (Small() with { Activation = Activation.Tanh }, Objective.Elbo, 1),
        "leakyrelu" => (Small() with { Activation = Activation.LeakyRelu, LeakySlope = 0.1f }, Objective.Elbo, 1),
        "elu" => (Small() with { Activation = Activation.Elu }, Objective.Elbo, 1),
        "softplus" => (Small() with { Activation = Activation.Softplus }, Objective.Elbo, 1),
        "one-hidden" => (Small() with { HiddenDims = new[] { 9 } }, Objective.Elbo, 1),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The managed engine's loss and gradients (in the file layout) for one batch.</summary>
    private static (double Loss, Dictionary<string, float[]> Grads) Managed(VaeModel model, Objective objective, int samples, Tensor x, ulong noiseSeed)
    {
        var graph = model.BuildLossGraph(objective, samples, random: new RandomSource(noiseSeed));
        graph.Data.Set(x);
        graph.Graph.Forward(graph.Loss);
        graph.Graph.Backward(graph.Loss);
        var grads = model.Parameters.ToDictionary(p => p.Name, p => (p.InputMajor ? p.Grad.Transpose() : p.Grad).ToArray());
        return (graph.Loss.Value[0, 0], grads);
    }

    private static (double Loss, Dictionary<string, float[]> Grads) Torch(VaeModel model, Objective objective, int samples, Tensor x, ulong noiseSeed)
    {
        var backend = (TorchBackend)model.Backend!;
        var module = backend.Module;
        using var scope = torch.NewDisposeScope();
        module.zero_grad();
        var ops = new TorchOps(module, new RandomSource(noiseSeed));
        var xt = torch.tensor(x.ToArray(), new long[] { x.Rows, x.Cols });
        var parts = new VaeMath<TTensor>(model.Config, ops).Loss(xt, objective, samples, model.Config.Beta);
        parts.Loss.backward();
        var grads = model.Parameters.ToDictionary(p => p.Name, p => module.GetParameter(p.Name).grad!.contiguous().data<float>().ToArray());
        return (parts.Loss.item<float>(), grads);
    }

    private static void AssertClose(float[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs((double)v));
        double worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(expected[i] - (double)actual[i]);
            if (e > worst) { worst = e; at = i; }
        }
        Assert.True(worst <= relative * Math.Max(scale, 1e-6),
            $"{what}: largest difference {worst:G4} at {at} ({(at >= 0 ? expected[at] : 0)} against {(at >= 0 ? actual[at] : 0)}), over {relative} of the largest value {scale:G4}.");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SameWeightsAndNoise_GiveTheSameLossAndGradients(string name)
    {
        var (config, objective, samples) = Case(name);
        var model = new VaeModel(config);
        TorchBackend.Attach(model);
        try
        {
            var x = Batch(8, config.InputDim, 3, binary: config.Likelihood == Likelihood.Bernoulli && name.StartsWith("decoder-only"));
            var managed = Managed(model, objective, samples, x, 11);
            var torchResult = Torch(model, objective, samples, x, 11);
            Assert.True(double.IsFinite(managed.Loss) && managed.Loss != 0);
            Assert.True(Math.Abs(managed.Loss - torchResult.Loss) <= 1e-4 * Math.Abs(managed.Loss),
                $"{name}: managed loss {managed.Loss}, Torch {torchResult.Loss}.");
            foreach (var p in model.Parameters)
            {
                Assert.Contains(managed.Grads[p.Name], v => v != 0); // the gradient reaches every parameter
                AssertClose(managed.Grads[p.Name], torchResult.Grads[p.Name], 1e-4, $"{name}: d loss / d {p.Name}");
            }
            // Different noise gives a different loss (so the agreement is not an accident of ignoring eps).
            var other = Torch(model, objective, samples, x, 12);
            Assert.NotEqual(torchResult.Loss, other.Loss);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void TheModuleStateDict_HasTheModelFilesNamesAndLayout()
    {
        var model = new VaeModel(Small(Likelihood.GaussianSharedVariance));
        var backend = TorchBackend.Attach(model);
        try
        {
            var sd = backend.Module.state_dict();
            Assert.Equal(model.Parameters.Select(p => p.Name).OrderBy(n => n), sd.Keys.OrderBy(n => n));
            foreach (var p in model.Parameters)
            {
                var (rows, cols) = model.FileShape(p.Name);
                Assert.Equal(rows * (long)cols, sd[p.Name].numel());
                Assert.Equal(model.ReadParameter(p.Name).ToArray(), sd[p.Name].contiguous().data<float>().ToArray());
            }
            Assert.Equal(new long[] { 12, 30 }, sd["encoder.hidden.0.weight"].shape); // [out x in]
            Assert.Equal(new long[] { 30, 12 }, sd["decoder.output.weight"].shape);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1e-3f)]
    [InlineData(OptimizerKind.Sgd, 0.05f)]
    [InlineData(OptimizerKind.Adagrad, 1e-2f)]
    public void OneOptimizerStep_GivesTheSameWeights(OptimizerKind kind, float lr)
    {
        var config = Small(Likelihood.GaussianSharedVariance);
        var model = new VaeModel(config);
        var backend = TorchBackend.Attach(model);
        try
        {
            var x = Batch(8, config.InputDim, 4);
            var before = model.Parameters.ToDictionary(p => p.Name, p => model.ReadParameter(p.Name).ToArray());
            // Two steps each, so that the optimisers' state (moments, sums) is used too.
            var opt = VaeTools.Engine.Optimizer.Create(kind, model.Parameters, lr);
            var torchOpt = TorchTrainingStep.CreateOptimizer(kind, backend.Module, lr);
            for (int step = 0; step < 2; step++)
            {
                Managed(model, Objective.Elbo, 1, x, (ulong)(20 + step));
                opt.Step();
                Torch(model, Objective.Elbo, 1, x, (ulong)(20 + step));
                torchOpt.step();
            }
            var torchWeights = model.Clone();
            backend.SyncToModel(torchWeights);
            foreach (var p in model.Parameters)
            {
                var m = model.ReadParameter(p.Name).ToArray();
                var t = torchWeights.ReadParameter(p.Name).ToArray();
                Assert.NotEqual(before[p.Name], m); // the step moved it
                for (int i = 0; i < m.Length; i++)
                    Assert.True(Math.Abs(m[i] - t[i]) <= 1e-5 * Math.Max(1, Math.Abs(m[i])), $"{kind}: {p.Name}[{i}] managed {m[i]}, Torch {t[i]}.");
            }
        }
        finally { model.Backend?.Dispose(); model.Backend = null; }
    }
}

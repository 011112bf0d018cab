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
        "conv-bernoulli", "conv-colour-gaussian-perdim", "conv-gaussian-shared", "conv-k3-three-layers", "conv-iwae-k3",
        "conv-elbo-k2-laplace", "conv-decoder-only", "conv-tanh",
    };

    /// <summary>A small convolutional model: 8x8 images, channels 4 and 6, kernel 4 (8 -> 4 -> 2 and back).</summary>
    private static VaeConfig SmallConv(Likelihood likelihood = Likelihood.Bernoulli, int channels = 1) => new()
    {
        Architecture = Architecture.Conv, InputDim = channels * 64, ImageShape = new VaeTools.Data.ImageShape(channels, 8, 8),
        HiddenDims = Array.Empty<int>(), ConvChannels = new[] { 4, 6 }, KernelSize = 4, LatentDim = 3, Likelihood = likelihood, Seed = 5,
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
        "conv-bernoulli" => (SmallConv(), Objective.Elbo, 1),
        "conv-colour-gaussian-perdim" => (SmallConv(Likelihood.GaussianPerDimensionVariance, channels: 3), Objective.Elbo, 1),
        "conv-gaussian-shared" => (SmallConv(Likelihood.GaussianSharedVariance) with { SigmoidMean = true }, Objective.Elbo, 1),
        "conv-k3-three-layers" => (SmallConv() with { KernelSize = 3, ConvChannels = new[] { 3, 4, 5 } }, Objective.Elbo, 1), // 8 -> 4 -> 2 -> 1
        "conv-iwae-k3" => (SmallConv(), Objective.Iwae, 3),
        "conv-elbo-k2-laplace" => (SmallConv() with { Prior = Prior.Laplace, Beta = 2f }, Objective.Elbo, 2),
        "conv-decoder-only" => (SmallConv(Likelihood.GaussianSharedVariance) with { DecoderOnly = true, PriorSamples = 4 }, Objective.Elbo, 1),
        "conv-tanh" => (SmallConv() with { Activation = Activation.Tanh }, Objective.Elbo, 1),
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
    public void Same_weights_and_noise_give_the_same_loss_and_gradients(string name)
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
    public void The_module_state_dict_has_the_model_files_names_and_layout()
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

    [Fact]
    public void A_conv_modules_state_dict_holds_real_conv_modules_with_the_model_files_names_and_shapes()
    {
        var model = new VaeModel(SmallConv(Likelihood.GaussianSharedVariance, channels: 3));
        var backend = TorchBackend.Attach(model);
        try
        {
            var sd = backend.Module.state_dict();
            Assert.Equal(model.Parameters.Select(p => p.Name).OrderBy(n => n), sd.Keys.OrderBy(n => n));
            foreach (var p in model.Parameters)
            {
                Assert.Equal(model.FileDims(p.Name).Select(d => (long)d), sd[p.Name].shape);
                Assert.Equal(model.ReadParameter(p.Name).ToArray(), sd[p.Name].contiguous().data<float>().ToArray());
            }
            Assert.IsType<TorchSharp.Modules.Conv2d>(backend.Module.Conv("encoder.conv.1"));
            Assert.IsType<TorchSharp.Modules.ConvTranspose2d>(backend.Module.Deconv("decoder.deconv.1"));
            Assert.Equal(new long[] { 4, 3, 4, 4 }, sd["decoder.deconv.1.weight"].shape); // [Cin, Cout, k, k]
        }
        finally { TorchBackend.Detach(model); }
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1e-3f)]
    [InlineData(OptimizerKind.Sgd, 0.05f)]
    [InlineData(OptimizerKind.Adagrad, 1e-2f)]
    public void One_optimizer_step_gives_the_same_weights(OptimizerKind kind, float lr)
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

    /// <summary>Conv geometries (batch, Cin, H, W, Cout, k, s, p, output padding) for the op-level agreement.</summary>
    public static TheoryData<int, int, int, int, int, int, int, int, int> ConvCases => new()
    {
        { 3, 1, 28, 28, 8, 4, 2, 1, 0 },  // MNIST's first layer
        { 2, 8, 7, 7, 4, 4, 2, 1, 1 },    // an odd size, output padding 1 on the transposed side
        { 2, 3, 9, 8, 5, 3, 1, 0, 0 },
        { 2, 2, 6, 6, 3, 3, 2, 1, 1 },
    };

    /// <summary>
    /// Conv2d and ConvTranspose2d of the managed engine against the Torch engine's (torch.nn.functional on libtorch), same
    /// weights: the output, and the gradients of sum(u * y) for fixed random u with respect to x, the weight and the bias.
    /// </summary>
    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv_ops_agree_with_torch_values_and_gradients(int batch, int cin, int h, int w, int cout, int k, int s, int p, int op)
    {
        foreach (bool transposed in new[] { false, true })
        {
            var g = new ConvGeometry(cin, h, w, cout, k, s, p, transposed ? op : 0);
            var r = new RandomSource(41);
            float[] Values(int n) { var v = new float[n]; r.FillNormal(v); return v; }
            int weightRows = transposed ? cin : cout, weightCols = (transposed ? cout : cin) * k * k;
            var xs = Values(batch * g.InFeatures);
            var ws = Values(weightRows * weightCols);
            var bs = Values(cout);
            int outFeatures = cout * (transposed ? g.TransposedOutHeight * g.TransposedOutWidth : g.ConvOutHeight * g.ConvOutWidth);
            var us = Values(batch * outFeatures);

            // Managed: x, weight and bias all parameters, so the graph gives all three gradients.
            var px = new Parameter("x", new Tensor(batch, g.InFeatures, (float[])xs.Clone()));
            var pw = new Parameter("w", new Tensor(weightRows, weightCols, (float[])ws.Clone()));
            var pb = new Parameter("b", new Tensor(1, cout, (float[])bs.Clone()));
            var graph = new Graph();
            var y = transposed
                ? (Node)graph.ConvTranspose2d(graph.Param(px), graph.Param(pw), graph.Param(pb), g)
                : graph.Conv2d(graph.Param(px), graph.Param(pw), graph.Param(pb), g);
            var u = graph.Input("u", outFeatures);
            us.CopyTo(u.SetRows(batch).Span);
            var loss = graph.Sum(graph.Multiply(y, u));
            graph.Forward(loss);
            graph.Backward(loss);

            // Torch: the same values, weights in PyTorch's 4-D layout.
            using var scope = torch.NewDisposeScope();
            var tx = torch.tensor(xs, new long[] { batch, g.InFeatures }).requires_grad_(true);
            var tw = torch.tensor(ws, transposed ? new long[] { cin, cout, k, k } : new long[] { cout, cin, k, k }).requires_grad_(true);
            var tb = torch.tensor(bs, new long[] { cout }).requires_grad_(true);
            var ty = transposed ? TorchOps.ConvTranspose2d(tx, tw, tb, g) : TorchOps.Conv2d(tx, tw, tb, g);
            Assert.Equal(new long[] { batch, outFeatures }, ty.shape);
            ty.mul(torch.tensor(us, new long[] { batch, outFeatures })).sum().backward();

            string op2 = transposed ? "ConvTranspose2d" : "Conv2d";
            AssertClose(ty.detach().contiguous().data<float>().ToArray(), y.Value.ToArray(), 1e-4, $"{op2} output");
            AssertClose(tx.grad!.contiguous().data<float>().ToArray(), px.Grad.ToArray(), 1e-4, $"{op2} d/dx");
            AssertClose(tw.grad!.contiguous().data<float>().ToArray(), pw.Grad.ToArray(), 1e-4, $"{op2} d/dweight");
            AssertClose(tb.grad!.contiguous().data<float>().ToArray(), pb.Grad.ToArray(), 1e-4, $"{op2} d/dbias");
        }
    }
}

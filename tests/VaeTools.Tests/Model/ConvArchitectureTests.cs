using VaeTools.IO;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Model;

/// <summary>The convolutional architecture's configuration: its layer shapes, what it refuses, how it is saved.</summary>
public class ConvArchitectureTests
{
    private static VaeConfig Conv(ImageShape shape, int[]? channels = null, int kernel = 4, Likelihood likelihood = Likelihood.Bernoulli) => new()
    {
        Architecture = Architecture.Conv, InputDim = shape.Size, ImageShape = shape, HiddenDims = Array.Empty<int>(),
        ConvChannels = channels ?? new[] { 32, 64 }, KernelSize = kernel, Likelihood = likelihood,
    };

    [Fact]
    public void Mnist_goes_to_14_then_7_and_the_decoder_retraces_it()
    {
        var plan = ConvPlan.For(Conv(ImageShape.Mnist));
        Assert.Equal(new ConvGeometry(1, 28, 28, 32, 4, 2, 1), plan.Encoder[0]);
        Assert.Equal(new ConvGeometry(32, 14, 14, 64, 4, 2, 1), plan.Encoder[1]);
        Assert.Equal(64 * 7 * 7, plan.FlatFeatures);
        Assert.Equal(new ConvGeometry(64, 7, 7, 32, 4, 2, 1, 0), plan.Decoder[0]);
        Assert.Equal(new ConvGeometry(32, 14, 14, 1, 4, 2, 1, 0), plan.Decoder[1]);
        Assert.Equal(28, plan.Decoder[1].TransposedOutHeight);
    }

    [Fact]
    public void Cifar_goes_to_16_then_8_in_colour()
    {
        var plan = ConvPlan.For(Conv(ImageShape.Cifar10));
        Assert.Equal(64 * 8 * 8, plan.FlatFeatures);
        Assert.Equal(3, plan.Decoder[^1].OutChannels);
        Assert.Equal(32, plan.Decoder[^1].TransposedOutWidth);
    }

    [Fact]
    public void Odd_sizes_get_an_output_padding_so_the_image_comes_back_whole()
    {
        // 28 -> 14 -> 7 -> 3 with three layers: 3 -> 7 needs output padding 1 (kernel 4); kernel 3: 28 -> 14 -> 7, back with 1 each.
        var three = ConvPlan.For(Conv(ImageShape.Mnist, new[] { 8, 16, 32 }));
        Assert.Equal(3, three.Encoder[2].ConvOutHeight);
        Assert.Equal(1, three.Decoder[0].OutputPadding);
        Assert.Equal(7, three.Decoder[0].TransposedOutHeight);
        var k3 = ConvPlan.For(Conv(ImageShape.Mnist, kernel: 3));
        Assert.All(k3.Decoder, g => Assert.Equal(1, g.OutputPadding));
        Assert.Equal(28, k3.Decoder[^1].TransposedOutHeight);
    }

    [Fact]
    public void A_per_pixel_variance_doubles_the_last_layers_channels()
    {
        var plan = ConvPlan.For(Conv(ImageShape.Cifar10, likelihood: Likelihood.GaussianPerDimensionVariance));
        Assert.Equal(6, plan.Decoder[^1].OutChannels); // 3 mean channels, then 3 log std channels
    }

    [Fact]
    public void Bad_settings_are_refused_naming_the_setting()
    {
        var tooSmall = Assert.Throws<ArgumentException>(() => Conv(ImageShape.Mnist, new[] { 8, 8, 8, 8, 8, 8 }).Validate());
        Assert.Contains("ConvChannels", tooSmall.Message);
        var hidden = Assert.Throws<ArgumentException>(() => (Conv(ImageShape.Mnist) with { HiddenDims = new[] { 400 } }).Validate());
        Assert.Equal("HiddenDims", hidden.ParamName);
        var noShape = Assert.Throws<ArgumentException>(() => new VaeConfig { Architecture = Architecture.Conv, InputDim = 100, HiddenDims = Array.Empty<int>() }.Validate());
        Assert.Equal("ImageShape", noShape.ParamName);
        var kernel = Assert.Throws<ArgumentException>(() => Conv(ImageShape.Mnist, kernel: 9).Validate());
        Assert.Equal("KernelSize", kernel.ParamName);
        var channel = Assert.Throws<ArgumentException>(() => Conv(ImageShape.Mnist, new[] { 32, 0 }).Validate());
        Assert.Contains("ConvChannels[1]", channel.Message);
        // 784 inputs without a shape are MNIST's 1 x 28 x 28, as everywhere else.
        new VaeConfig { Architecture = Architecture.Conv, InputDim = 784, HiddenDims = Array.Empty<int>() }.Validate();
    }

    [Fact]
    public void The_architecture_survives_json_and_mlp_files_do_not_mention_it()
    {
        var conv = Conv(ImageShape.Cifar10, new[] { 16, 24 }, kernel: 3);
        var back = VaeConfig.FromJson(conv.ToJson());
        Assert.Equal(Architecture.Conv, back.Architecture);
        Assert.Equal(new[] { 16, 24 }, back.ConvChannels);
        Assert.Equal(3, back.KernelSize);
        Assert.Equal(conv, back);
        Assert.DoesNotContain("Architecture", new VaeConfig().ToJson());
        Assert.Equal(Architecture.Mlp, VaeConfig.FromJson(new VaeConfig().ToJson()).Architecture);
        Assert.Equal("3x32x32-conv16-24k3-20 Relu Bernoulli", conv.ToString());
    }

    [Fact]
    public void A_conv_model_has_no_closed_form_likelihood_even_without_hidden_widths()
    {
        Assert.True(Ppca.HasExactLikelihood(new VaeConfig { HiddenDims = Array.Empty<int>(), Likelihood = Likelihood.GaussianSharedVariance }));
        Assert.False(Ppca.HasExactLikelihood(Conv(ImageShape.Mnist, likelihood: Likelihood.GaussianSharedVariance)));
    }

    /// <summary>A small conv model on 8x8 images (channels 4, 6): 8 -> 4 -> 2.</summary>
    private static VaeConfig Tiny(Likelihood likelihood = Likelihood.Bernoulli) =>
        Conv(new ImageShape(1, 8, 8), new[] { 4, 6 }, likelihood: likelihood) with { LatentDim = 3, Seed = 3 };

    private static TensorDataset Images(int count, int features, ulong seed)
    {
        var x = new Tensor(count, features);
        new RandomSource(seed).FillUniform(x.Span, 0f, 1f);
        return new TensorDataset(x, labels: null);
    }

    [Fact]
    public void The_model_has_the_planned_layers_in_PyTorch_s_layouts()
    {
        var model = new VaeModel(Conv(ImageShape.Mnist) with { LatentDim = 2 });
        Assert.Equal(new[]
        {
            "encoder.conv.0.weight", "encoder.conv.0.bias", "encoder.conv.1.weight", "encoder.conv.1.bias",
            "encoder.mean.weight", "encoder.mean.bias", "encoder.logvar.weight", "encoder.logvar.bias",
            "decoder.input.weight", "decoder.input.bias", "decoder.deconv.0.weight", "decoder.deconv.0.bias",
            "decoder.deconv.1.weight", "decoder.deconv.1.bias",
        }, model.Parameters.Select(p => p.Name));
        Assert.Equal(new[] { 32, 1, 4, 4 }, model.FileDims("encoder.conv.0.weight"));
        Assert.Equal(new[] { 64, 32, 4, 4 }, model.FileDims("encoder.conv.1.weight"));
        Assert.Equal(new[] { 2, 64 * 7 * 7 }, model.FileDims("encoder.mean.weight"));
        Assert.Equal(new[] { 64 * 7 * 7, 2 }, model.FileDims("decoder.input.weight"));
        Assert.Equal(new[] { 64, 32, 4, 4 }, model.FileDims("decoder.deconv.0.weight")); // [Cin, Cout, k, k]
        Assert.Equal(new[] { 32, 1, 4, 4 }, model.FileDims("decoder.deconv.1.weight"));
        Assert.Equal(new[] { 32 }, model.FileDims("encoder.conv.0.bias"));
        // PyTorch's default start: uniform in +-1/sqrt(fan_in), fan_in = weight.size(1) * k * k.
        float bound = 1f / MathF.Sqrt(32 * 16);
        var w = model.GetParameter("encoder.conv.1.weight").Value.ToArray();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.True(w.Max() > 0.9f * bound && w.Min() < -0.9f * bound);
        Assert.Null(model.DecoderOutput);
    }

    [Fact]
    public void Encode_and_decode_have_the_images_shapes()
    {
        var model = new VaeModel(Tiny(Likelihood.GaussianPerDimensionVariance));
        var data = Images(5, 64, 1);
        var code = model.Encode(data);
        Assert.Equal((5, 3), (code.Mean.Rows, code.Mean.Cols));
        var images = model.Decode(code.Mean);
        Assert.Equal((5, 64), (images.Rows, images.Cols)); // the means only, not the log std channels
    }

    [Fact]
    public void The_model_file_stores_conv_weights_4D_and_import_restores_the_model()
    {
        var model = new VaeModel(Tiny(Likelihood.GaussianSharedVariance));
        using (var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 16, Seed = 2, Threads = 1 }))
            trainer.Train(Images(64, 64, 2));
        string path = Path.Combine(Path.GetTempPath(), $"vaetools-conv-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFile.Save(model, path);
            var content = SafeTensorsFile.Read(path);
            Assert.True(content.TryGet("encoder.conv.1.weight", out var w));
            Assert.Equal(new[] { 6, 4, 4, 4 }, w.Shape);
            Assert.True(content.TryGet("decoder.deconv.1.weight", out var d));
            Assert.Equal(new[] { 4, 1, 4, 4 }, d.Shape);
            Assert.Equal(model.GetParameter("encoder.conv.1.weight").Value.ToArray(), w.Data);

            var back = ModelFile.Load(path);
            Assert.Equal(model.Config, back.Config);
            Assert.Equal(Architecture.Conv, back.Config.Architecture);
            foreach (var p in model.Parameters) Assert.Equal(p.Value.ToArray(), back.GetParameter(p.Name).Value.ToArray());
            Assert.Single(back.History);
            var x = Images(4, 64, 9);
            Assert.Equal(model.Encode(x).Mean.ToArray(), back.Encode(x).Mean.ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_file_whose_conv_weight_has_the_wrong_shape_is_refused_naming_the_tensor()
    {
        var model = new VaeModel(Tiny());
        string path = Path.Combine(Path.GetTempPath(), $"vaetools-conv-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFile.Save(model, path);
            var content = SafeTensorsFile.Read(path);
            var tensors = content.Tensors.Select(t => t.Name == "encoder.conv.1.weight" ? t with { Shape = new[] { 6, 64 } } : t).ToList();
            SafeTensorsFile.Write(path, tensors, content.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value));
            var e = Assert.Throws<ModelFileException>(() => ModelFile.Load(path));
            Assert.Contains("encoder.conv.1.weight", e.Message);
            Assert.Contains("[6, 4, 4, 4]", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Training_steps_allocate_nothing_after_the_first()
    {
        var model = new VaeModel(Conv(ImageShape.Mnist, new[] { 8, 16 }) with { Seed = 2 });
        using var pool = new WorkerPool(2);
        var graph = model.BuildLossGraph(pool: pool, random: new RandomSource(1));
        var optimizer = new AdamOptimizer(model.Parameters);
        new RandomSource(4).FillUniform(graph.Data.SetRows(64).Span, 0f, 1f);
        void Step()
        {
            graph.Graph.Forward(graph.Loss);
            graph.Graph.Backward(graph.Loss);
            optimizer.Step();
        }
        for (int i = 0; i < 3; i++) Step();
        Assert.Equal(0, Allocations.OnCallingThread(() =>
        {
            for (int i = 0; i < 5; i++) Step();
        }));
    }

    [Fact]
    public void Same_seed_gives_the_same_model_bitwise_on_one_and_two_threads()
    {
        float[][] Run(int threads)
        {
            var m = new VaeModel(Tiny());
            using var t = new VaeTrainer(m, new TrainingOptions { Epochs = 1, BatchSize = 32, Seed = 4, Threads = threads });
            t.Train(Images(128, 64, 5));
            return m.Parameters.Select(p => p.Value.ToArray()).ToArray();
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
    }

    [Fact]
    public void On_real_mnist_the_test_loss_drops_clearly_below_the_first_epochs()
    {
        var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Count = 6000 });
        var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 1000 });
        var model = new VaeModel(Conv(ImageShape.Mnist, new[] { 16, 32 }) with { Seed = 1, LatentDim = 10 });
        using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 64, Seed = 1, Threads = 2, LearningRate = 2e-3f });
        double untrained = trainer.Evaluate(test).Loss;
        var result = trainer.Train(train, test);
        Assert.InRange(untrained, 450, 650); // ~784 ln 2 = 543 nats: every pixel 0.5
        double first = result.Epochs[0].TestLoss!.Value, last = result.Epochs[^1].TestLoss!.Value;
        Assert.True(last < first - 10, $"test loss after epoch 1: {first:F1}, after epoch 3: {last:F1}");
        Assert.True(last < 160, $"test loss after 3 epochs on 6000 images: {last:F1}");
        Assert.True(result.Epochs[^1].TestKl > 5, "the KL term should be in use");
    }
}

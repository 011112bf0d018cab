using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

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
    public void Mnist_GoesTo14Then7_AndTheDecoderRetracesIt()
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
    public void Cifar_GoesTo16Then8_InColour()
    {
        var plan = ConvPlan.For(Conv(ImageShape.Cifar10));
        Assert.Equal(64 * 8 * 8, plan.FlatFeatures);
        Assert.Equal(3, plan.Decoder[^1].OutChannels);
        Assert.Equal(32, plan.Decoder[^1].TransposedOutWidth);
    }

    [Fact]
    public void OddSizes_GetAnOutputPadding_SoTheImageComesBackWhole()
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
    public void APerPixelVariance_DoublesTheLastLayersChannels()
    {
        var plan = ConvPlan.For(Conv(ImageShape.Cifar10, likelihood: Likelihood.GaussianPerDimensionVariance));
        Assert.Equal(6, plan.Decoder[^1].OutChannels); // 3 mean channels, then 3 log std channels
    }

    [Fact]
    public void BadSettings_AreRefusedNamingTheSetting()
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
    public void TheArchitecture_SurvivesJson_AndMlpFilesDoNotMentionIt()
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
    public void AConvModel_HasNoClosedFormLikelihood_EvenWithoutHiddenWidths()
    {
        Assert.True(Ppca.HasExactLikelihood(new VaeConfig { HiddenDims = Array.Empty<int>(), Likelihood = Likelihood.GaussianSharedVariance }));
        Assert.False(Ppca.HasExactLikelihood(Conv(ImageShape.Mnist, likelihood: Likelihood.GaussianSharedVariance)));
    }
}

using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>New-Vae -Architecture Conv: the image shape from the data set, the defaults, and what it refuses.</summary>
public class ConvLogicTests
{
    private static TensorDataset Colour(int n)
    {
        var t = new Tensor(n, 3 * 32 * 32);
        new RandomSource(3).FillUniform(t.Span, 0f, 1f);
        return new TensorDataset(t, labels: null, "colour") { ImageShape = ImageShape.Cifar10 };
    }

    private static RecordingSink Run(NewVaeParameters p, IDataset? data = null)
    {
        var sink = new RecordingSink();
        new NewVaeLogic(p).Process(sink, data);
        return sink;
    }

    [Fact]
    public void A_conv_model_takes_its_image_shape_from_the_data_set_with_the_default_layers()
    {
        var sink = Run(new NewVaeParameters { Architecture = "conv", LatentDim = 8, Seed = 1 }, Colour(2));
        Assert.Empty(sink.Errors);
        Assert.Empty(sink.Warnings);
        var model = sink.Single<VaeModel>();
        Assert.Equal(Architecture.Conv, model.Config.Architecture);
        Assert.Equal(ImageShape.Cifar10, model.Config.ImageShape);
        Assert.Equal(new[] { 32, 64 }, model.Config.ConvChannels);
        Assert.Equal(4, model.Config.KernelSize);
        Assert.Empty(model.Config.HiddenDims);
        Assert.Equal(new[] { 32, 3, 4, 4 }, model.FileDims("decoder.deconv.1.weight")); // 16 -> 32, back to 3 colours
        Assert.Equal("3x32x32-conv32-64k4-8 Relu Bernoulli", model.Architecture);
    }

    [Fact]
    public void Channels_and_kernel_are_taken_and_mnist_needs_no_data_set()
    {
        var model = Run(new NewVaeParameters { Architecture = "Conv", ConvChannels = new[] { 8, 16, 24 }, KernelSize = 3, LatentDim = 2, Seed = 1 }).Single<VaeModel>();
        Assert.Equal(new[] { 8, 16, 24 }, model.Config.ConvChannels);
        Assert.Equal(3, model.Config.KernelSize);
        Assert.Equal(new[] { 8, 1, 3, 3 }, model.FileDims("encoder.conv.0.weight")); // 784 inputs: MNIST's 1 x 28 x 28
        // The MLP default is unchanged.
        Assert.Equal(new[] { 400 }, Run(new NewVaeParameters { Seed = 1 }).Single<VaeModel>().Config.HiddenDims);
    }

    [Fact]
    public void Hidden_widths_with_conv_are_refused_naming_the_parameter()
    {
        var sink = Run(new NewVaeParameters { Architecture = "Conv", HiddenDim = new[] { 400 }, Seed = 1 });
        Assert.Empty(sink.Output);
        var e = Assert.Single(sink.Errors);
        Assert.Equal("HiddenDimWithConv", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Category);
        Assert.Contains("-HiddenDim", e.Exception.Message);
        Assert.Contains("-ConvChannels", e.Exception.Message);
    }

    [Fact]
    public void A_conv_model_without_an_image_shape_is_refused_saying_what_it_needs()
    {
        var sink = Run(new NewVaeParameters { Architecture = "Conv", InputDim = 100, Seed = 1 });
        var e = Assert.Single(sink.Errors);
        Assert.Equal("InvalidModelConfiguration", e.ErrorId);
        Assert.Contains("ImageShape", e.Exception.Message);
        Assert.Contains("data set", e.Exception.Message);
        var tooSmall = Assert.Single(Run(new NewVaeParameters { Architecture = "Conv", ConvChannels = new[] { 4, 4, 4, 4, 4, 4 }, Seed = 1 }).Errors);
        Assert.Contains("ConvChannels", tooSmall.Exception.Message);
    }

    [Fact]
    public void Conv_settings_on_an_mlp_warn_that_they_do_nothing()
    {
        var sink = Run(new NewVaeParameters { ConvChannels = new[] { 8 }, Seed = 1 });
        Assert.Single(sink.Output);
        Assert.Contains(sink.Warnings, w => w.Contains("-ConvChannels") && w.Contains("-Architecture Conv"));
    }
}

using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// The layer shapes of an <see cref="Architecture.Conv"/> model, from its image shape, <see cref="VaeConfig.ConvChannels"/>
/// and <see cref="VaeConfig.KernelSize"/>. Every convolution has stride 2 and padding 1: MNIST 1x28x28 goes 28 -> 14 -> 7
/// with channels 32, 64; CIFAR-10 3x32x32 goes 32 -> 16 -> 8. The decoder's transposed convolutions retrace the encoder's
/// sizes exactly (an output padding of 0 or 1 where a size was odd).
/// </summary>
/// <param name="Encoder">"encoder.conv.i": image -> ... -> [C_last x h x w].</param>
/// <param name="Decoder">"decoder.deconv.i": [C_last x h x w] -> ... -> the image (2C channels: means then log std, for a per-pixel variance).</param>
public sealed record ConvPlan(ConvGeometry[] Encoder, ConvGeometry[] Decoder)
{
    public const int Stride = 2;
    public const int Padding = 1;

    /// <summary>Values per image after the last convolution, C_last * h * w: the width of the linear heads' input.</summary>
    public int FlatFeatures => Decoder[0].InFeatures;

    /// <summary>The plan of <paramref name="config"/>; throws <see cref="ArgumentException"/> when the image is too small for its layers.</summary>
    public static ConvPlan For(VaeConfig config)
    {
        var shape = config.GetImageShape() ?? throw new ArgumentException($"A convolutional model needs the image shape of its {config.InputDim} inputs.", nameof(config));
        int k = config.KernelSize, layers = config.ConvChannels.Length;
        var encoder = new ConvGeometry[layers];
        int c = shape.Channels, h = shape.Height, w = shape.Width;
        for (int i = 0; i < layers; i++)
        {
            var g = new ConvGeometry(c, h, w, config.ConvChannels[i], k, Stride, Padding);
            if (k > h + 2 * Padding || k > w + 2 * Padding || g.ConvOutHeight < 1 || g.ConvOutWidth < 1)
                throw new ArgumentException(
                    $"VaeConfig.ConvChannels: convolution {i + 1} of {layers} would get a {h}x{w} image, too small for a {k}x{k} kernel of stride {Stride}; use fewer ConvChannels or a smaller KernelSize.",
                    nameof(VaeConfig.ConvChannels));
            encoder[i] = g;
            c = g.OutChannels; h = g.ConvOutHeight; w = g.ConvOutWidth;
        }
        var decoder = new ConvGeometry[layers];
        int imageChannels = config.Likelihood == Likelihood.GaussianPerDimensionVariance ? 2 * shape.Channels : shape.Channels;
        for (int i = 0; i < layers; i++)
        {
            var mirror = encoder[layers - 1 - i]; // maps mirror's output back to its input
            int outChannels = i == layers - 1 ? imageChannels : mirror.InChannels;
            int opH = mirror.Height - ((mirror.ConvOutHeight - 1) * Stride - 2 * Padding + k);
            int opW = mirror.Width - ((mirror.ConvOutWidth - 1) * Stride - 2 * Padding + k);
            if (opH != opW || opH < 0 || opH >= Stride)
                throw new ArgumentException(
                    $"VaeConfig: a transposed convolution cannot map {mirror.ConvOutHeight}x{mirror.ConvOutWidth} back to {mirror.Height}x{mirror.Width} with a {k}x{k} kernel of stride {Stride} (square images with an even kernel size work).",
                    nameof(VaeConfig.KernelSize));
            decoder[i] = new ConvGeometry(mirror.OutChannels, mirror.ConvOutHeight, mirror.ConvOutWidth, outChannels, k, Stride, Padding, opH);
        }
        return new ConvPlan(encoder, decoder);
    }
}

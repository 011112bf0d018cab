namespace VaeTools.Engine;

/// <summary>
/// The shape of a 2-D convolution over square kernels, as torch.nn.Conv2d / ConvTranspose2d take it. An image
/// batch is a [B x C*H*W] tensor, each row one image channel-major (PyTorch's NCHW, flattened).
/// </summary>
/// <param name="InChannels">Channels of the op's input (C_in).</param>
/// <param name="Height">Input height H.</param>
/// <param name="Width">Input width W.</param>
/// <param name="OutChannels">Channels of the op's output (C_out).</param>
/// <param name="Kernel">Kernel size k (k x k).</param>
/// <param name="Stride">Stride s.</param>
/// <param name="Padding">Zero padding p on every side.</param>
/// <param name="OutputPadding">ConvTranspose2d only: extra rows and columns on the bottom and right of the output (less than the stride).</param>
public sealed record ConvGeometry(int InChannels, int Height, int Width, int OutChannels, int Kernel,
    int Stride = 1, int Padding = 0, int OutputPadding = 0)
{
    /// <summary>Conv2d output height: floor((H + 2p - k) / s) + 1.</summary>
    public int ConvOutHeight => (Height + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>Conv2d output width: floor((W + 2p - k) / s) + 1.</summary>
    public int ConvOutWidth => (Width + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>ConvTranspose2d output height: (H - 1) s - 2p + k + output padding.</summary>
    public int TransposedOutHeight => (Height - 1) * Stride - 2 * Padding + Kernel + OutputPadding;
    /// <summary>ConvTranspose2d output width: (W - 1) s - 2p + k + output padding.</summary>
    public int TransposedOutWidth => (Width - 1) * Stride - 2 * Padding + Kernel + OutputPadding;

    /// <summary>Features of one input image, C_in * H * W.</summary>
    public int InFeatures => InChannels * Height * Width;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first value that does not fit the op.</summary>
    public void Validate(bool transposed)
    {
        string op = transposed ? "ConvTranspose2d" : "Conv2d";
        void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{op} needs a positive {name}; got {value}.");
        }
        Positive(InChannels, nameof(InChannels));
        Positive(Height, nameof(Height));
        Positive(Width, nameof(Width));
        Positive(OutChannels, nameof(OutChannels));
        Positive(Kernel, nameof(Kernel));
        Positive(Stride, nameof(Stride));
        if (Padding < 0)
            throw new ArgumentOutOfRangeException(nameof(Padding), Padding, $"{op} needs a padding of 0 or more; got {Padding}.");
        if (!transposed)
        {
            if (OutputPadding != 0)
                throw new ArgumentOutOfRangeException(nameof(OutputPadding), OutputPadding, $"Conv2d takes no output padding; got {OutputPadding} (it belongs to ConvTranspose2d).");
            if (Kernel > Height + 2 * Padding || Kernel > Width + 2 * Padding)
                throw new ArgumentOutOfRangeException(nameof(Kernel), Kernel,
                    $"Conv2d: a {Kernel}x{Kernel} kernel does not fit a {Height}x{Width} image padded by {Padding}.");
        }
        else
        {
            if (OutputPadding < 0 || OutputPadding >= Stride)
                throw new ArgumentOutOfRangeException(nameof(OutputPadding), OutputPadding,
                    $"ConvTranspose2d needs 0 <= output padding < stride ({Stride}); got {OutputPadding}.");
            if (TransposedOutHeight <= 0 || TransposedOutWidth <= 0)
                throw new ArgumentOutOfRangeException(nameof(Padding), Padding,
                    $"ConvTranspose2d: a {Height}x{Width} input with kernel {Kernel}, stride {Stride}, padding {Padding} gives an empty output.");
        }
    }
}

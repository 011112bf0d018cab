namespace VaeTools.Data;

/// <summary>
/// The shape of the images of a data set or model: <see cref="Channels"/> planes (1 grey, 3 for R, G, B) of
/// <see cref="Height"/> x <see cref="Width"/> pixels, stored channel-major (all of plane 0 row by row, then plane 1,
/// ...), as CIFAR-10 stores them and as PyTorch's [C x H x W] tensors are laid out. MNIST is 1 x 28 x 28, CIFAR-10
/// 3 x 32 x 32; data that are not images (the toy sets) have none.
/// </summary>
public sealed record ImageShape
{
    /// <param name="channels">1 (grey) or 3 (R, G, B).</param>
    /// <param name="height">Rows, at least 1.</param>
    /// <param name="width">Columns, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value outside those ranges.</exception>
    public ImageShape(int channels, int height, int width)
    {
        if (channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"An image has 1 channel (grey) or 3 (R, G, B); got {channels}.");
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, $"An image is at least 1 pixel high; got {height}.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, $"An image is at least 1 pixel wide; got {width}.");
        if ((long)channels * height * width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(height), $"{channels} x {height} x {width} values are too many for one image.");
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>1 (grey) or 3 (R, G, B planes).</summary>
    public int Channels { get; }

    /// <summary>Pixel rows.</summary>
    public int Height { get; }

    /// <summary>Pixel columns.</summary>
    public int Width { get; }

    /// <summary>Values per image: Channels * Height * Width.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Size => Channels * Height * Width;

    /// <summary>MNIST and Fashion-MNIST: 1 x 28 x 28.</summary>
    public static ImageShape Mnist { get; } = new(1, 28, 28);

    /// <summary>CIFAR-10: 3 x 32 x 32.</summary>
    public static ImageShape Cifar10 { get; } = new(3, 32, 32);

    /// <summary>"3x32x32".</summary>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

namespace VaeTools.Imaging;

/// <summary>Layout of one pixel in a <see cref="PixelImage"/>: 8 bits per channel, channels interleaved.</summary>
public enum PixelFormat
{
    /// <summary>One byte per pixel: 0 = black, 255 = white.</summary>
    Gray8 = 1,
    /// <summary>Three bytes per pixel: R, G, B.</summary>
    Rgb24 = 3,
    /// <summary>Four bytes per pixel: R, G, B, A (straight, not premultiplied, alpha).</summary>
    Rgba32 = 4,
}

/// <summary>
/// An 8-bit picture in memory: <see cref="Height"/> rows of <see cref="Width"/> pixels, row-major,
/// channels interleaved, no row padding. <see cref="Pixels"/> is [Height x Width x Channels] bytes.
/// This is what <see cref="PngEncoder"/> writes, <see cref="PngDecoder"/> returns and
/// <see cref="ImageGrid"/> builds.
/// </summary>
public sealed class PixelImage
{
    /// <summary>Creates a black (all-zero, and fully transparent for RGBA) image.</summary>
    public PixelImage(int width, int height, PixelFormat format)
        : this(width, height, format, AllocatePixels(width, height, format)) { }

    /// <summary>Wraps <paramref name="pixels"/> (not copied); it must hold exactly width*height*channels bytes.</summary>
    public PixelImage(int width, int height, PixelFormat format, byte[] pixels)
    {
        long needed = CheckSize(width, height, format);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != needed)
            throw new ArgumentException(
                $"A {width} x {height} {format} image needs {needed} bytes but the pixel array holds {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Format = format;
        Pixels = pixels;
    }

    /// <summary>Pixels per row.</summary>
    public int Width { get; }

    /// <summary>Number of rows.</summary>
    public int Height { get; }

    /// <summary>Channel layout.</summary>
    public PixelFormat Format { get; }

    /// <summary>Bytes per pixel: 1, 3 or 4.</summary>
    public int Channels => (int)Format;

    /// <summary>Row-major pixel bytes, [Height x Width x Channels].</summary>
    public byte[] Pixels { get; }

    /// <summary>Channel <paramref name="channel"/> of the pixel in row <paramref name="row"/>, column <paramref name="column"/>.</summary>
    public byte this[int row, int column, int channel = 0]
    {
        get
        {
            CheckIndex(row, column, channel);
            return Pixels[(row * Width + column) * Channels + channel];
        }
        set
        {
            CheckIndex(row, column, channel);
            Pixels[(row * Width + column) * Channels + channel] = value;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"PixelImage[{Width} x {Height} {Format}]";

    private void CheckIndex(int row, int column, int channel)
    {
        if ((uint)row >= (uint)Height || (uint)column >= (uint)Width || (uint)channel >= (uint)Channels)
            throw new ArgumentOutOfRangeException(nameof(row),
                $"Pixel (row {row}, column {column}, channel {channel}) is outside this {Width} x {Height} {Format} image.");
    }

    private static byte[] AllocatePixels(int width, int height, PixelFormat format) =>
        new byte[CheckSize(width, height, format)];

    /// <summary>Validates the dimensions and returns the byte count width*height*channels.</summary>
    internal static long CheckSize(int width, int height, PixelFormat format)
    {
        if (width <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), width, "Image width must be at least 1 pixel.");
        if (height <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), height, "Image height must be at least 1 pixel.");
        if (format is not (PixelFormat.Gray8 or PixelFormat.Rgb24 or PixelFormat.Rgba32))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Pixel format must be Gray8, Rgb24 or Rgba32.");
        long bytes = (long)width * height * (int)format;
        if (bytes > Array.MaxLength)
            throw new ArgumentException(
                $"A {width} x {height} {format} image needs {bytes} bytes, more than one .NET array can hold ({Array.MaxLength}).");
        return bytes;
    }
}

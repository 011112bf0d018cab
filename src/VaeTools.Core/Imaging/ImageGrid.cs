using VaeTools.Engine;

namespace VaeTools.Imaging;

/// <summary>Where the reconstruction goes relative to its original in <see cref="ImageGrid.TilePairs(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, GridOptions?)"/>.</summary>
public enum PairLayout
{
    /// <summary>Original on top, reconstruction directly below it.</summary>
    Vertical,
    /// <summary>Original on the left, reconstruction directly right of it.</summary>
    Horizontal,
}

/// <summary>Layout of an <see cref="ImageGrid"/> picture.</summary>
public sealed record GridOptions
{
    /// <summary>Tiles (or pairs) per grid row; fewer when there are fewer images. Default 10.</summary>
    public int Columns { get; init; } = 10;

    /// <summary>Pixels of background between tiles and around the border (output pixels, not scaled). Default 2.</summary>
    public int Padding { get; init; } = 2;

    /// <summary>Nearest-neighbour upscaling factor per image pixel: 3 turns a 28 x 28 digit into 84 x 84. Default 1.</summary>
    public int Scale { get; init; } = 1;

    /// <summary>Gray level of padding and empty cells, in [0, 1]. Default 0.5 (mid gray, visible against both black and white digits).</summary>
    public float Background { get; init; } = 0.5f;

    /// <summary>For pairs: gap in output pixels between an original and its reconstruction. Default 1.</summary>
    public int PairGap { get; init; } = 1;

    /// <summary>For pairs: original above or left of its reconstruction. Default <see cref="PairLayout.Vertical"/>.</summary>
    public PairLayout PairLayout { get; init; } = PairLayout.Vertical;

    /// <summary>
    /// Colour planes per image: 1 (default) for grey images of h x w values, giving a <see cref="PixelFormat.Gray8"/>
    /// picture; 3 for colour images of 3 x h x w values stored channel-major (the R plane, then G, then B, as
    /// CIFAR-10 and PyTorch store them), giving an <see cref="PixelFormat.Rgb24"/> picture with a grey background.
    /// </summary>
    public int Channels { get; init; } = 1;
}

/// <summary>
/// Tiles many small grayscale images (h x w floats in [0, 1], row-major, e.g. 28 x 28 MNIST
/// digits or decoded means) into one <see cref="PixelFormat.Gray8"/> picture, or with
/// <see cref="GridOptions.Channels"/> = 3 colour images (3 x h x w, channel-major) into an
/// <see cref="PixelFormat.Rgb24"/> one. Values are clamped
/// to [0, 1] (0 = black, 1 = white) and rounded to 0..255; NaN is an error naming the image.
/// <para>Layout: tile k sits in grid row k / columns, grid column k % columns. Its top-left output
/// pixel is (padding + row * (h*scale + padding), padding + column * (w*scale + padding)), and
/// image pixel (r, c) covers the scale x scale block starting scale*(r, c) further on.</para>
/// </summary>
public static class ImageGrid
{
    /// <summary>
    /// Tiles images stored back to back in <paramref name="images"/>: [N x imageHeight x imageWidth], N inferred.
    /// </summary>
    public static PixelImage Tile(ReadOnlySpan<float> images, int imageHeight, int imageWidth, GridOptions? options = null)
    {
        options ??= new GridOptions();
        CheckOptions(options);
        int count = CountImages(images.Length, imageHeight, imageWidth, options.Channels, nameof(images));
        int tileH = imageHeight * options.Scale, tileW = imageWidth * options.Scale;
        int columns = Math.Min(options.Columns, count);
        int rows = (count + columns - 1) / columns;
        var canvas = NewCanvas(columns, rows, tileW, tileH, options);
        int size = options.Channels * imageHeight * imageWidth;
        for (int k = 0; k < count; k++)
        {
            int top = options.Padding + (k / columns) * (tileH + options.Padding);
            int left = options.Padding + (k % columns) * (tileW + options.Padding);
            Blit(canvas, images.Slice(k * size, size), k, "images", imageHeight, imageWidth, options.Scale, top, left);
        }
        return canvas;
    }

    /// <summary>Tiles the rows of <paramref name="images"/> ([N x imageHeight*imageWidth]).</summary>
    public static PixelImage Tile(Tensor images, int imageHeight, int imageWidth, GridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckTensor(images, imageHeight, imageWidth, options?.Channels ?? 1, nameof(images));
        return Tile(images.Span, imageHeight, imageWidth, options);
    }

    /// <summary>
    /// A reconstruction picture: each original (from <paramref name="originals"/>, [N x h x w]) is shown
    /// with its reconstruction (same index in <paramref name="reconstructions"/>) directly below it
    /// (or right of it, see <see cref="GridOptions.PairLayout"/>), separated by <see cref="GridOptions.PairGap"/>;
    /// pairs are tiled like <see cref="Tile(ReadOnlySpan{float}, int, int, GridOptions?)"/>.
    /// </summary>
    public static PixelImage TilePairs(ReadOnlySpan<float> originals, ReadOnlySpan<float> reconstructions,
        int imageHeight, int imageWidth, GridOptions? options = null)
    {
        options ??= new GridOptions();
        CheckOptions(options);
        int count = CountImages(originals.Length, imageHeight, imageWidth, options.Channels, nameof(originals));
        if (reconstructions.Length != originals.Length)
            throw new ArgumentException(
                $"originals hold {count} images of {imageHeight} x {imageWidth} ({originals.Length} values) but reconstructions hold {reconstructions.Length} values; they must match.",
                nameof(reconstructions));
        if (options.PairGap < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.PairGap, "GridOptions.PairGap must be >= 0.");
        bool vertical = options.PairLayout == PairLayout.Vertical;
        int tileH = imageHeight * options.Scale, tileW = imageWidth * options.Scale;
        int cellH = vertical ? 2 * tileH + options.PairGap : tileH;
        int cellW = vertical ? tileW : 2 * tileW + options.PairGap;
        int columns = Math.Min(options.Columns, count);
        int rows = (count + columns - 1) / columns;
        var canvas = NewCanvas(columns, rows, cellW, cellH, options);
        int size = options.Channels * imageHeight * imageWidth;
        for (int k = 0; k < count; k++)
        {
            int top = options.Padding + (k / columns) * (cellH + options.Padding);
            int left = options.Padding + (k % columns) * (cellW + options.Padding);
            Blit(canvas, originals.Slice(k * size, size), k, "originals", imageHeight, imageWidth, options.Scale, top, left);
            int top2 = vertical ? top + tileH + options.PairGap : top;
            int left2 = vertical ? left : left + tileW + options.PairGap;
            Blit(canvas, reconstructions.Slice(k * size, size), k, "reconstructions", imageHeight, imageWidth, options.Scale, top2, left2);
        }
        return canvas;
    }

    /// <summary>Reconstruction picture from two [N x imageHeight*imageWidth] tensors.</summary>
    public static PixelImage TilePairs(Tensor originals, Tensor reconstructions, int imageHeight, int imageWidth, GridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(originals);
        ArgumentNullException.ThrowIfNull(reconstructions);
        CheckTensor(originals, imageHeight, imageWidth, options?.Channels ?? 1, nameof(originals));
        CheckTensor(reconstructions, imageHeight, imageWidth, options?.Channels ?? 1, nameof(reconstructions));
        if (originals.Rows != reconstructions.Rows)
            throw new ShapeMismatchException(
                $"originals are {originals.Shape} but reconstructions are {reconstructions.Shape}; they must have the same shape.");
        return TilePairs(originals.Span, reconstructions.Span, imageHeight, imageWidth, options);
    }

    /// <summary>Maps a value in [0, 1] to a byte (clamped, rounded); NaN must be rejected before.</summary>
    internal static byte ToByte(float v) => (byte)(Math.Clamp(v, 0f, 1f) * 255f + 0.5f);

    private static void Blit(PixelImage canvas, ReadOnlySpan<float> image, int index, string what,
        int h, int w, int scale, int top, int left)
    {
        int width = canvas.Width;
        byte[] pixels = canvas.Pixels;
        int channels = canvas.Channels; // 1 or 3: the image holds that many h x w planes
        for (int ch = 0; ch < channels; ch++)
        {
            for (int r = 0; r < h; r++)
            {
                for (int c = 0; c < w; c++)
                {
                    float v = image[(ch * h + r) * w + c];
                    if (float.IsNaN(v))
                        throw new ArgumentException(channels == 1
                            ? $"{what}: image {index} has NaN at pixel (row {r}, column {c})."
                            : $"{what}: image {index} has NaN at pixel (row {r}, column {c}) of channel {ch}.", what);
                    byte b = ToByte(v);
                    for (int dy = 0; dy < scale; dy++)
                    {
                        int at = ((top + r * scale + dy) * width + left + c * scale) * channels + ch;
                        for (int dx = 0; dx < scale; dx++) pixels[at + dx * channels] = b;
                    }
                }
            }
        }
    }

    private static PixelImage NewCanvas(int columns, int rows, int cellW, int cellH, GridOptions options)
    {
        long width = options.Padding + (long)columns * (cellW + options.Padding);
        long height = options.Padding + (long)rows * (cellH + options.Padding);
        if (width > int.MaxValue || height > int.MaxValue || width * height > Array.MaxLength)
            throw new ArgumentException($"The grid would be {width} x {height} pixels, too large for one image; use fewer images or a smaller scale.");
        if (width * height * options.Channels > Array.MaxLength)
            throw new ArgumentException($"The grid would be {width} x {height} pixels, too large for one image; use fewer images or a smaller scale.");
        var canvas = new PixelImage((int)width, (int)height, options.Channels == 3 ? PixelFormat.Rgb24 : PixelFormat.Gray8);
        canvas.Pixels.AsSpan().Fill(ToByte(options.Background));
        return canvas;
    }

    private static int CountImages(int length, int h, int w, int channels, string name)
    {
        if (h <= 0) throw new ArgumentOutOfRangeException("imageHeight", h, "Image height must be at least 1.");
        if (w <= 0) throw new ArgumentOutOfRangeException("imageWidth", w, "Image width must be at least 1.");
        long size = (long)channels * h * w;
        string shape = channels == 1 ? $"{h} x {w}" : $"{channels} x {h} x {w}";
        if (length == 0)
            throw new ArgumentException($"{name} is empty; at least one {shape} image is needed.", name);
        if (length % size != 0)
            throw new ArgumentException(
                $"{name} holds {length} values, which is not a whole number of {shape} images ({size} values each).", name);
        return (int)(length / size);
    }

    private static void CheckTensor(Tensor t, int h, int w, int channels, string name)
    {
        long size = (long)channels * h * w;
        if (size != t.Cols)
            throw new ShapeMismatchException(channels == 1
                ? $"{name} is {t.Shape} but {h} x {w} images need {size} columns per row."
                : $"{name} is {t.Shape} but {channels} x {h} x {w} images need {size} columns per row.");
    }

    private static void CheckOptions(GridOptions o)
    {
        if (o.Columns <= 0)
            throw new ArgumentOutOfRangeException("options", o.Columns, "GridOptions.Columns must be at least 1.");
        if (o.Padding < 0)
            throw new ArgumentOutOfRangeException("options", o.Padding, "GridOptions.Padding must be >= 0.");
        if (o.Scale <= 0)
            throw new ArgumentOutOfRangeException("options", o.Scale, "GridOptions.Scale must be at least 1.");
        if (o.Channels is not (1 or 3))
            throw new ArgumentOutOfRangeException("options", o.Channels, "GridOptions.Channels must be 1 (grey) or 3 (R, G, B planes).");
        if (float.IsNaN(o.Background))
            throw new ArgumentOutOfRangeException("options", o.Background, "GridOptions.Background must be a number in [0, 1].");
    }
}

using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.PowerShell;

/// <summary>
/// One image on the pipeline (Get-MnistData -AsImage, Get-Cifar10Data -AsImage, New-VaeSample): its row number, its
/// label (null when unknown) and its pixels in [0, 1]: Channels planes (1 grey, 3 for R, G, B) of Height x Width,
/// each row-major, one plane after the other.
/// </summary>
public sealed class ImageRecord
{
    public ImageRecord(int index, int? label, float[] pixels, int height, int width)
        : this(index, label, pixels, height, width, 1) { }

    /// <summary>An image of <c>channels</c> planes (1 grey, 3 for R, G, B, channel-major) of height x width pixels.</summary>
    public ImageRecord(int index, int? label, float[] pixels, int height, int width, int channels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"An image has 1 channel (grey) or 3 (R, G, B); got {channels}.");
        if ((long)channels * height * width != pixels.Length)
            throw new ArgumentException(channels == 1
                ? $"An image of {height} x {width} needs {height * width} pixels; got {pixels.Length}."
                : $"An image of {channels} x {height} x {width} needs {(long)channels * height * width} values; got {pixels.Length}.", nameof(pixels));
        Index = index;
        Label = label;
        Pixels = pixels;
        Height = height;
        Width = width;
        Channels = channels;
    }

    /// <summary>Row number in the data set (or sample number).</summary>
    public int Index { get; }

    /// <summary>The class (0-9 for MNIST), or null.</summary>
    public int? Label { get; }

    /// <summary>Pixel values, Height x Width row-major.</summary>
    public float[] Pixels { get; }

    public int Height { get; }
    public int Width { get; }

    /// <summary>"Height x Width", e.g. "28 x 28", or "Channels x Height x Width" for colour images (the Size column of the table view).</summary>
    public string Size => Channels > 1 ? $"{Channels} x {Height} x {Width}" : $"{Height} x {Width}";

    /// <summary>Colour planes: 1 (grey) or 3 (R, G, B).</summary>
    public int Channels { get; }

    /// <summary>Mean pixel value: a quick brightness figure for Where-Object filters.</summary>
    public double MeanPixel => Pixels.Length == 0 ? 0 : Pixels.Average();

    public override string ToString() => $"Image {Index}{(Label is int l ? $" (label {l})" : "")}";

    /// <summary>
    /// Side length for a square image of <paramref name="features"/> pixels (28 for 784), or 1 x features
    /// when the count is not a square.
    /// </summary>
    public static (int Height, int Width) ShapeFor(int features)
    {
        int side = (int)Math.Round(Math.Sqrt(features));
        return side * side == features ? (side, side) : (1, features);
    }

    /// <summary>
    /// The image shape for <paramref name="features"/> values: <paramref name="known"/> when given, else one grey
    /// square (28 x 28 for 784), else 1 x features.
    /// </summary>
    public static ImageShape ShapeFor(int features, ImageShape? known)
    {
        if (known is not null) return known;
        var (h, w) = ShapeFor(features);
        return new ImageShape(1, h, w);
    }

    /// <summary>Row <paramref name="row"/> of <paramref name="data"/> as an image (labels below 0 become null).</summary>
    public static ImageRecord FromDataset(IDataset data, int row, RandomSource? random, int? index = null)
    {
        var pixels = new float[data.Features];
        data.CopyRows(new[] { row }, pixels, random);
        int label = data.GetLabel(row);
        var shape = ShapeFor(data.Features, data.ImageShape);
        return new ImageRecord(index ?? row, label < 0 ? null : label, pixels, shape.Height, shape.Width, shape.Channels);
    }
}

/// <summary>
/// The latent code of one image (Get-VaeEncoding): the posterior mean and log-variance, the code used
/// (<see cref="Z"/>: the mean, or a draw with -Sample). PowerShell sees it through its type adapter
/// (Commands.LatentCodeAdapter): the properties it lists are <see cref="Columns"/>, Index, Label, Z1..ZP, Mu1..MuP,
/// LogVar1..LogVarP (one CSV column per latent dimension, whatever P is); the arrays are read by name
/// (<c>$code.Z</c>, <c>$code.Mean</c>) but not listed, so Export-Csv writes no "System.Single[]".
/// </summary>
public sealed class LatentCode
{
    public LatentCode(int index, int? label, float[] mean, float[] logVariance, float[] z)
    {
        Index = index;
        Label = label;
        Mean = mean;
        LogVariance = logVariance;
        Z = z;
    }

    public int Index { get; }

    public int? Label { get; }

    /// <summary>mu(x), P values.</summary>
    public float[] Mean { get; }

    /// <summary>log sigma^2(x), P values.</summary>
    public float[] LogVariance { get; }

    /// <summary>The code: equal to <see cref="Mean"/>, or one draw mu + sigma eps with -Sample.</summary>
    public float[] Z { get; }

    /// <summary>First coordinate of <see cref="Z"/>.</summary>
    public float Z1 => Z[0];

    /// <summary>Second coordinate of <see cref="Z"/>, or null for a 1-D latent.</summary>
    public float? Z2 => Z.Length > 1 ? Z[1] : null;

    /// <summary>
    /// The flat columns of this code, in order: Index, Label, Z1..ZP, Mu1..MuP, LogVar1..LogVarP (P = the latent size),
    /// what PowerShell shows as properties and Export-Csv writes as columns.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Columns()
    {
        var columns = new List<KeyValuePair<string, object?>>(2 + 3 * Z.Length)
        {
            new(nameof(Index), Index),
            new(nameof(Label), Label),
        };
        for (int i = 0; i < Z.Length; i++) columns.Add(new($"Z{i + 1}", Z[i]));
        for (int i = 0; i < Mean.Length; i++) columns.Add(new($"Mu{i + 1}", Mean[i]));
        for (int i = 0; i < LogVariance.Length; i++) columns.Add(new($"LogVar{i + 1}", LogVariance[i]));
        return columns;
    }

    public override string ToString() => $"Code {Index}: ({string.Join(", ", Z.Select(v => v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)))})";
}

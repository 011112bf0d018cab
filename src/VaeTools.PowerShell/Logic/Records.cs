using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.PowerShell;

/// <summary>
/// One image on the pipeline (Get-MnistData -AsImage, New-VaeSample): its row number, its label (null when
/// unknown) and its pixels in [0, 1], row-major, Height x Width.
/// </summary>
public sealed class ImageRecord
{
    public ImageRecord(int index, int? label, float[] pixels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (height * width != pixels.Length)
            throw new ArgumentException($"An image of {height} x {width} needs {height * width} pixels; got {pixels.Length}.", nameof(pixels));
        Index = index;
        Label = label;
        Pixels = pixels;
        Height = height;
        Width = width;
    }

    /// <summary>Row number in the data set (or sample number).</summary>
    public int Index { get; }

    /// <summary>The class (0-9 for MNIST), or null.</summary>
    public int? Label { get; }

    /// <summary>Pixel values, Height x Width row-major.</summary>
    public float[] Pixels { get; }

    public int Height { get; }
    public int Width { get; }

    /// <summary>"Height x Width", e.g. "28 x 28" (the Size column of the table view).</summary>
    public string Size => $"{Height} x {Width}";

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

    /// <summary>Row <paramref name="row"/> of <paramref name="data"/> as an image (labels below 0 become null).</summary>
    public static ImageRecord FromDataset(IDataset data, int row, RandomSource? random, int? index = null)
    {
        var pixels = new float[data.Features];
        data.CopyRows(new[] { row }, pixels, random);
        int label = data.GetLabel(row);
        var (h, w) = data is MnistDataset m ? (m.Rows, m.Cols) : ShapeFor(data.Features);
        return new ImageRecord(index ?? row, label < 0 ? null : label, pixels, h, w);
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

using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using System.Numerics.Tensors;
using VaeTools.Engine;
using VaeTools.Engine.Ops;
using Tensor = VaeTools.Engine.Tensor;

namespace VaeTools.Data;

/// <summary>How pixel values reach the model.</summary>
public enum MnistBinarization
{
    /// <summary>Grey levels: pixel / 255, in [0, 1].</summary>
    None,

    /// <summary>
    /// Fixed threshold: 1 when pixel / 255 &gt; 0.5, else 0. A value of exactly 0.5 maps to 0 (the comparison is
    /// strict); no 8-bit pixel is exactly 0.5 (127/255 &lt; 0.5 &lt; 128/255), so in effect pixel &gt;= 128 gives 1.
    /// </summary>
    Threshold,

    /// <summary>
    /// Dynamic binarization: every time a row is copied, each pixel is a fresh Bernoulli(pixel / 255) draw,
    /// using the <see cref="RandomSource"/> passed to <see cref="IDataset.CopyRows"/> (which must not be null).
    /// </summary>
    Sample,
}

/// <summary>What <see cref="MnistDataset.Load"/> loads and how.</summary>
public sealed class MnistLoadOptions
{
    /// <summary>Training (60,000) or test (10,000) images.</summary>
    public MnistSubset Subset { get; set; } = MnistSubset.Train;

    /// <summary>MNIST digits or Fashion-MNIST.</summary>
    public MnistVariant Variant { get; set; } = MnistVariant.Digits;

    /// <summary>Directory holding the files; null: <c>$VAETOOLS_DATA</c> or the per-user cache (see <see cref="MnistLocator"/>).</summary>
    public string? Directory { get; set; }

    /// <summary>Keep only these labels (each 0..9); null keeps all ten.</summary>
    public IReadOnlyList<int>? Classes { get; set; }

    /// <summary>Keep only the first N images (after the class filter); null keeps all. Must not exceed what is available.</summary>
    public int? Count { get; set; }

    /// <summary>How pixel values are presented; see <see cref="MnistBinarization"/>.</summary>
    public MnistBinarization Binarization { get; set; } = MnistBinarization.None;

    /// <summary>
    /// When the files are missing, fetch them with <see cref="MnistDownloader"/> into the resolved directory.
    /// Off by default: loading never touches the network unless asked.
    /// </summary>
    public bool AllowDownload { get; set; }

    /// <summary>
    /// What the "not found" message says to do to turn downloading on, in the caller's terms (Get-MnistData says
    /// "Leave out -NoDownload"); the default names this class's property.
    /// </summary>
    public string EnableDownloadHint { get; set; } = "Allow downloading (MnistLoadOptions.AllowDownload)";

    /// <summary>Settings for the downloader (mirrors, retries, time-outs, npm, progress); null: defaults.</summary>
    public MnistDownloadOptions? Download { get; set; }
}

/// <summary>
/// MNIST or Fashion-MNIST images held compactly as bytes ([Count x 784], 47 MB for the training set) with their
/// labels; converted to floats in [0, 1] only when rows are copied into a batch.
/// Immutable and safe to share between threads (CopyRows with <see cref="MnistBinarization.Sample"/> uses the
/// caller's <see cref="RandomSource"/>, which must not be shared).
/// </summary>
public sealed class MnistDataset : IDataset
{
    private readonly byte[] _pixels; // [Count x Features], row-major
    private readonly byte[] _labels; // [Count]

    // Threshold rule as a table: 1 when pixel / 255 > 0.5, i.e. pixel >= 128.
    private static readonly float[] ThresholdTable = Enumerable.Range(0, 256).Select(p => p / 255.0 > 0.5 ? 1f : 0f).ToArray();

    private MnistDataset(byte[] pixels, byte[] labels, int rows, int cols, MnistSubset subset, MnistVariant variant,
        IReadOnlyList<int>? classes, int? limit, MnistBinarization binarization)
    {
        _pixels = pixels;
        _labels = labels;
        Rows = rows;
        Cols = cols;
        Subset = subset;
        Variant = variant;
        Classes = classes;
        Limit = limit;
        Binarization = binarization;
    }

    public MnistSubset Subset { get; }
    public MnistVariant Variant { get; }

    /// <summary>The class filter (sorted, distinct), or null when all classes are kept.</summary>
    public IReadOnlyList<int>? Classes { get; }

    /// <summary>The first-N limit that was applied, or null.</summary>
    public int? Limit { get; }

    public MnistBinarization Binarization { get; }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <summary>Pixels per image: Rows * Cols (784).</summary>
    public int Features => Rows * Cols;

    /// <summary>Image height (28).</summary>
    public int Rows { get; }

    /// <summary>Image width (28).</summary>
    public int Cols { get; }

    /// <summary>1 x <see cref="Rows"/> x <see cref="Cols"/> (1 x 28 x 28).</summary>
    public ImageShape ImageShape => new(1, Rows, Cols);

    /// <summary>The raw pixels, [Count x Features] row-major bytes.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The labels, one byte (0..9) per image.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <inheritdoc/>
    public string Description
    {
        get
        {
            string classes = Classes == null ? "classes 0-9" : "classes " + string.Join(",", Classes);
            string limit = Limit is int n ? $", first {n}" : "";
            string bin = Binarization switch
            {
                MnistBinarization.Threshold => ", binarized at 0.5",
                MnistBinarization.Sample => ", Bernoulli-sampled",
                _ => "",
            };
            string subset = Subset == MnistSubset.Train ? "train" : "test";
            return $"{MnistFiles.DisplayName(Variant)} {subset} ({Count} images, {classes}{limit}{bin})";
        }
    }

    /// <summary>The description, so that "$data" in PowerShell says what the data set is.</summary>
    public override string ToString() => Description;

    /// <inheritdoc/>
    public int GetLabel(int index)
    {
        if ((uint)index >= (uint)_labels.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"Row {index} is outside the data set of {Count} rows.");
        return _labels[index];
    }

    /// <summary>
    /// Writes rows <paramref name="indices"/> as floats into <paramref name="destination"/>
    /// ([indices.Length x 784], row-major): pixel / 255, or 0/1 under binarization. Under
    /// <see cref="MnistBinarization.Sample"/> each pixel strictly between 0 and 255 costs one draw of
    /// <paramref name="random"/> (pixels 0 and 255 are certain and draw nothing), so the same seed gives the same batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
    {
        int f = Features;
        if (destination.Length < (long)indices.Length * f)
            throw new ArgumentException($"Copying {indices.Length} rows of {f} values needs {(long)indices.Length * f} floats but the destination holds {destination.Length}.", nameof(destination));
        if (Binarization == MnistBinarization.Sample && random == null)
            throw new ArgumentNullException(nameof(random), $"{Description} is binarized by Bernoulli sampling: CopyRows needs a RandomSource, but none was given.");

        for (int i = 0; i < indices.Length; i++)
        {
            int row = indices[i];
            if ((uint)row >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"indices[{i}] = {row} is outside the data set of {Count} rows.");
            ReadOnlySpan<byte> src = _pixels.AsSpan(row * f, f);
            Span<float> dst = destination.Slice(i * f, f);
            switch (Binarization)
            {
                case MnistBinarization.None:
                    PixelConversion.BytesToUnit(src, dst); // same rounding as pixel / 255f
                    break;
                case MnistBinarization.Threshold:
                    for (int j = 0; j < f; j++) dst[j] = ThresholdTable[src[j]];
                    break;
                default:
                    for (int j = 0; j < f; j++)
                    {
                        byte p = src[j];
                        dst[j] = p == 0 ? 0f : p == 255 ? 1f : (random!.NextFloat() < p / 255f ? 1f : 0f);
                    }
                    break;
            }
        }
    }

    /// <summary>All rows as a [Count x 784] tensor (binarized as configured; <paramref name="random"/> is needed for Sample).</summary>
    public Tensor ToTensor(RandomSource? random = null)
    {
        var t = new Tensor(Count, Features);
        var all = new int[Count];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        CopyRows(all, t.Span, random);
        return t;
    }

    /// <summary>The same images with another binarization (the bytes are shared, not copied).</summary>
    public MnistDataset WithBinarization(MnistBinarization binarization)
        => new(_pixels, _labels, Rows, Cols, Subset, Variant, Classes, Limit, binarization);

    /// <summary>
    /// A data set from the bytes <see cref="Pixels"/> and <see cref="Labels"/> give, with the same description fields
    /// (how a data set is rebuilt after crossing a process boundary). The arrays are used as they are, not copied.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not agree (pixels must be labels x rows x cols) or a label is not 0..9.</exception>
    public static MnistDataset FromBytes(byte[] pixels, byte[] labels, int rows, int cols, MnistSubset subset, MnistVariant variant,
        IReadOnlyList<int>? classes, int? limit, MnistBinarization binarization)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (rows < 1 || cols < 1 || labels.Length < 1 || pixels.LongLength != (long)labels.Length * rows * cols)
            throw new ArgumentException($"{pixels.LongLength} pixel bytes do not make {labels.Length} images of {rows} x {cols}.", nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] > 9) throw new ArgumentException($"Label {i} is {labels[i]}; MNIST labels are 0..9.", nameof(labels));
        return new MnistDataset(pixels, labels, rows, cols, subset, variant, ValidateClasses(classes), limit, binarization);
    }

    /// <summary>
    /// Builds a data set from parsed IDX data, applying the class filter, the first-N limit and the binarization
    /// of <paramref name="options"/> (its Directory / AllowDownload / Download are ignored).
    /// </summary>
    /// <param name="images">Parsed images.</param>
    /// <param name="labels">One label (0..9) per image.</param>
    /// <param name="options">Subset, variant, filter, limit, binarization; null: defaults.</param>
    /// <param name="labelsSource">Name of the labels file, for error messages.</param>
    public static MnistDataset Create(IdxImages images, byte[] labels, MnistLoadOptions? options = null, string? labelsSource = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        options ??= new MnistLoadOptions();
        labelsSource ??= "labels";
        var classes = ValidateClasses(options.Classes);
        ValidateCount(options.Count);

        if (labels.Length != images.Count)
            throw new DataFormatException(labelsSource,
                $"Label count does not match image count: '{labelsSource}' holds {labels.Length} labels but '{images.Source}' holds {images.Count} images.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] > 9)
                throw new DataFormatException(labelsSource, $"'{labelsSource}': expected labels 0..9 but label {i} is {labels[i]}.");

        int f = images.Rows * images.Cols;
        if (classes == null && options.Count == null)
            return new MnistDataset(images.Pixels, labels, images.Rows, images.Cols, options.Subset, options.Variant, null, null, options.Binarization);

        var keep = new bool[10];
        for (int c = 0; c < 10; c++) keep[c] = classes == null || classes.Contains(c);
        var rows = new List<int>();
        for (int i = 0; i < labels.Length; i++)
            if (keep[labels[i]]) rows.Add(i);
        string what = classes == null ? $"{rows.Count} images" : $"{rows.Count} images of classes {string.Join(",", classes)}";
        if (rows.Count == 0)
            throw new ArgumentException($"The class filter leaves no images: '{labelsSource}' has no images of classes {string.Join(",", classes!)}.", nameof(options));
        int n = rows.Count;
        if (options.Count is int limit)
        {
            if (limit > rows.Count)
                throw new ArgumentOutOfRangeException(nameof(options), $"{limit} images were asked for, but '{images.Source}' has only {what}; ask for at most {rows.Count}.");
            n = limit;
        }

        var pixels = new byte[(long)n * f];
        var kept = new byte[n];
        for (int i = 0; i < n; i++)
        {
            images.Pixels.AsSpan(rows[i] * f, f).CopyTo(pixels.AsSpan(i * f, f));
            kept[i] = labels[rows[i]];
        }
        return new MnistDataset(pixels, kept, images.Rows, images.Cols, options.Subset, options.Variant, classes, options.Count, options.Binarization);
    }

    /// <summary>
    /// Locates the files (see <see cref="MnistLocator"/>), downloads them when missing and
    /// <see cref="MnistLoadOptions.AllowDownload"/> is set, verifies their SHA-256, parses and validates them
    /// (28 x 28 images, as many labels as images, labels 0..9) and applies filter, limit and binarization.
    /// Parsed files are cached for the life of the process, keyed by path, size and modification time.
    /// </summary>
    /// <exception cref="FileNotFoundException">Files missing and download not allowed; the message says how to supply them.</exception>
    /// <exception cref="DataChecksumException">A file is not the canonical one.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    /// <exception cref="MnistDownloadException">Download allowed but every source failed.</exception>

    public static MnistDataset Load(MnistLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MnistLoadOptions();
        ValidateClasses(options.Classes);
        ValidateCount(options.Count);
        var variant = options.Variant;
        string imagesName = MnistFiles.ImagesFile(options.Subset);
        string labelsName = MnistFiles.LabelsFile(options.Subset);
        var names = new[] { imagesName, labelsName };

        string directory = MnistLocator.LocateDirectory(variant, names, options.Directory);
        string? imagesPath = MnistLocator.FindFile(directory, imagesName);
        string? labelsPath = MnistLocator.FindFile(directory, labelsName);
        if (imagesPath == null || labelsPath == null)
        {
            string target = MnistLocator.ResolveDirectory(variant, options.Directory);
            if (!options.AllowDownload)
            {
                var missing = names.Where(n => MnistLocator.FindFile(directory, n) == null);
                throw new FileNotFoundException(
                    $"{MnistFiles.DisplayName(variant)} file(s) {string.Join(", ", missing)} not found in '{directory}' (raw or .gz). " +
                    $"{options.EnableDownloadHint} to fetch them, or supply them by hand. " +
                    MnistLocator.ManualInstructions(variant, target),
                    Path.Combine(directory, missing.First()));
            }
            new MnistDownloader(options.Download).Download(variant, target, names, cancellationToken);
            imagesPath = MnistLocator.FindFile(target, imagesName)!;
            labelsPath = MnistLocator.FindFile(target, labelsName)!;
        }

        var images = (IdxImages)LoadCached(imagesPath, MnistFiles.ExpectedSha256(variant, imagesName), (bytes, source) => IdxReader.ParseImages(bytes, source));
        var labels = (byte[])LoadCached(labelsPath, MnistFiles.ExpectedSha256(variant, labelsName), (bytes, source) => IdxReader.ParseLabels(bytes, source));
        if (images.Rows != 28 || images.Cols != 28)
            throw new DataFormatException(imagesPath, $"'{imagesPath}': expected 28 x 28 images but the header says {images.Rows} x {images.Cols}.");
        return Create(images, labels, options, labelsPath);
    }

    // Parsed, checksum-verified files, shared by every data set of the process (the datasets never write to them).
    private static readonly ConcurrentDictionary<string, Lazy<object>> Cache = new();

    private static object LoadCached(string path, string expectedSha256, IdxReader.Parser<object> parse)
    {
        var info = new FileInfo(path);
        string key = $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}|{expectedSha256}";
        var lazy = Cache.GetOrAdd(key, _ => new Lazy<object>(() => IdxReader.ReadAndParse(path, (bytes, source) =>
        {
            IdxReader.VerifySha256(bytes, expectedSha256, source, decompressed: IdxReader.IsGzipFile(path));
            return parse(bytes, source);
        })));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<string, Lazy<object>>(key, lazy)); // a fixed file may be retried
            throw;
        }
    }

    /// <summary>Drops the parsed files cached by <see cref="Load"/> (frees memory once no data set uses them).</summary>
    public static void ClearCache() => Cache.Clear();

    private static IReadOnlyList<int>? ValidateClasses(IReadOnlyList<int>? classes)
    {
        if (classes == null) return null;
        if (classes.Count == 0)
            throw new ArgumentException("Classes must name at least one class 0..9, or be null for all classes.", nameof(classes));
        foreach (int c in classes)
            if (c < 0 || c > 9)
                throw new ArgumentOutOfRangeException(nameof(classes), c, $"Classes must lie in 0..9; got {c}.");
        return classes.Distinct().Order().ToArray();
    }

    private static void ValidateCount(int? count)
    {
        if (count is int n && n < 1)
            throw new ArgumentOutOfRangeException("Count", n, $"Count must be at least 1 (or null for all images); got {n}.");
    }
}

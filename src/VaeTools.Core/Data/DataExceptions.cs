namespace VaeTools.Data;

/// <summary>
/// A data file is not what it should be (bad IDX header, wrong length, corrupt gzip, labels that do not
/// match the images). The message names the file and says what was expected and what was found.
/// (An <see cref="IOException"/>: <see cref="InvalidDataException"/> is sealed.)
/// </summary>
public class DataFormatException : IOException
{
    public DataFormatException(string filePath, string message, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = filePath;
    }

    /// <summary>The offending file (as given by the caller).</summary>
    public string FilePath { get; }
}

/// <summary>
/// A data file's checksum (SHA-256, or for the CIFAR-10 archive the published MD5) differs from the published
/// value: the file is corrupt or not the canonical one. It is never used.
/// </summary>
public sealed class DataChecksumException : DataFormatException
{
    /// <param name="decompressed">Whether the bytes hashed were decompressed from gzip (the message says so only then).</param>
    public DataChecksumException(string filePath, string expectedSha256, string actualSha256, bool decompressed = false)
        : this(filePath, "SHA-256", expectedSha256, actualSha256, decompressed ? "decompressed contents" : "file") { }

    /// <param name="filePath">The offending file.</param>
    /// <param name="algorithm">"SHA-256" or "MD5".</param>
    /// <param name="expected">The published checksum (lower-case hex).</param>
    /// <param name="actual">The file's checksum.</param>
    /// <param name="what">What was hashed, for the message ("file", "decompressed contents").</param>
    public DataChecksumException(string filePath, string algorithm, string expected, string actual, string what = "file")
        : base(filePath,
            $"Checksum mismatch for '{filePath}': expected {algorithm} {expected} but the {what} hashes to {actual}. " +
            (what == "file" && filePath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? "(It is named .gz but is not gzip-compressed: it does not start with the gzip bytes 1f 8b.) " : "") +
            "The file is corrupt or is not the canonical one; delete it and supply the original.")
    {
        Algorithm = algorithm;
        ExpectedSha256 = expected;
        ActualSha256 = actual;
    }

    /// <summary>The hash that was checked: "SHA-256" or "MD5".</summary>
    public string Algorithm { get; }

    /// <summary>The published checksum (of <see cref="Algorithm"/>; the name is historical).</summary>
    public string ExpectedSha256 { get; }

    /// <summary>The file's checksum (of <see cref="Algorithm"/>; the name is historical).</summary>
    public string ActualSha256 { get; }
}

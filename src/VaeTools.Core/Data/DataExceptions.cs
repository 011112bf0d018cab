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
/// A data file's SHA-256 differs from the published value: the file is corrupt or not the canonical one.
/// It is never used.
/// </summary>
public sealed class DataChecksumException : DataFormatException
{
    /// <param name="decompressed">Whether the bytes hashed were decompressed from gzip (the message says so only then).</param>
    public DataChecksumException(string filePath, string expectedSha256, string actualSha256, bool decompressed = false)
        : base(filePath,
            $"Checksum mismatch for '{filePath}': expected SHA-256 {expectedSha256} but {(decompressed ? "its decompressed contents hash" : "the file hashes")} to {actualSha256}. " +
            (!decompressed && filePath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? "(It is named .gz but is not gzip-compressed: it does not start with the gzip bytes 1f 8b.) " : "") +
            "The file is corrupt or is not the canonical one; delete it and supply the original.")
    {
        ExpectedSha256 = expectedSha256;
        ActualSha256 = actualSha256;
    }

    public string ExpectedSha256 { get; }
    public string ActualSha256 { get; }
}

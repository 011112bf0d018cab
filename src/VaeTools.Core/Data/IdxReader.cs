using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace VaeTools.Data;

/// <summary>Images of an IDX file: <see cref="Count"/> x <see cref="Rows"/> x <see cref="Cols"/> unsigned bytes, row-major.</summary>
public sealed class IdxImages
{
    internal IdxImages(string source, int count, int rows, int cols, byte[] pixels)
    {
        Source = source;
        Count = count;
        Rows = rows;
        Cols = cols;
        Pixels = pixels;
    }

    /// <summary>The file the images came from.</summary>
    public string Source { get; }
    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>All pixels, [Count x (Rows*Cols)] row-major, 0 = background, 255 = full ink.</summary>
    public byte[] Pixels { get; }
}

/// <summary>
/// Reads IDX files (the MNIST format): a big-endian magic number 0x0000TTNN (TT = element type, 0x08 for
/// unsigned bytes; NN = number of dimensions), NN big-endian int32 dimension sizes, then the elements.
/// Files may be raw or gzip-compressed; gzip is recognised by its magic bytes 1f 8b, never by the name.
/// Everything is validated: magic, dimension sizes, and the exact length (truncated files and trailing bytes
/// are both errors).
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an images file: unsigned bytes, 3 dimensions (count, rows, cols).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of a labels file: unsigned bytes, 1 dimension (count).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>
    /// The file's bytes, decompressed if it starts with the gzip magic 1f 8b.
    /// A corrupt gzip stream is a <see cref="DataFormatException"/> naming the file.
    /// </summary>
    public static byte[] ReadAllBytes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = File.ReadAllBytes(path);
        return IsGzip(bytes) ? Gunzip(bytes, path) : bytes;
    }

    /// <summary>True when <paramref name="bytes"/> starts with the gzip magic 1f 8b.</summary>
    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;

    /// <summary>True when the file at <paramref name="path"/> starts with the gzip magic 1f 8b.</summary>
    public static bool IsGzipFile(string path)
    {
        Span<byte> head = stackalloc byte[2];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && IsGzip(head);
    }

    /// <summary>Reads and validates an images file (raw or gzip).</summary>
    public static IdxImages ReadImages(string path) => ReadAndParse(path, ParseImages);

    /// <summary>Reads and validates a labels file (raw or gzip); one byte per image.</summary>
    public static byte[] ReadLabels(string path) => ReadAndParse(path, ParseLabels);

    internal delegate T Parser<T>(ReadOnlySpan<byte> data, string source);

    /// <summary>
    /// Reads, decompresses if gzip, and parses <paramref name="path"/>. A structural error in a gzip file says so:
    /// .NET decompresses a cut-off .gz to a short stream without complaint, so the length check is what catches it.
    /// </summary>
    internal static T ReadAndParse<T>(string path, Parser<T> parse)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = File.ReadAllBytes(path);
        if (!IsGzip(bytes)) return parse(bytes, path);
        byte[] data = Gunzip(bytes, path);
        try
        {
            return parse(data, path);
        }
        catch (DataFormatException e) when (e is not DataChecksumException)
        {
            throw new DataFormatException(path, e.Message + " (These are the bytes decompressed from gzip; a cut-off .gz file decompresses to a short stream.)", e);
        }
    }

    /// <summary>Parses the (already decompressed) bytes of an images file; <paramref name="source"/> names it in errors.</summary>
    public static IdxImages ParseImages(ReadOnlySpan<byte> data, string source)
    {
        var dims = ParseHeader(data, source, ImagesMagic, "images", "(count, rows, cols)");
        long count = dims[0], rows = dims[1], cols = dims[2];
        if (rows == 0 || cols == 0)
            throw new DataFormatException(source, $"IDX images file '{source}': expected positive image dimensions but the header says {rows} x {cols}.");
        const int headerBytes = 4 + 3 * 4;
        CheckLength(data, source, headerBytes, count * rows * cols, $"{count} x {rows} x {cols}");
        var pixels = data.Slice(headerBytes).ToArray();
        return new IdxImages(source, (int)count, (int)rows, (int)cols, pixels);
    }

    /// <summary>Parses the (already decompressed) bytes of a labels file; <paramref name="source"/> names it in errors.</summary>
    public static byte[] ParseLabels(ReadOnlySpan<byte> data, string source)
    {
        var dims = ParseHeader(data, source, LabelsMagic, "labels", "(count)");
        const int headerBytes = 4 + 4;
        CheckLength(data, source, headerBytes, dims[0], $"{dims[0]}");
        return data.Slice(headerBytes).ToArray();
    }

    /// <summary>Lower-case hex SHA-256 of <paramref name="data"/>.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    /// <summary>
    /// Throws <see cref="DataChecksumException"/> unless <paramref name="data"/> (decompressed bytes of
    /// <paramref name="source"/>) hashes to <paramref name="expectedSha256"/>.
    /// </summary>
    public static void VerifySha256(ReadOnlySpan<byte> data, string expectedSha256, string source, bool decompressed = false)
    {
        string actual = Sha256Hex(data);
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
            throw new DataChecksumException(source, expectedSha256.ToLowerInvariant(), actual, decompressed);
    }

    // Returns the dimension sizes (non-negative) after checking the magic number.
    private static long[] ParseHeader(ReadOnlySpan<byte> data, string source, int expectedMagic, string kind, string dimNames)
    {
        int ndim = expectedMagic & 0xFF;
        int headerBytes = 4 + 4 * ndim;
        if (data.Length < 4)
            throw new DataFormatException(source, $"IDX {kind} file '{source}' is truncated: expected at least a {headerBytes}-byte header but the file has {data.Length} bytes.");
        int magic = BinaryPrimitives.ReadInt32BigEndian(data);
        if (magic != expectedMagic)
            throw new DataFormatException(source,
                $"IDX {kind} file '{source}': expected magic number 0x{expectedMagic:X8} (unsigned bytes, {ndim} dimension{(ndim == 1 ? "" : "s")} {dimNames}) " +
                $"but found 0x{magic:X8}{DescribeMagic(magic)}.");
        if (data.Length < headerBytes)
            throw new DataFormatException(source, $"IDX {kind} file '{source}' is truncated: expected a {headerBytes}-byte header but the file has {data.Length} bytes.");
        var dims = new long[ndim];
        for (int d = 0; d < ndim; d++)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(data.Slice(4 + 4 * d));
            if (size < 0)
                throw new DataFormatException(source, $"IDX {kind} file '{source}': dimension {d} of {dimNames} must be non-negative but the header says {size}.");
            dims[d] = size;
        }
        return dims;
    }

    private static void CheckLength(ReadOnlySpan<byte> data, string source, int headerBytes, long elements, string shape)
    {
        long expected = headerBytes + elements;
        if (expected > Array.MaxLength)
            throw new DataFormatException(source, $"IDX file '{source}': the header declares {shape} elements ({expected} bytes), more than this reader can hold.");
        if (data.Length < expected)
            throw new DataFormatException(source,
                $"IDX file '{source}' is truncated: the header declares {shape} elements, so the file should have {headerBytes} + {elements} = {expected} bytes, but it has {data.Length}.");
        if (data.Length > expected)
            throw new DataFormatException(source,
                $"IDX file '{source}' has {data.Length - expected} trailing bytes: the header declares {shape} elements, so the file should have {expected} bytes, but it has {data.Length}.");
    }

    private static string DescribeMagic(int magic)
    {
        if (magic == LabelsMagic) return " (a labels file: unsigned bytes, 1 dimension)";
        if (magic == ImagesMagic) return " (an images file: unsigned bytes, 3 dimensions)";
        if ((magic >>> 16) == 0x1F8B) return " (gzip-compressed data: decompress it first)";
        return " (not an IDX unsigned-byte header)";
    }

    private static byte[] Gunzip(byte[] compressed, string path)
    {
        // The gzip trailer's last 4 bytes hold the uncompressed size mod 2^32: a good capacity guess.
        int guess = compressed.Length >= 18 ? BinaryPrimitives.ReadInt32LittleEndian(compressed.AsSpan(compressed.Length - 4)) : 0;
        if (guess <= 0 || guess > 512 * 1024 * 1024) guess = compressed.Length * 4;
        try
        {
            using var input = new GZipStream(new MemoryStream(compressed, writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream(guess);
            input.CopyTo(output);
            return output.Length == output.Capacity ? output.GetBuffer() : output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"'{path}' starts with the gzip magic 1f 8b but is not a valid gzip stream: {e.Message}", e);
        }
    }
}

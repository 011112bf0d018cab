using VaeTools.IO;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using VaeTools.Internal;

namespace VaeTools.Imaging;

/// <summary>How <see cref="PngEncoder"/> chooses the PNG filter of each row.</summary>
public enum PngFilterMode
{
    /// <summary>Filter type 0 on every row (raw bytes).</summary>
    None = 0,
    /// <summary>Filter type 1: difference to the pixel on the left.</summary>
    Sub = 1,
    /// <summary>Filter type 2: difference to the pixel above.</summary>
    Up = 2,
    /// <summary>Filter type 3: difference to the mean of left and above.</summary>
    Average = 3,
    /// <summary>Filter type 4: difference to the Paeth predictor of left, above and upper-left.</summary>
    Paeth = 4,
    /// <summary>
    /// Per row, the filter whose output has the smallest sum of absolute (signed) byte values —
    /// the heuristic the PNG specification recommends. Usually the smallest file.
    /// </summary>
    Adaptive = 5,
}

/// <summary>
/// Writes 8-bit grayscale, RGB and RGBA PNG files (non-interlaced): signature, IHDR, IDAT
/// (zlib, split into chunks of at most 1 MiB), IEND, each chunk with its CRC-32.
/// </summary>
public static class PngEncoder
{
    /// <summary>The 8-byte PNG signature.</summary>
    internal static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Largest IDAT chunk written (tests lower it through <see cref="TestHooks.PngMaxIdatLength"/>).</summary>
    private const int MaxIdatLength = 1 << 20;

    /// <summary>Writes <paramref name="image"/> as a PNG to <paramref name="stream"/> (left open).</summary>
    public static void Write(Stream stream, PixelImage image, PngFilterMode filter = PngFilterMode.Adaptive,
        CompressionLevel compression = CompressionLevel.Optimal)
    {
        ArgumentNullException.ThrowIfNull(image);
        Write(stream, image.Pixels, image.Width, image.Height, image.Format, filter, compression);
    }

    /// <summary>
    /// Writes raw pixels as a PNG to <paramref name="stream"/> (left open).
    /// <paramref name="pixels"/> is [height x width x channels] bytes, row-major.
    /// </summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> pixels, int width, int height, PixelFormat format,
        PngFilterMode filter = PngFilterMode.Adaptive, CompressionLevel compression = CompressionLevel.Optimal)
    {
        ArgumentNullException.ThrowIfNull(stream);
        long needed = PixelImage.CheckSize(width, height, format);
        if (pixels.Length != needed)
            throw new ArgumentException(
                $"A {width} x {height} {format} image needs {needed} bytes but {pixels.Length} were given.", nameof(pixels));
        if (filter is < PngFilterMode.None or > PngFilterMode.Adaptive)
            throw new ArgumentOutOfRangeException(nameof(filter), filter, "Unknown PNG filter mode.");

        stream.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;                      // bit depth
        ihdr[9] = ColorType(format);      // 0 gray, 2 RGB, 6 RGBA
        ihdr[10] = 0;                     // compression: deflate
        ihdr[11] = 0;                     // filter method 0 (the five adaptive filters)
        ihdr[12] = 0;                     // no interlace
        WriteChunk(stream, "IHDR", ihdr);

        byte[] compressed = CompressRows(pixels, width, height, (int)format, filter, compression);
        int maxIdat = TestHooks.Current?.PngMaxIdatLength ?? MaxIdatLength;
        for (int offset = 0; offset < compressed.Length; offset += maxIdat)
            WriteChunk(stream, "IDAT", compressed.AsSpan(offset, Math.Min(maxIdat, compressed.Length - offset)));
        WriteChunk(stream, "IEND", ReadOnlySpan<byte>.Empty);
    }

    /// <summary>The PNG file bytes of <paramref name="image"/>.</summary>
    public static byte[] Encode(PixelImage image, PngFilterMode filter = PngFilterMode.Adaptive)
    {
        using var memory = new MemoryStream();
        Write(memory, image, filter);
        return memory.ToArray();
    }

    /// <summary>
    /// Writes <paramref name="image"/> to the file <paramref name="path"/> atomically
    /// (temporary file in the same folder, then renamed over the target).
    /// </summary>
    public static void WriteFile(string path, PixelImage image, PngFilterMode filter = PngFilterMode.Adaptive)
    {
        ArgumentNullException.ThrowIfNull(image);
        AtomicFile.Write(path, stream => Write(stream, image, filter));
    }

    internal static byte ColorType(PixelFormat format) => format switch
    {
        PixelFormat.Gray8 => 0,
        PixelFormat.Rgb24 => 2,
        PixelFormat.Rgba32 => 6,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Pixel format must be Gray8, Rgb24 or Rgba32."),
    };

    /// <summary>Writes length, type, data and CRC-32 (over type and data) of one chunk.</summary>
    internal static void WriteChunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header[4..]);
        uint crc = PngCrc32.Append(PngCrc32.Compute(header[4..]), data);
        Span<byte> trailer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(trailer, crc);
        stream.Write(header);
        stream.Write(data);
        stream.Write(trailer);
    }

    /// <summary>Filters every row (one filter-type byte + filtered bytes) and zlib-compresses the lot.</summary>
    private static byte[] CompressRows(ReadOnlySpan<byte> pixels, int width, int height, int channels,
        PngFilterMode mode, CompressionLevel compression)
    {
        int stride = width * channels;
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, compression, leaveOpen: true))
        {
            // Candidate rows: [5 x (1 + stride)], one per filter type; row 'best' is written.
            var candidates = new byte[5][];
            for (int f = 0; f < 5; f++)
                candidates[f] = new byte[1 + stride];
            ReadOnlySpan<byte> previous = default; // empty for the first row: "above" is all zeros
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<byte> row = pixels.Slice(y * stride, stride);
                int chosen;
                if (mode == PngFilterMode.Adaptive)
                {
                    chosen = 0;
                    long bestScore = long.MaxValue;
                    for (int f = 0; f < 5; f++)
                    {
                        FilterRow(f, row, previous, channels, candidates[f]);
                        long score = Score(candidates[f]);
                        if (score < bestScore) { bestScore = score; chosen = f; }
                    }
                }
                else
                {
                    chosen = (int)mode;
                    FilterRow(chosen, row, previous, channels, candidates[chosen]);
                }
                zlib.Write(candidates[chosen]);
                previous = row;
            }
        }
        return output.ToArray();
    }

    /// <summary>Sum of |signed byte| over the filtered bytes (the spec's minimum-sum heuristic).</summary>
    private static long Score(ReadOnlySpan<byte> filtered)
    {
        long sum = 0;
        for (int i = 1; i < filtered.Length; i++)
            sum += Math.Abs((int)(sbyte)filtered[i]);
        return sum;
    }

    /// <summary>
    /// Writes filter type <paramref name="filter"/> then the filtered row into <paramref name="output"/> (1 + stride bytes).
    /// <paramref name="previous"/> is the unfiltered row above, or empty for the first row.
    /// </summary>
    internal static void FilterRow(int filter, ReadOnlySpan<byte> row, ReadOnlySpan<byte> previous, int bpp, Span<byte> output)
    {
        output[0] = (byte)filter;
        Span<byte> o = output[1..];
        bool hasUp = !previous.IsEmpty;
        for (int i = 0; i < row.Length; i++)
        {
            int a = i >= bpp ? row[i - bpp] : 0;
            int b = hasUp ? previous[i] : 0;
            int c = hasUp && i >= bpp ? previous[i - bpp] : 0;
            int predictor = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) >> 1,
                _ => Paeth(a, b, c),
            };
            o[i] = (byte)(row[i] - predictor);
        }
    }

    /// <summary>The Paeth predictor: whichever of a (left), b (above), c (upper-left) is closest to a + b - c.</summary>
    internal static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }
}

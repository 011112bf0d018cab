using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace VaeTools.Imaging;

/// <summary>
/// Reads 8-bit grayscale, RGB and RGBA non-interlaced PNG files (everything <see cref="PngEncoder"/>
/// writes, and such files from other tools), with all five row filter types. Every chunk's CRC is
/// checked; ancillary chunks (gAMA, tEXt, ...) are skipped.
/// Damaged files raise <see cref="InvalidDataException"/>; valid PNGs in a form this decoder does
/// not handle (palette, 16-bit, gray+alpha, interlaced) raise <see cref="NotSupportedException"/>.
/// It ships in the module, although no cmdlet reads PNGs, because the Pester suite checks the built module's pictures
/// pixel by pixel through it (tests/pester/Cifar.Tests.ps1); the xunit tests use it too.
/// </summary>
public static class PngDecoder
{
    /// <summary>Decodes the PNG file at <paramref name="path"/>.</summary>
    public static PixelImage ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(stream, $"'{path}'");
    }

    /// <summary>Decodes PNG file bytes.</summary>
    public static PixelImage Decode(byte[] png)
    {
        ArgumentNullException.ThrowIfNull(png);
        using var memory = new MemoryStream(png, writable: false);
        return Read(memory, "PNG data");
    }

    /// <summary>Decodes one PNG from <paramref name="stream"/>, reading up to and including its IEND chunk.</summary>
    public static PixelImage Read(Stream stream) => Read(stream, "PNG stream");

    private static PixelImage Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> signature = stackalloc byte[8];
        int got = ReadFully(stream, signature);
        if (got < 8 || !signature.SequenceEqual(PngEncoder.Signature))
            throw new InvalidDataException(
                $"{source} is not a PNG: the first 8 bytes are {Convert.ToHexString(signature[..got])}, expected 89504E470D0A1A0A.");

        int width = 0, height = 0;
        PixelFormat format = PixelFormat.Gray8;
        bool seenHeader = false, seenEnd = false;
        using var idat = new MemoryStream();
        Span<byte> header = stackalloc byte[8];
        Span<byte> crcBytes = stackalloc byte[4];
        int chunkIndex = 0;
        while (!seenEnd)
        {
            got = ReadFully(stream, header);
            if (got == 0)
                throw new InvalidDataException($"{source} is truncated: it ends after {chunkIndex} chunks without an IEND chunk.");
            if (got < 8)
                throw new InvalidDataException($"{source} is truncated inside the header of chunk #{chunkIndex}.");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
            string type = Encoding.ASCII.GetString(header[4..]);
            if (length > int.MaxValue)
                throw new InvalidDataException($"{source}: chunk #{chunkIndex} '{type}' claims length {length}, more than PNG allows (2^31-1).");
            for (int i = 4; i < 8; i++)
                if (!char.IsAsciiLetter((char)header[i]))
                    throw new InvalidDataException($"{source}: chunk #{chunkIndex} has an invalid type code {Convert.ToHexString(header[4..])}.");
            if (stream.CanSeek && length > stream.Length - stream.Position)
                throw new InvalidDataException(
                    $"{source} is truncated: chunk '{type}' claims {length} bytes but only {stream.Length - stream.Position} remain.");
            var data = new byte[length];
            if (ReadFully(stream, data) < data.Length || ReadFully(stream, crcBytes) < 4)
                throw new InvalidDataException($"{source} is truncated inside chunk '{type}' ({length} data bytes + 4 CRC bytes expected).");
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(crcBytes);
            uint computed = PngCrc32.Append(PngCrc32.Compute(header[4..]), data);
            if (stored != computed)
                throw new InvalidDataException(
                    $"{source}: CRC mismatch in chunk '{type}' (#{chunkIndex}): stored 0x{stored:X8}, computed 0x{computed:X8}. The file is corrupt.");

            if (chunkIndex == 0 && type != "IHDR")
                throw new InvalidDataException($"{source}: the first chunk is '{type}', expected IHDR.");
            switch (type)
            {
                case "IHDR":
                    if (seenHeader)
                        throw new InvalidDataException($"{source} has more than one IHDR chunk.");
                    (width, height, format) = ParseHeader(data, source);
                    seenHeader = true;
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    seenEnd = true;
                    break;
                case "PLTE":
                    break; // only meaningful for palette images, which ParseHeader already rejected
                default:
                    if (char.IsAsciiLetterUpper(type[0]))
                        throw new NotSupportedException($"{source} has critical chunk '{type}', which this decoder does not know.");
                    break; // ancillary chunk: safe to ignore
            }
            chunkIndex++;
        }
        if (idat.Length == 0)
            throw new InvalidDataException($"{source} has no IDAT chunk (no image data).");

        int channels = (int)format;
        int stride = width * channels;
        long expected = (long)height * (1 + stride);
        var filtered = new byte[expected];
        idat.Position = 0;
        int inflated;
        try
        {
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            inflated = ReadFully(zlib, filtered);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{source}: the zlib image data is corrupt ({e.Message}).", e);
        }
        if (inflated < expected)
            throw new InvalidDataException(
                $"{source}: image data is truncated: {inflated} bytes inflated, {expected} expected for {height} rows of {width} x {channels} bytes plus a filter byte.");

        var pixels = new byte[(long)height * stride];
        for (int y = 0; y < height; y++)
        {
            int filter = filtered[(long)y * (1 + stride)];
            ReadOnlySpan<byte> src = filtered.AsSpan((int)((long)y * (1 + stride) + 1), stride);
            Span<byte> row = pixels.AsSpan(y * stride, stride);
            ReadOnlySpan<byte> above = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : default;
            if (filter > 4)
                throw new InvalidDataException($"{source}: row {y} has filter type {filter}; PNG defines 0 to 4.");
            Unfilter(filter, src, above, channels, row);
        }
        return new PixelImage(width, height, format, pixels);
    }

    private static (int Width, int Height, PixelFormat Format) ParseHeader(ReadOnlySpan<byte> data, string source)
    {
        if (data.Length != 13)
            throw new InvalidDataException($"{source}: IHDR holds {data.Length} bytes, expected 13.");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(data);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        byte bitDepth = data[8], colorType = data[9], compression = data[10], filterMethod = data[11], interlace = data[12];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw new InvalidDataException($"{source}: invalid image size {width} x {height}.");
        if (compression != 0 || filterMethod != 0)
            throw new InvalidDataException($"{source}: compression method {compression} / filter method {filterMethod}; PNG defines only 0.");
        PixelFormat format = colorType switch
        {
            0 => PixelFormat.Gray8,
            2 => PixelFormat.Rgb24,
            6 => PixelFormat.Rgba32,
            3 => throw new NotSupportedException($"{source} is a palette PNG (color type 3); only 8-bit gray, RGB and RGBA are supported."),
            4 => throw new NotSupportedException($"{source} is a gray+alpha PNG (color type 4); only 8-bit gray, RGB and RGBA are supported."),
            _ => throw new InvalidDataException($"{source}: invalid PNG color type {colorType}."),
        };
        if (bitDepth != 8)
            throw new NotSupportedException($"{source} has bit depth {bitDepth}; only 8-bit PNGs are supported.");
        if (interlace != 0)
            throw new NotSupportedException($"{source} is interlaced (Adam7); only non-interlaced PNGs are supported.");
        long bytes = (long)width * height * (int)format;
        if (bytes > Array.MaxLength)
            throw new NotSupportedException($"{source}: a {width} x {height} image ({bytes} bytes) is too large to decode into one array.");
        return ((int)width, (int)height, format);
    }

    /// <summary>Reverses filter <paramref name="filter"/> of one row; <paramref name="above"/> is empty for row 0.</summary>
    internal static void Unfilter(int filter, ReadOnlySpan<byte> src, ReadOnlySpan<byte> above, int bpp, Span<byte> row)
    {
        bool hasUp = !above.IsEmpty;
        for (int i = 0; i < src.Length; i++)
        {
            int a = i >= bpp ? row[i - bpp] : 0;
            int b = hasUp ? above[i] : 0;
            int c = hasUp && i >= bpp ? above[i - bpp] : 0;
            int predictor = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) >> 1,
                _ => PngEncoder.Paeth(a, b, c),
            };
            row[i] = (byte)(src[i] + predictor);
        }
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

using VaeTools.Tests.TestSupport;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using VaeTools.Imaging;
using VaeTools.Internal;
using VaeTools.Tests.TestSupport;
using VaeTools.Tests.Model;

namespace VaeTools.Tests.Imaging;

public class PngTests
{
    private static PixelImage RandomImage(int width, int height, PixelFormat format, int seed)
    {
        var image = new PixelImage(width, height, format);
        new Random(seed).NextBytes(image.Pixels);
        return image;
    }

    /// <summary>A smooth gradient with some noise: makes the filters actually differ from None.</summary>
    private static PixelImage GradientImage(int width, int height, PixelFormat format)
    {
        var image = new PixelImage(width, height, format);
        var rng = new Random(7);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < image.Channels; c++)
                    image[y, x, c] = (byte)(x * 3 + y * 5 + c * 40 + rng.Next(4));
        return image;
    }

    public static IEnumerable<object[]> RoundTripCases()
    {
        foreach (var format in new[] { PixelFormat.Gray8, PixelFormat.Rgb24, PixelFormat.Rgba32 })
            foreach (var (w, h) in new[] { (1, 1), (3, 5), (29, 31), (64, 2) })
                foreach (var filter in Enum.GetValues<PngFilterMode>())
                    yield return [format, w, h, filter];
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Round_trip_gives_the_same_pixels(PixelFormat format, int width, int height, PngFilterMode filter)
    {
        foreach (var image in new[] { RandomImage(width, height, format, width * 1000 + height), GradientImage(width, height, format) })
        {
            byte[] png = PngEncoder.Encode(image, filter);
            PixelImage decoded = PngDecoder.Decode(png);
            Assert.Equal(width, decoded.Width);
            Assert.Equal(height, decoded.Height);
            Assert.Equal(format, decoded.Format);
            Assert.Equal(image.Pixels, decoded.Pixels);
        }
    }

    [Fact]
    public void File_starts_with_signature_and_ihdr_and_ends_with_iend()
    {
        byte[] png = PngEncoder.Encode(RandomImage(29, 31, PixelFormat.Rgb24, 1));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(8)));
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(29, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(31, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal(8, png[24]);  // bit depth
        Assert.Equal(2, png[25]);  // colour type RGB
        // IEND is the last 12 bytes: length 0, "IEND", CRC AE426082 (the constant every PNG ends with).
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82 }, png[^12..]);
    }

    [Fact]
    public void Crc32_matches_published_values()
    {
        // CRC of the chunk type "IEND" (empty data) is 0xAE426082 (PNG spec); "123456789" is the CRC-32 check value 0xCBF43926.
        Assert.Equal(0xAE426082u, PngCrc32.Compute("IEND"u8));
        Assert.Equal(0xCBF43926u, PngCrc32.Compute("123456789"u8));
        Assert.Equal(0u, PngCrc32.Compute(ReadOnlySpan<byte>.Empty));
        // Appending in pieces equals computing at once.
        Assert.Equal(PngCrc32.Compute("123456789"u8), PngCrc32.Append(PngCrc32.Compute("1234"u8), "56789"u8));
    }

    [Fact]
    public void Corrupt_crc_is_detected()
    {
        byte[] png = PngEncoder.Encode(RandomImage(3, 5, PixelFormat.Gray8, 2));
        png[^13] ^= 0x01; // last byte of the IDAT chunk's CRC (IDAT is right before the 12-byte IEND)
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png));
        Assert.Contains("CRC", e.Message);
        Assert.Contains("IDAT", e.Message);
    }

    [Fact]
    public void Corrupt_data_byte_is_detected_by_crc()
    {
        byte[] png = PngEncoder.Encode(RandomImage(3, 5, PixelFormat.Gray8, 2));
        png[8 + 8 + 2] ^= 0x01; // a byte inside IHDR's data (the width)
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png));
        Assert.Contains("CRC mismatch in chunk 'IHDR'", e.Message);
    }

    [Fact]
    public void Bad_signature_is_rejected()
    {
        byte[] png = PngEncoder.Encode(RandomImage(1, 1, PixelFormat.Gray8, 3));
        png[1] = (byte)'J';
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png));
        Assert.Contains("not a PNG", e.Message);
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(Encoding.ASCII.GetBytes("GIF89a")));
    }

    [Theory]
    [InlineData(5)]    // inside the signature
    [InlineData(20)]   // inside IHDR
    [InlineData(-12)]  // IEND missing
    [InlineData(-20)]  // inside IDAT
    public void Truncated_file_is_rejected(int cut)
    {
        byte[] png = PngEncoder.Encode(RandomImage(29, 31, PixelFormat.Rgba32, 4));
        int length = cut > 0 ? cut : png.Length + cut;
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png[..length]));
        Assert.True(e.Message.Contains("truncated") || e.Message.Contains("not a PNG"), e.Message);
    }

    [Fact]
    public void Truncated_file_is_rejected_from_non_seekable_stream()
    {
        byte[] png = PngEncoder.Encode(RandomImage(29, 31, PixelFormat.Rgb24, 5));
        using var stream = new NonSeekableStream(png[..(png.Length - 30)]);
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Read(stream));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Image_data_shorter_than_the_header_says_is_rejected()
    {
        // A valid file whose IHDR claims 4 rows but whose IDAT holds 2.
        byte[] real = PngEncoder.Encode(RandomImage(3, 2, PixelFormat.Gray8, 6));
        byte[] idat = ExtractChunks(real).Single(c => c.Type == "IDAT").Data;
        var e = Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(BuildPng(Ihdr(3, 4, 8, 0), idat)));
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(8, 3, 0, "palette")]
    [InlineData(16, 2, 0, "bit depth 16")]
    [InlineData(8, 4, 0, "gray+alpha")]
    [InlineData(8, 2, 1, "interlaced")]
    public void Unsupported_formats_are_rejected_clearly(byte bitDepth, byte colorType, byte interlace, string expected)
    {
        byte[] png = BuildPng(Ihdr(2, 2, bitDepth, colorType, interlace), [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        var e = Assert.Throws<NotSupportedException>(() => PngDecoder.Decode(png));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Ancillary_chunks_are_skipped_and_unknown_critical_chunks_rejected()
    {
        var image = RandomImage(4, 3, PixelFormat.Rgb24, 8);
        var chunks = ExtractChunks(PngEncoder.Encode(image));
        byte[] idat = chunks.Single(c => c.Type == "IDAT").Data;
        byte[] withText = BuildPng(chunks[0].Data, idat, ("tEXt", Encoding.ASCII.GetBytes("Comment\0hello")));
        Assert.Equal(image.Pixels, PngDecoder.Decode(withText).Pixels);
        byte[] withCritical = BuildPng(chunks[0].Data, idat, ("ABCD", [1, 2, 3]));
        var e = Assert.Throws<NotSupportedException>(() => PngDecoder.Decode(withCritical));
        Assert.Contains("ABCD", e.Message);
    }

    /// <summary>PNG tests that lower the IDAT chunk size through <see cref="TestHooks"/> (they run alone).</summary>
    [Collection(TestHooksCollection.Name)]
    public class WithHooks
    {
        [Fact]
        public void Many_idat_chunks_decode()
        {
            var image = GradientImage(29, 31, PixelFormat.Rgb24);
            Assert.Single(ExtractChunks(PngEncoder.Encode(image)), c => c.Type == "IDAT"); // one chunk by default
            byte[] png;
            using (Hooks.Install(new TestHooks { PngMaxIdatLength = 100 })) png = PngEncoder.Encode(image);
            var idat = ExtractChunks(png).Where(c => c.Type == "IDAT").ToList();
            Assert.True(idat.Count > 3);
            Assert.All(idat.SkipLast(1), c => Assert.Equal(100, c.Data.Length));
            Assert.Equal(image.Pixels, PngDecoder.Decode(png).Pixels);
        }
    }

    [Fact]
    public void Adaptive_filtering_compresses_a_gradient_better_than_none()
    {
        var image = GradientImage(200, 100, PixelFormat.Rgb24);
        int none = PngEncoder.Encode(image, PngFilterMode.None).Length;
        int adaptive = PngEncoder.Encode(image, PngFilterMode.Adaptive).Length;
        Assert.True(adaptive < none, $"adaptive {adaptive} bytes, none {none} bytes");
    }

    [Fact]
    public void Write_file_is_atomic_and_overwrites()
    {
        string dir = Directory.CreateTempSubdirectory("vaetools-png-").FullName;
        try
        {
            string path = Path.Combine(dir, "a.png");
            PngEncoder.WriteFile(path, RandomImage(3, 5, PixelFormat.Gray8, 9));
            var second = RandomImage(29, 31, PixelFormat.Rgba32, 10);
            PngEncoder.WriteFile(path, second);
            Assert.Equal(second.Pixels, PngDecoder.ReadFile(path).Pixels);
            Assert.Equal(new[] { "a.png" }, Directory.GetFiles(dir).Select(Path.GetFileName));
            var e = Assert.Throws<DirectoryNotFoundException>(() => PngEncoder.WriteFile(Path.Combine(dir, "no", "b.png"), second));
            Assert.Contains("does not exist", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Pixel_count_mismatch_is_an_error()
    {
        var e = Assert.Throws<ArgumentException>(() => PngEncoder.Write(Stream.Null, new byte[10], 3, 3, PixelFormat.Gray8));
        Assert.Contains("needs 9 bytes", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PixelImage(0, 3, PixelFormat.Gray8));
        Assert.Throws<ArgumentException>(() => new PixelImage(2, 2, PixelFormat.Rgb24, new byte[4]));
    }

    // ---- cross-checks against Python's zlib (an independent deflate and CRC implementation) ----


    private const string PythonReader = """
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat = 8, b''
while True:
    n, t = struct.unpack('>I4s', data[pos:pos+8]); body = data[pos+8:pos+8+n]
    assert struct.unpack('>I', data[pos+8+n:pos+12+n])[0] == zlib.crc32(t + body) & 0xffffffff, t
    if t == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    if t == b'IDAT': idat += body
    pos += 12 + n
    if t == b'IEND': break
bpp = {0: 1, 2: 3, 6: 4}[ctype]; stride = w * bpp
raw = zlib.decompress(idat); out = bytearray(); prev = bytearray(stride)
for y in range(h):
    f = raw[y*(stride+1)]; row = bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
    for i in range(stride):
        a = row[i-bpp] if i >= bpp else 0; b = prev[i]; c = prev[i-bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    out += row; prev = row
sys.stdout.write(out.hex())
""";

    private const string PythonWriter = """
import sys, struct, zlib, random
w, h, ctype = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bpp = {0: 1, 2: 3, 6: 4}[ctype]; stride = w * bpp
rnd = random.Random(5)
pix = [bytearray((x * 7 + y * 3 + rnd.randrange(20)) & 255 for x in range(stride)) for y in range(h)]
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
raw = bytearray(); prev = bytearray(stride)
for y in range(h):
    f = y % 5; row = pix[y]; out = bytearray(stride)
    for i in range(stride):
        a = row[i-bpp] if i >= bpp else 0; b = prev[i]; c = prev[i-bpp] if i >= bpp else 0
        p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
        pred = [0, a, b, (a + b) // 2, a if pa <= pb and pa <= pc else b if pb <= pc else c][f]
        out[i] = (row[i] - pred) & 255
    raw += bytes([f]) + out; prev = row
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, ctype, 0, 0, 0))
png += chunk(b'gAMA', struct.pack('>I', 45455)) + chunk(b'IDAT', zlib.compress(bytes(raw), 9)) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
sys.stdout.write(b''.join(pix).hex())
""";

    private static string RunPython(string script, params string[] args)
    {
        string dir = Directory.CreateTempSubdirectory("vaetools-py-").FullName;
        try
        {
            string scriptPath = Path.Combine(dir, "s.py");
            File.WriteAllText(scriptPath, script);
            var psi = new ProcessStartInfo(Python.Executable) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(scriptPath);
            foreach (string a in args) psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, "python failed: " + stderr);
            return stdout;
        }
        finally { Directory.Delete(dir, true); }
    }

    [PythonTheory("zlib")]
    [InlineData(PixelFormat.Gray8, 29, 31)]
    [InlineData(PixelFormat.Rgb24, 3, 5)]
    [InlineData(PixelFormat.Rgba32, 17, 9)]
    public void Python_zlib_reads_what_we_write(PixelFormat format, int width, int height)
    {
        string file = Path.Combine(Path.GetTempPath(), $"vaetools-{Guid.NewGuid():N}.png");
        try
        {
            var image = GradientImage(width, height, format);
            PngEncoder.WriteFile(file, image);
            string hex = RunPython(PythonReader, file);
            Assert.Equal(Convert.ToHexString(image.Pixels).ToLowerInvariant(), hex);
        }
        finally { File.Delete(file); }
    }

    [PythonTheory("zlib")]
    [InlineData(0, 29, 31)]
    [InlineData(2, 3, 5)]
    [InlineData(6, 17, 9)]
    public void We_read_what_python_writes_with_all_five_filters(int colorType, int width, int height)
    {
        string file = Path.Combine(Path.GetTempPath(), $"vaetools-{Guid.NewGuid():N}.png");
        try
        {
            string hex = RunPython(PythonWriter, file, width.ToString(), height.ToString(), colorType.ToString());
            PixelImage decoded = PngDecoder.ReadFile(file);
            Assert.Equal(width, decoded.Width);
            Assert.Equal(height, decoded.Height);
            Assert.Equal(Convert.FromHexString(hex!), decoded.Pixels);
        }
        finally { File.Delete(file); }
    }

    // ---- helpers building PNGs by hand ----

    private static byte[] Ihdr(int width, int height, byte bitDepth, byte colorType, byte interlace = 0)
    {
        var data = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(data, width);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), height);
        data[8] = bitDepth; data[9] = colorType; data[12] = interlace;
        return data;
    }

    private static byte[] BuildPng(byte[] ihdr, byte[] idat, params (string Type, byte[] Data)[] extra)
    {
        using var memory = new MemoryStream();
        memory.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        PngEncoder.WriteChunk(memory, "IHDR", ihdr);
        foreach (var (type, data) in extra) PngEncoder.WriteChunk(memory, type, data);
        PngEncoder.WriteChunk(memory, "IDAT", idat);
        PngEncoder.WriteChunk(memory, "IEND", []);
        return memory.ToArray();
    }

    private static List<(string Type, byte[] Data)> ExtractChunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (int pos = 8; pos < png.Length;)
        {
            int n = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            chunks.Add((Encoding.ASCII.GetString(png, pos + 4, 4), png[(pos + 8)..(pos + 8 + n)]));
            pos += 12 + n;
        }
        return chunks;
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}

using System.IO.Compression;

namespace VaeTools.Tests.Data;

/// <summary>Builds small IDX files by hand (big-endian header written byte by byte) for format tests.</summary>
internal static class SyntheticIdx
{
    /// <summary>An images file: magic 0x00000803, count, rows, cols, then pixel (i * 7 + 3) mod 256.</summary>
    public static byte[] Images(int count, int rows, int cols, int magic = 0x00000803)
    {
        var bytes = new List<byte>();
        AddBigEndian(bytes, magic);
        AddBigEndian(bytes, count);
        AddBigEndian(bytes, rows);
        AddBigEndian(bytes, cols);
        for (int i = 0; i < count * rows * cols; i++) bytes.Add((byte)((i * 7 + 3) % 256));
        return bytes.ToArray();
    }

    /// <summary>A labels file: magic 0x00000801, count, then labels i mod 10.</summary>
    public static byte[] Labels(int count, int magic = 0x00000801)
    {
        var bytes = new List<byte>();
        AddBigEndian(bytes, magic);
        AddBigEndian(bytes, count);
        for (int i = 0; i < count; i++) bytes.Add((byte)(i % 10));
        return bytes.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static void AddBigEndian(List<byte> bytes, int value)
    {
        bytes.Add((byte)(value >> 24));
        bytes.Add((byte)(value >> 16));
        bytes.Add((byte)(value >> 8));
        bytes.Add((byte)value);
    }
}

/// <summary>A fresh temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("vaetools-test-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        string p = File(name);
        System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

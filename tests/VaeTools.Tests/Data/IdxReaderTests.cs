using VaeTools.Data;

namespace VaeTools.Tests.Data;

public class IdxReaderTests
{
    [Fact]
    public void Reads_raw_images_and_labels()
    {
        using var dir = new TempDir();
        string images = dir.Write("imgs", SyntheticIdx.Images(3, 2, 4));
        string labels = dir.Write("lbls", SyntheticIdx.Labels(3));

        var parsed = IdxReader.ReadImages(images);
        Assert.Equal((3, 2, 4), (parsed.Count, parsed.Rows, parsed.Cols));
        Assert.Equal(24, parsed.Pixels.Length);
        for (int i = 0; i < 24; i++) Assert.Equal((byte)((i * 7 + 3) % 256), parsed.Pixels[i]);
        Assert.Equal(new byte[] { 0, 1, 2 }, IdxReader.ReadLabels(labels));
    }

    [Fact]
    public void Detects_gzip_by_magic_not_by_name()
    {
        using var dir = new TempDir();
        // Compressed content under a name without .gz, and raw content under a name with .gz.
        string gzNoSuffix = dir.Write("images-plain-name", SyntheticIdx.Gzip(SyntheticIdx.Images(5, 3, 3)));
        string rawWithSuffix = dir.Write("labels.gz", SyntheticIdx.Labels(5));

        Assert.Equal(5, IdxReader.ReadImages(gzNoSuffix).Count);
        Assert.Equal(SyntheticIdx.Images(5, 3, 3)[16..], IdxReader.ReadImages(gzNoSuffix).Pixels);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, IdxReader.ReadLabels(rawWithSuffix));
    }

    [Fact]
    public void Wrong_magic_names_file_expected_and_found()
    {
        using var dir = new TempDir();
        string labelsAsImages = dir.Write("actually-labels", SyntheticIdx.Labels(4));
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(labelsAsImages));
        Assert.Contains(labelsAsImages, e.Message);
        Assert.Contains("0x00000803", e.Message);
        Assert.Contains("found 0x00000801", e.Message);
        Assert.Equal(labelsAsImages, e.FilePath);

        string garbage = dir.Write("garbage", new byte[] { 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0 });
        var e2 = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(garbage));
        Assert.Contains("garbage", e2.Message);
        Assert.Contains("0x00000801", e2.Message);
        Assert.Contains("0x12345678", e2.Message);
    }

    [Fact]
    public void Truncated_data_is_an_error_with_expected_and_actual_length()
    {
        using var dir = new TempDir();
        byte[] full = SyntheticIdx.Images(3, 2, 4); // 16 + 24 = 40 bytes
        string path = dir.Write("short-images", full[..35]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("40 bytes", e.Message);
        Assert.Contains("has 35", e.Message);
    }

    [Fact]
    public void Truncated_header_is_an_error()
    {
        using var dir = new TempDir();
        string path = dir.Write("tiny-labels", SyntheticIdx.Labels(2)[..6]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("8-byte header", e.Message);
        Assert.Contains("6 bytes", e.Message);
    }

    [Fact]
    public void Trailing_bytes_are_an_error()
    {
        using var dir = new TempDir();
        byte[] labels = SyntheticIdx.Labels(4).Concat(new byte[] { 9, 9, 9 }).ToArray();
        string path = dir.Write("long-labels", labels);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("3 trailing bytes", e.Message);
        Assert.Contains("12 bytes", e.Message);
    }

    [Fact]
    public void Zero_image_dimension_is_an_error()
    {
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ParseImages(SyntheticIdx.Images(2, 0, 5), "zero-rows"));
        Assert.Contains("zero-rows", e.Message);
        Assert.Contains("0 x 5", e.Message);
    }

    [Fact]
    public void Negative_dimension_is_an_error()
    {
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ParseLabels(SyntheticIdx.Labels(-1), "neg"));
        Assert.Contains("neg", e.Message);
        Assert.Contains("-1", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_is_an_error_naming_the_file()
    {
        using var dir = new TempDir();
        byte[] gz = SyntheticIdx.Gzip(SyntheticIdx.Images(50, 10, 10));
        // Keep the gzip header (10 bytes) and destroy the deflate stream behind it.
        for (int i = 10; i < gz.Length - 8; i++) gz[i] = 0xFF;
        string path = dir.Write("broken.gz", gz);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void Truncated_gzip_is_an_error_naming_the_file()
    {
        using var dir = new TempDir();
        byte[] gz = SyntheticIdx.Gzip(SyntheticIdx.Images(50, 10, 10));
        string path = dir.Write("cut.gz", gz[..(gz.Length / 2)]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void Sha256_mismatch_names_file_and_both_hashes()
    {
        byte[] data = SyntheticIdx.Labels(3);
        string actual = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();
        string wrong = new string('a', 64);
        var e = Assert.Throws<DataChecksumException>(() => IdxReader.VerifySha256(data, wrong, "some-file"));
        Assert.Contains("some-file", e.Message);
        Assert.Contains(wrong, e.Message);
        Assert.Contains(actual, e.Message);
        Assert.Equal(actual, e.ActualSha256);
        IdxReader.VerifySha256(data, actual.ToUpperInvariant(), "some-file"); // case-insensitive match passes
    }
}

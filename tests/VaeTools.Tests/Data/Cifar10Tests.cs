using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using VaeTools.Data;

namespace VaeTools.Tests.Data;

/// <summary>Files laid out like the CIFAR-10 binary version, generated here (the real 162 MB archive is not on this machine).</summary>
internal static class SyntheticCifar
{
    /// <summary>
    /// A batch of <paramref name="records"/> records: label (seed + r) % 10, pixel (plane c, row y, column x) =
    /// (r * 7 + c * 50 + y * 3 + x + seed) % 256, so every value says where it came from.
    /// </summary>
    public static byte[] Batch(int records, int seed)
    {
        var bytes = new byte[records * Cifar10Files.RecordSize];
        for (int r = 0; r < records; r++)
        {
            int at = r * Cifar10Files.RecordSize;
            bytes[at] = (byte)((seed + r) % 10);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        bytes[at + 1 + c * 1024 + y * 32 + x] = Pixel(r, c, y, x, seed);
        }
        return bytes;
    }

    public static byte Pixel(int r, int c, int y, int x, int seed) => (byte)((r * 7 + c * 50 + y * 3 + x + seed) % 256);

    public static readonly string[] AllBatches = Cifar10Files.TrainBatches.Append(Cifar10Files.TestBatch).ToArray();

    /// <summary>Seed of a batch file: 1..5 for data_batch_N, 6 for test_batch.</summary>
    public static int SeedOf(string batch) => Array.IndexOf(AllBatches, batch) + 1;

    /// <summary>Writes cifar-10-batches-bin/ with every batch (records each) under <paramref name="directory"/>.</summary>
    public static string WriteFolder(string directory, int records, IEnumerable<string>? batches = null)
    {
        string folder = Path.Combine(directory, Cifar10Files.FolderName);
        Directory.CreateDirectory(folder);
        foreach (var b in batches ?? AllBatches) File.WriteAllBytes(Path.Combine(folder, b), Batch(records, SeedOf(b)));
        return folder;
    }

    /// <summary>A .tar.gz laid out like the official one (batches.meta.txt, then the batches under cifar-10-batches-bin/).</summary>
    public static byte[] Archive(int records, IEnumerable<string>? batches = null, Func<string, byte[]>? content = null)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var dir = new UstarTarEntry(TarEntryType.Directory, Cifar10Files.FolderName + "/");
            tar.WriteEntry(dir);
            var meta = new UstarTarEntry(TarEntryType.RegularFile, Cifar10Files.FolderName + "/batches.meta.txt")
            {
                DataStream = new MemoryStream(System.Text.Encoding.ASCII.GetBytes(string.Join("\n", Cifar10Files.ClassNames) + "\n")),
            };
            tar.WriteEntry(meta);
            foreach (var b in batches ?? AllBatches)
            {
                var entry = new UstarTarEntry(TarEntryType.RegularFile, Cifar10Files.FolderName + "/" + b)
                {
                    DataStream = new MemoryStream(content?.Invoke(b) ?? Batch(records, SeedOf(b))),
                };
                tar.WriteEntry(entry);
            }
        }
        return memory.ToArray();
    }

    public static string Md5(byte[] bytes) => Convert.ToHexString(MD5.HashData(bytes)).ToLowerInvariant();
}

public class Cifar10ReaderTests
{
    private const int Records = 20;

    private static Cifar10LoadOptions Options(string directory, MnistSubset subset = MnistSubset.Test, string? md5 = null) => new()
    {
        Directory = directory,
        Subset = subset,
        RecordsPerBatch = Records,
        ExpectedMd5 = md5 ?? Cifar10Files.PublishedMd5,
    };

    // Every pixel and label as the generator wrote it, in channel-major order, pixel / 255.
    private static void AssertHoldsBatches(Cifar10Dataset data, params string[] batches)
    {
        Assert.Equal(batches.Length * Records, data.Count);
        Assert.Equal(3072, data.Features);
        Assert.Equal(new ImageShape(3, 32, 32), data.ImageShape);
        Assert.Equal(new ImageShape(3, 32, 32), ((IDataset)data).ImageShape);
        var row = new float[3072];
        for (int b = 0; b < batches.Length; b++)
        {
            int seed = SyntheticCifar.SeedOf(batches[b]);
            foreach (int r in new[] { 0, 7, Records - 1 })
            {
                int index = b * Records + r;
                Assert.Equal((seed + r) % 10, data.GetLabel(index));
                data.CopyRows(new[] { index }, row, null);
                foreach (var (c, y, x) in new[] { (0, 0, 0), (0, 31, 5), (1, 2, 3), (2, 31, 31), (2, 17, 0) })
                    Assert.Equal(SyntheticCifar.Pixel(r, c, y, x, seed) / 255f, row[c * 1024 + y * 32 + x]);
            }
        }
    }

    [Fact]
    public void Reads_the_unpacked_folder_of_either_subset()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteFolder(dir.Path, Records);
        AssertHoldsBatches(Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test)), Cifar10Files.TestBatch);
        var train = Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Train));
        AssertHoldsBatches(train, Cifar10Files.TrainBatches.ToArray());
        Assert.Equal("CIFAR-10 train (100 images, classes 0-9)", train.Description);
        Assert.Equal("airplane", train.ClassNames[0]);
        Assert.Equal("truck", train.ClassNames[9]);
    }

    [Fact]
    public void Reads_batches_straight_out_of_the_archive_after_checking_its_md5()
    {
        using var dir = new TempDir();
        byte[] archive = SyntheticCifar.Archive(Records);
        dir.Write(Cifar10Files.ArchiveName, archive);
        string md5 = SyntheticCifar.Md5(archive);
        AssertHoldsBatches(Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Train, md5)), Cifar10Files.TrainBatches.ToArray());
        AssertHoldsBatches(Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test, md5)), Cifar10Files.TestBatch);
        // -Path may name the archive itself.
        AssertHoldsBatches(Cifar10Dataset.Load(Options(dir.File(Cifar10Files.ArchiveName), MnistSubset.Test, md5)), Cifar10Files.TestBatch);
    }

    [Fact]
    public void An_archive_that_is_not_the_published_one_is_refused_naming_file_and_both_md5s()
    {
        using var dir = new TempDir();
        byte[] archive = SyntheticCifar.Archive(Records);
        string path = dir.Write(Cifar10Files.ArchiveName, archive);
        var e = Assert.Throws<DataChecksumException>(() => Cifar10Dataset.Load(Options(dir.Path)));
        Assert.Equal("MD5", e.Algorithm);
        Assert.Contains(path, e.Message);
        Assert.Contains("c32a1d4ab5d03f1284b67883e8d87530", e.Message);
        Assert.Contains(SyntheticCifar.Md5(archive), e.Message);
    }

    [Fact]
    public void A_truncated_batch_file_is_named_with_its_size_and_what_was_expected()
    {
        using var dir = new TempDir();
        string folder = SyntheticCifar.WriteFolder(dir.Path, Records);
        string test = Path.Combine(folder, Cifar10Files.TestBatch);
        File.WriteAllBytes(test, SyntheticCifar.Batch(Records, 6)[..(Records * 3073 - 100)]);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path)));
        Assert.Equal(test, e.FilePath);
        Assert.Contains($"expected {Records * 3073} bytes ({Records} records of 1 label byte + 3072 pixel bytes)", e.Message);
        Assert.Contains($"holds {Records * 3073 - 100} bytes", e.Message);
        Assert.Contains("truncated", e.Message);

        // A whole number of records, but too few.
        File.WriteAllBytes(test, SyntheticCifar.Batch(Records - 1, 6));
        e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path)));
        Assert.Contains($"{Records - 1} records", e.Message);
    }

    [Fact]
    public void The_official_record_count_is_the_default()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteFolder(dir.Path, Records, new[] { Cifar10Files.TestBatch });
        var e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(new Cifar10LoadOptions { Directory = dir.Path, Subset = MnistSubset.Test }));
        Assert.Contains("expected 30730000 bytes (10000 records", e.Message);
    }

    [Fact]
    public void A_full_size_test_batch_is_read_out_of_an_archive_with_the_official_record_count()
    {
        using var dir = new TempDir();
        byte[] archive = SyntheticCifar.Archive(Cifar10Files.RecordsPerBatch, new[] { Cifar10Files.TestBatch });
        dir.Write(Cifar10Files.ArchiveName, archive);
        var data = Cifar10Dataset.Load(new Cifar10LoadOptions { Directory = dir.Path, Subset = MnistSubset.Test, ExpectedMd5 = SyntheticCifar.Md5(archive) });
        Assert.Equal(10000, data.Count);
        Assert.Equal((6 + 9999) % 10, data.GetLabel(9999));
        var row = new float[3072];
        data.CopyRows(new[] { 9999 }, row, null);
        Assert.Equal(SyntheticCifar.Pixel(9999, 2, 31, 30, 6) / 255f, row[2048 + 31 * 32 + 30]);
    }

    [Fact]
    public void A_label_outside_0_to_9_names_file_and_record()
    {
        using var dir = new TempDir();
        string folder = SyntheticCifar.WriteFolder(dir.Path, Records, new[] { Cifar10Files.TestBatch });
        var bytes = SyntheticCifar.Batch(Records, 6);
        bytes[5 * 3073] = 10;
        File.WriteAllBytes(Path.Combine(folder, Cifar10Files.TestBatch), bytes);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path)));
        Assert.Contains(Cifar10Files.TestBatch, e.Message);
        Assert.Contains("record 5 has label 10", e.Message);
    }

    [Fact]
    public void A_truncated_or_corrupted_archive_is_named()
    {
        using var dir = new TempDir();
        byte[] archive = SyntheticCifar.Archive(Records);
        byte[] cut = archive[..(archive.Length / 2)];
        string path = dir.Write(Cifar10Files.ArchiveName, cut);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test, SyntheticCifar.Md5(cut))));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);

        byte[] garbled = (byte[])archive.Clone();
        for (int i = 100; i < garbled.Length - 100; i += 97) garbled[i] ^= 0x5A;
        dir.Write(Cifar10Files.ArchiveName, garbled);
        e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test, SyntheticCifar.Md5(garbled))));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void An_archive_without_the_batch_or_with_a_short_one_says_which()
    {
        using var dir = new TempDir();
        byte[] archive = SyntheticCifar.Archive(Records, Cifar10Files.TrainBatches);
        dir.Write(Cifar10Files.ArchiveName, archive);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test, SyntheticCifar.Md5(archive))));
        Assert.Contains("does not hold cifar-10-batches-bin/test_batch.bin", e.Message);

        byte[] shortOne = SyntheticCifar.Archive(Records, content: b => SyntheticCifar.Batch(b == Cifar10Files.TestBatch ? Records - 2 : Records, SyntheticCifar.SeedOf(b)));
        dir.Write(Cifar10Files.ArchiveName, shortOne);
        e = Assert.Throws<DataFormatException>(() => Cifar10Dataset.Load(Options(dir.Path, MnistSubset.Test, SyntheticCifar.Md5(shortOne))));
        Assert.Contains("cifar-10-binary.tar.gz:cifar-10-batches-bin/test_batch.bin", e.Message);
        Assert.Contains($"{Records - 2} records", e.Message);
    }

    [Fact]
    public void Missing_data_without_download_says_how_to_supply_it_by_hand()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10Dataset.Load(Options(dir.Path)));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("cifar-10-binary.tar.gz", e.Message);
        Assert.Contains("https://www.cs.toronto.edu/~kriz/cifar.html", e.Message);
        Assert.Contains("c32a1d4ab5d03f1284b67883e8d87530", e.Message);
        Assert.Contains("VAETOOLS_DATA", e.Message);
        Assert.Contains("-Path", e.Message);
    }

    [Fact]
    public void Class_filter_and_count_keep_the_first_matching_images_in_order()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteFolder(dir.Path, Records);
        var o = Options(dir.Path);
        o.Classes = new[] { 9, 2 };
        o.Count = 3;
        var data = Cifar10Dataset.Load(o);
        // test_batch has seed 6: labels (6 + r) % 10, so class 2 at r = 6, 16; class 9 at r = 3, 13.
        Assert.Equal(new[] { 9, 2, 9 }, Enumerable.Range(0, data.Count).Select(data.GetLabel));
        var row = new float[3072];
        data.CopyRows(new[] { 1 }, row, null);
        Assert.Equal(SyntheticCifar.Pixel(6, 1, 4, 4, 6) / 255f, row[1024 + 4 * 32 + 4]);
        Assert.Equal(new[] { 2, 9 }, data.Classes);
        Assert.Equal("CIFAR-10 test (3 images, classes 2,9, first 3)", data.Description);

        o.Count = 5;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Cifar10Dataset.Load(o));
        Assert.Contains("Count 5 exceeds the 4 images of classes 2,9", e.Message);
    }

    [Fact]
    public void Located_like_mnist_path_then_environment_then_cache()
    {
        using var dir = new TempDir();
        string? Env(string name) => name switch
        {
            "VAETOOLS_DATA" => dir.Path,
            _ => null,
        };
        Assert.Equal(Path.Combine(dir.Path, "cifar10"), Cifar10Files.ResolveDirectory(null, Env));
        // The archive or the unpacked folder directly in the root: the root itself.
        Directory.CreateDirectory(dir.File(Cifar10Files.FolderName));
        Assert.Equal(dir.Path, Cifar10Files.ResolveDirectory(null, Env));
        Assert.Equal(Path.GetFullPath("elsewhere"), Cifar10Files.ResolveDirectory("elsewhere", Env));
        string? Home(string name) => name == "HOME" ? "/home/someone" : null;
        if (!OperatingSystem.IsWindows())
            Assert.Equal("/home/someone/.cache/vaetools/cifar10", Cifar10Files.ResolveDirectory(null, Home));
    }

    [Fact]
    public void The_unpacked_folder_is_preferred_over_the_archive()
    {
        using var dir = new TempDir();
        dir.Write(Cifar10Files.ArchiveName, new byte[] { 1, 2, 3 });
        Assert.True(Cifar10Files.Find(dir.Path, MnistSubset.Test)!.IsArchive);
        string folder = SyntheticCifar.WriteFolder(dir.Path, Records, new[] { Cifar10Files.TestBatch });
        var found = Cifar10Files.Find(dir.Path, MnistSubset.Test)!;
        Assert.False(found.IsArchive);
        Assert.Equal(folder, found.Path);
        // The folder lacks the training batches: the archive it is, for Train.
        Assert.True(Cifar10Files.Find(dir.Path, MnistSubset.Train)!.IsArchive);
    }
}

/// <summary>The CIFAR-10 downloader against a local HTTP server on 127.0.0.1: nothing leaves the machine.</summary>
public class Cifar10DownloaderTests
{
    private const int Records = 4;
    private static readonly Lazy<byte[]> ArchiveLazy = new(() => SyntheticCifar.Archive(Records));
    private static byte[] Archive => ArchiveLazy.Value;
    private static string Md5 => SyntheticCifar.Md5(Archive);
    private const string Remote = "/" + Cifar10Files.ArchiveName;

    private static DownloadOptions Options(params string[] mirrors) => new()
    {
        Mirrors = mirrors,
        MaxAttempts = 3,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        Timeout = TimeSpan.FromSeconds(20),
    };

    private static void AssertInstalled(TempDir dir)
    {
        Assert.Equal(new[] { Cifar10Files.ArchiveName }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToArray());
        Assert.Equal(Archive, File.ReadAllBytes(dir.File(Cifar10Files.ArchiveName)));
    }

    [Fact]
    public async Task Downloads_checks_the_md5_and_then_loads()
    {
        using var server = new LocalHttpServer((path, _) => path == "/kriz" + Remote ? LocalHttpServer.Reply.Ok(Archive) : LocalHttpServer.Reply.Status(404));
        using var dir = new TempDir();
        var progress = new List<long>();
        var options = Options(server.BaseUrl + "kriz/");
        options.Progress = (file, bytes, total) => { Assert.Equal(Cifar10Files.ArchiveName, file); progress.Add(bytes); };
        await new Cifar10Downloader(options).DownloadAsync(dir.Path, Md5);
        AssertInstalled(dir);
        Assert.Equal(Archive.Length, progress[^1]);
        // Present now: no second request.
        await new Cifar10Downloader(options).DownloadAsync(dir.Path, Md5);
        Assert.Single(server.Requests);

        // And through the loader, into a fresh directory.
        using var other = new TempDir();
        var data = Cifar10Dataset.Load(new Cifar10LoadOptions
        {
            Directory = other.Path, Subset = MnistSubset.Test, AllowDownload = true, Download = options, ExpectedMd5 = Md5, RecordsPerBatch = Records,
        });
        Assert.Equal(Records, data.Count);
        Assert.Equal(6 % 10, data.GetLabel(0));
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task Server_errors_are_retried_until_success()
    {
        using var server = new LocalHttpServer((_, hit) => hit <= 2 ? LocalHttpServer.Reply.Status(503) : LocalHttpServer.Reply.Ok(Archive));
        using var dir = new TempDir();
        var log = new List<string>();
        var options = Options(server.BaseUrl);
        options.Log = log.Add;
        await new Cifar10Downloader(options).DownloadAsync(dir.Path, Md5);
        AssertInstalled(dir);
        Assert.Equal(3, server.Hits(Remote));
        Assert.Contains(log, l => l.Contains("HTTP 503"));
    }

    [Fact]
    public async Task A_truncated_body_is_retried_then_given_up_leaving_nothing_behind()
    {
        using var server = new LocalHttpServer((_, _) => new LocalHttpServer.Reply(200, Archive, SendOnly: Archive.Length / 3));
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<DataDownloadException>(() => new Cifar10Downloader(Options(server.BaseUrl)).DownloadAsync(dir.Path, Md5));
        Assert.Equal(3, server.Hits(Remote));
        // The client sees the connection close before Content-Length bytes: "body cut off" or the transfer's own error.
        Assert.Contains(server.BaseUrl + Cifar10Files.ArchiveName + ": ", e.Message);
        Assert.Contains("gave up after 3 attempts", e.Message);
        Assert.Contains("To supply CIFAR-10 by hand", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public async Task A_corrupted_download_fails_the_checksum_and_the_next_mirror_is_tried()
    {
        byte[] corrupted = (byte[])Archive.Clone();
        corrupted[corrupted.Length / 2] ^= 0xFF;
        using var server = new LocalHttpServer((path, _) => path.StartsWith("/bad/") ? LocalHttpServer.Reply.Ok(corrupted) : LocalHttpServer.Reply.Ok(Archive));
        using var dir = new TempDir();
        var log = new List<string>();
        var options = Options(server.BaseUrl + "bad/", server.BaseUrl + "good/");
        options.Log = log.Add;
        await new Cifar10Downloader(options).DownloadAsync(dir.Path, Md5);
        AssertInstalled(dir);
        Assert.Equal(1, server.Hits("/bad" + Remote)); // a checksum mismatch is not retried
        Assert.Equal(1, server.Hits("/good" + Remote));
    }

    [Fact]
    public async Task With_the_published_md5_a_generated_archive_is_refused_and_every_source_listed()
    {
        using var server = new LocalHttpServer((path, _) => path.StartsWith("/a/") ? LocalHttpServer.Reply.Status(404) : LocalHttpServer.Reply.Ok(Archive));
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<DataDownloadException>(() =>
            new Cifar10Downloader(Options(server.BaseUrl + "a/", server.BaseUrl + "b/")).DownloadAsync(dir.Path));
        Assert.Contains(server.BaseUrl + "a/" + Cifar10Files.ArchiveName + ": HTTP 404", e.Message);
        Assert.Contains(server.BaseUrl + "b/" + Cifar10Files.ArchiveName + ": checksum mismatch: expected MD5 c32a1d4ab5d03f1284b67883e8d87530 but the download hashes to " + Md5, e.Message);
        Assert.Equal(2, e.Failures.Count);
        Assert.Contains(dir.Path, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void The_official_location_is_the_default()
    {
        Assert.Equal(new[] { "https://www.cs.toronto.edu/~kriz/" }, Cifar10Files.DefaultMirrors);
        Assert.Equal("c32a1d4ab5d03f1284b67883e8d87530", Cifar10Files.PublishedMd5);
    }
}

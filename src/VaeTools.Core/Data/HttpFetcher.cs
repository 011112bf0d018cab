using System.Net;

namespace VaeTools.Data;

/// <summary>
/// Settings shared by the data downloaders (<see cref="MnistDownloader"/>, <see cref="Cifar10Downloader"/>).
/// The defaults suit a real download; tests shorten them.
/// </summary>
public class DownloadOptions
{
    /// <summary>Base URLs tried in order; each file is fetched as base + its remote name. Null: the data set's default mirrors.</summary>
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

    /// <summary>Called as bytes arrive: (file name, bytes received so far, total bytes when the server said).</summary>
    public Action<string, long, long?>? Progress { get; set; }

    /// <summary>Called with one-line notes (source tried, retry scheduled, fallback used).</summary>
    public Action<string>? Log { get; set; }

    internal void Validate(string parameter)
    {
        if (MaxAttempts < 1)
            throw new ArgumentOutOfRangeException(parameter, $"MaxAttempts must be at least 1; got {MaxAttempts}.");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(parameter, $"Timeout must be positive; got {Timeout}.");
        if (InitialBackoff < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(parameter, $"InitialBackoff must not be negative; got {InitialBackoff}.");
    }
}

/// <summary>
/// Every source of a data file failed. <see cref="Exception.Message"/> lists each source with its failure and says how
/// to supply the files by hand.
/// </summary>
public class DataDownloadException : IOException
{
    public DataDownloadException(string message, IReadOnlyList<string> failures) : base(message)
    {
        Failures = failures;
    }

    /// <summary>One line per source tried: "source: what went wrong".</summary>
    public IReadOnlyList<string> Failures { get; }
}

/// <summary>
/// One file from one URL over HTTP, with bounded retries, exponential back-off and a per-chunk stall time-out. The body
/// goes to a hidden temporary file in the target directory; a caller-supplied step then verifies it and renames it into
/// place, so a partial or wrong file never appears under the final name. Failures are classified: HTTP 4xx (but 408 and
/// 429) and checksum mismatches are permanent (the next mirror is tried), everything else is retried.
/// </summary>
internal sealed class HttpFetcher
{
    private readonly DownloadOptions _options;

    public HttpFetcher(DownloadOptions options) => _options = options;

    /// <summary>
    /// Moves a verified download into place: (temporary file holding the body, cancellation). Throws
    /// <see cref="DataChecksumException"/> for a wrong file (permanent), <see cref="InvalidDataException"/> or
    /// <see cref="DataFormatException"/> for a corrupt one (retried).
    /// </summary>
    public delegate void Install(string downloaded, CancellationToken cancellationToken);

    public HttpClient CreateClient()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = _options.Timeout,
            AutomaticDecompression = DecompressionMethods.None, // the .gz is the payload, not a transfer encoding
        };
        return new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    // A failure that retrying the same URL will not fix (404, checksum mismatch).
    private sealed class PermanentFailure(string message) : Exception(message);

    // A failure worth retrying (5xx, time-out, body cut off, corrupt data).
    private sealed class TransientFailure(string message, Exception? inner = null) : Exception(message, inner);

    /// <summary>
    /// Fetches <paramref name="url"/> as <paramref name="name"/> into <paramref name="directory"/> (through
    /// <paramref name="install"/>); true on success, else false with one line added to <paramref name="failures"/>.
    /// </summary>
    public async Task<bool> TryUrlAsync(HttpClient http, string url, string directory, string name, Install install,
        List<string> failures, CancellationToken ct)
    {
        string? lastError = null;
        for (int attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            if (attempt > 1)
            {
                var delay = _options.InitialBackoff * Math.Pow(2, attempt - 2);
                _options.Log?.Invoke($"Retrying {url} in {delay.TotalSeconds:0.###} s (attempt {attempt} of {_options.MaxAttempts}) after: {lastError}");
                if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
            }
            _options.Log?.Invoke($"Downloading {url}");
            try
            {
                await FetchOnceAsync(http, url, directory, name, install, ct);
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
        failures.Add($"{url}: {lastError} (gave up after {_options.MaxAttempts} attempt{(_options.MaxAttempts == 1 ? "" : "s")})");
        return false;
    }

    private async Task FetchOnceAsync(HttpClient http, string url, string directory, string name, Install install, CancellationToken ct)
    {
        string download = TempPath(directory, name, "download");
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stall.CancelAfter(_options.Timeout);
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
                    stall.CancelAfter(_options.Timeout); // the time-out is per chunk: a stalled transfer fails, a slow one goes on
                    int n = await body.ReadAsync(buffer, stall.Token);
                    if (n == 0) break;
                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                    received += n;
                    _options.Progress?.Invoke(name, received, total);
                }
            }
            if (total.HasValue && received != total.Value)
                throw new TransientFailure($"body cut off: received {received} of {total.Value} bytes");
            install(download, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TransientFailure($"timed out (no response or no data for {_options.Timeout.TotalSeconds:0.###} s)");
        }
        catch (DataChecksumException e)
        {
            string what = e.Algorithm == "SHA-256" ? "the decompressed download" : "the download";
            throw new PermanentFailure($"checksum mismatch: expected {e.Algorithm} {e.ExpectedSha256} but {what} hashes to {e.ActualSha256}");
        }
        catch (DataFormatException e)
        {
            throw new TransientFailure($"corrupt download: {e.Message}", e);
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

    /// <summary>A hidden temporary name next to the target: ".NAME.GUID.KIND.tmp".</summary>
    public static string TempPath(string directory, string name, string kind)
        => Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.{kind}.tmp");

    public static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace VaeTools.Tests.Data;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 (free port picked by the OS) built on a raw TcpListener, so that a test
/// controls exactly what goes on the wire: status, a declared Content-Length larger than what is sent
/// (a cut-off body), or a delay before the headers or in the middle of the body.
/// </summary>
internal sealed class LocalHttpServer : IDisposable
{
    public sealed record Reply(int Code, byte[] Body, int? SendOnly = null, TimeSpan DelayBeforeHeaders = default, TimeSpan StallAfterPart = default)
    {
        public static Reply Ok(byte[] body) => new(200, body);
        public static Reply Status(int code) => new(code, Encoding.ASCII.GetBytes($"status {code}"));
    }

    private readonly TcpListener _listener;
    private readonly Func<string, int, Reply> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _hits = new();

    /// <param name="handler">(request path, 1-based number of this request for that path) => reply.</param>
    public LocalHttpServer(Func<string, int, Reply> handler)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        BaseUrl = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
        _ = AcceptLoop();
    }

    public string BaseUrl { get; }

    /// <summary>Every request path, in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public int Hits(string path) => _hits.TryGetValue(path, out int n) ? n : 0;

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                string head = await ReadHead(stream);
                string path = head.Split(' ', 3)[1];
                Requests.Enqueue(path);
                int n = _hits.AddOrUpdate(path, 1, (_, v) => v + 1);
                var reply = _handler(path, n);
                if (reply.DelayBeforeHeaders > TimeSpan.Zero) await Task.Delay(reply.DelayBeforeHeaders, _stop.Token);
                string headers = $"HTTP/1.1 {reply.Code} {Reason(reply.Code)}\r\nContent-Type: application/octet-stream\r\n" +
                                 $"Content-Length: {reply.Body.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(headers), _stop.Token);
                int send = reply.SendOnly ?? reply.Body.Length;
                await stream.WriteAsync(reply.Body.AsMemory(0, send), _stop.Token);
                await stream.FlushAsync(_stop.Token);
                if (reply.StallAfterPart > TimeSpan.Zero) await Task.Delay(reply.StallAfterPart, _stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception)
            {
                // Client went away or the server is stopping: nothing to do.
            }
        }
    }

    private static async Task<string> ReadHead(NetworkStream stream)
    {
        var buffer = new byte[8192];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(total));
            if (n == 0) break;
            total += n;
            if (Encoding.ASCII.GetString(buffer, 0, total).Contains("\r\n\r\n")) break;
        }
        return Encoding.ASCII.GetString(buffer, 0, total);
    }

    private static string Reason(int code) => code switch
    {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}

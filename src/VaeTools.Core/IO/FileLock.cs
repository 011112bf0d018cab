using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace VaeTools.IO;

/// <summary>
/// An exclusive lock on a file, held for as long as the object lives: a lock file (<c>&lt;target&gt;.lock</c>) opened
/// with <see cref="FileShare.None"/>, which is an OS lock (flock on Linux and macOS, a share mode on Windows), so it
/// excludes other processes and other threads of this one alike, and it dies with the process: a killed run leaves
/// no lock that blocks the next. The lock file holds the holder's process id (for the message of whoever is refused)
/// and is deleted when the lock is released.
/// </summary>
public sealed class FileLock : IDisposable
{
    private FileStream? _stream;

    private FileLock(FileStream stream, string path)
    {
        _stream = stream;
        LockPath = path;
    }

    /// <summary>The lock file.</summary>
    public string LockPath { get; }

    /// <summary>The lock file of <paramref name="target"/>.</summary>
    public static string LockPathOf(string target) => Path.GetFullPath(target) + ".lock";

    /// <summary>Takes the lock on <paramref name="target"/> at once, or throws <see cref="FileLockedException"/> (never waits).</summary>
    public static FileLock Acquire(string target)
    {
        string full = Path.GetFullPath(target), path = LockPathOf(full);
        string token = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}\n{Guid.NewGuid():N}\n");
        for (int attempt = 0; attempt < 5; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1,
                    OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
            }
            catch (IOException e) when (IsLocked(e))
            {
                throw new FileLockedException(full, ReadHolder(path), e);
            }
            try
            {
                var bytes = Encoding.ASCII.GetBytes(token);
                stream.SetLength(0);
                stream.Write(bytes);
                stream.Flush(flushToDisk: false);
                // On Unix a releasing holder deletes the file before it lets go, so the file just locked may be one
                // that no longer has a name: then the path is free (or someone else's) and we start again.
                if (OperatingSystem.IsWindows() || ReadUnlocked(path) == token) return new FileLock(stream, path);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
            stream.Dispose();
        }
        throw new FileLockedException(full, ReadHolder(path), null);
    }

    /// <summary>Releases the lock and removes the lock file.</summary>
    public void Dispose()
    {
        var stream = Interlocked.Exchange(ref _stream, null);
        if (stream is null) return;
        if (!OperatingSystem.IsWindows())
        {
            // Delete while holding it, so nobody can lock this file and believe it is the one the path names.
            try { File.Delete(LockPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        stream.Dispose();
    }

    private static bool IsLocked(IOException e) =>
        // EWOULDBLOCK (Linux 11, macOS 35) from flock; ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION on Windows.
        e.HResult is 11 or 35 or unchecked((int)0x80070020) or unchecked((int)0x80070021);

    /// <summary>The process id in the lock file, when it can be read (not on Windows, where the holder's share mode forbids it).</summary>
    private static int? ReadHolder(string path)
    {
        string? text = ReadUnlocked(path);
        if (text is null) return null;
        int end = text.IndexOf('\n');
        return int.TryParse(end < 0 ? text : text[..end], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }

    /// <summary>Reads a small file without taking .NET's advisory lock (which the holder's lock would refuse); null when it cannot.</summary>
    private static unsafe string? ReadUnlocked(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        try
        {
            int fd = Native.open(path, 0 /* O_RDONLY */);
            if (fd < 0) return null;
            try
            {
                byte* buffer = stackalloc byte[128];
                nint n = Native.read(fd, buffer, 128);
                return n <= 0 ? null : Encoding.ASCII.GetString(buffer, (int)n);
            }
            finally { Native.close(fd); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    private static unsafe class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint read(int fd, byte* buffer, nint count);

        [DllImport("libc")]
        public static extern int close(int fd);
    }
}

/// <summary>Another training (of this process or another) holds the lock on <see cref="Path"/>.</summary>
public sealed class FileLockedException : IOException
{
    public FileLockedException(string path, int? holder, Exception? inner)
        : base($"'{path}' is in use by {Describe(holder)}.", inner)
    {
        Path = path;
        HolderProcessId = holder;
    }

    public string Path { get; }

    /// <summary>The process that holds the lock, where known.</summary>
    public int? HolderProcessId { get; }

    /// <summary>"another training in this process (id 12)", "process 4711 (pwsh)" or "another process".</summary>
    public static string Describe(int? holder)
    {
        if (holder is not int pid) return "another process";
        if (pid == Environment.ProcessId) return string.Create(CultureInfo.InvariantCulture, $"another training in this process (id {pid})");
        string name = "";
        try { using var p = Process.GetProcessById(pid); name = $" ({p.ProcessName})"; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        return string.Create(CultureInfo.InvariantCulture, $"process {pid}{name}");
    }
}

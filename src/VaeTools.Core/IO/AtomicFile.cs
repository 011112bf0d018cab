using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace VaeTools.IO;

/// <summary>
/// Writes a file so that readers never see a half-written one and a failed write loses nothing: the content goes to
/// a temporary file in the same folder, which is flushed to disk and then renamed over the target. On any failure
/// the temporary file is deleted and an existing target is left as it was. Every file VaeTools writes goes through here.
/// </summary>
/// <remarks>
/// The temporary file has a short name whatever the target's (<c>.vt-HHHHHHHH-RRRRRRRR.tmp</c>, 25 characters: a hash
/// of the target's name and a random part), so a target whose name is as long as the file system allows can still be
/// written. It is held open exclusively while it is written; a temporary file of the same target that nobody holds is
/// left over from a process killed mid-write, and the next write of that target deletes it. Errors name the target,
/// never the temporary file.
/// </remarks>
public static class AtomicFile
{
    private const string Prefix = ".vt-", Suffix = ".tmp";

    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)
            ?? throw new ArgumentException($"Cannot write '{path}': it names no file.", nameof(path));
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot write '{full}': the folder '{folder}' does not exist.");
        if (Directory.Exists(full))
            throw new IOException($"Cannot write '{full}': it is a folder.");
        string stem = TempStem(full);
        RemoveStale(folder, stem);
        string temp = Path.Combine(folder, stem + RandomNumberGenerator.GetHexString(8, lowercase: true) + Suffix);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (Renamed(e, temp, full) is { } named) throw named;
            throw;
        }
    }

    /// <summary>The temporary files of <paramref name="fullPath"/> start with this: ".vt-" and 8 hex digits of a hash of the name.</summary>
    public static string TempStem(string fullPath)
    {
        // Ordinal on the full path: the same target always gives the same stem (no per-process string hash).
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(fullPath));
        return Prefix + Convert.ToHexString(hash, 0, 4).ToLowerInvariant() + "-";
    }

    /// <summary>Deletes temporary files of the same target that no writer holds open (left by a killed process).</summary>
    private static void RemoveStale(string folder, string stem)
    {
        IEnumerable<string> stale;
        try { stale = Directory.EnumerateFiles(folder, stem + "*" + Suffix).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var file in stale)
        {
            try
            {
                // A writer holds its temporary file with FileShare.None (an OS lock that dies with the process):
                // if this open succeeds, nobody is writing it.
                using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>The same failure, its message naming the target instead of the temporary file (null when it names neither).</summary>
    private static Exception? Renamed(Exception e, string temp, string full)
    {
        string message = e.Message;
        string tempName = Path.GetFileName(temp);
        if (!message.Contains(tempName, StringComparison.Ordinal)) return null;
        message = message.Replace(temp, full, StringComparison.Ordinal).Replace(tempName, Path.GetFileName(full), StringComparison.Ordinal);
        message = string.Create(CultureInfo.InvariantCulture, $"Cannot write '{full}': {message}");
        return e switch
        {
            UnauthorizedAccessException => new UnauthorizedAccessException(message, e),
            PathTooLongException => new PathTooLongException(message, e),
            DirectoryNotFoundException => new DirectoryNotFoundException(message, e),
            FileNotFoundException => new FileNotFoundException(message, full, e),
            IOException => new IOException(message, e),
            _ => null,
        };
    }
}

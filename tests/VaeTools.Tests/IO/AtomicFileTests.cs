using VaeTools.IO;

namespace VaeTools.Tests.IO;

/// <summary>Issue 13 item 6: short temporary names, no leftovers after a killed write, errors that name the user's file.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Bytes(Stream s, byte value, int count = 16) => s.Write(Enumerable.Repeat(value, count).ToArray());

    [Theory]
    [InlineData(230)]
    [InlineData(255)] // the longest name ext4 and NTFS allow
    public void A_target_name_as_long_as_the_file_system_allows_is_written(int length)
    {
        string path = Path.Combine(_dir, new string('m', length - ".safetensors".Length) + ".safetensors");
        AtomicFile.Write(path, s => Bytes(s, 7));
        Assert.Equal(Enumerable.Repeat((byte)7, 16), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir)); // no temporary file left
    }

    [Fact]
    public void The_temporary_file_is_short_and_in_the_same_folder()
    {
        string path = Path.Combine(_dir, new string('x', 200) + ".safetensors");
        string? seen = null;
        AtomicFile.Write(path, s => { seen = ((FileStream)s).Name; Bytes(s, 1); });
        Assert.Equal(_dir, Path.GetDirectoryName(seen));
        Assert.True(Path.GetFileName(seen)!.Length <= 25, $"temporary name '{Path.GetFileName(seen)}' is long");
        Assert.StartsWith(AtomicFile.TempStem(path), Path.GetFileName(seen));
    }

    [Fact]
    public void A_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write_of_that_target()
    {
        string path = Path.Combine(_dir, "m.safetensors"), other = Path.Combine(_dir, "other.safetensors");
        // What kill -9 mid-write leaves: a temporary file of the target that no process holds.
        string stale = Path.Combine(_dir, AtomicFile.TempStem(path) + "0123abcd.tmp");
        string otherStale = Path.Combine(_dir, AtomicFile.TempStem(other) + "0123abcd.tmp");
        File.WriteAllBytes(stale, new byte[1000]);
        File.WriteAllBytes(otherStale, new byte[10]);
        AtomicFile.Write(path, s => Bytes(s, 2));
        Assert.False(File.Exists(stale), "the stale temporary file of the target is still there");
        Assert.True(File.Exists(otherStale), "another target's temporary file was removed");
        Assert.Equal(new[] { otherStale, path }.Order(), Directory.GetFiles(_dir).Order());
    }

    [Fact]
    public void A_temporary_file_that_a_writer_holds_open_is_not_removed()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        string busy = Path.Combine(_dir, AtomicFile.TempStem(path) + "feedbeef.tmp");
        using (var writer = new FileStream(busy, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            AtomicFile.Write(path, s => Bytes(s, 3));
            Assert.True(File.Exists(busy), "a temporary file being written by another writer was deleted");
        }
        Assert.Equal(3, File.ReadAllBytes(path)[0]);
    }

    [Fact]
    public void A_failed_write_names_the_target_not_the_temporary_file_and_leaves_the_old_file()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        File.WriteAllBytes(path, new byte[] { 9 });
        // The message .NET gives when the disk fills up names the stream's file: the temporary one.
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            Bytes(s, 4);
            throw new IOException($"No space left on device : '{((FileStream)s).Name}'");
        }));
        Assert.Contains($"'{path}'", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);
        Assert.DoesNotContain(".vt-", e.Message);
        Assert.Equal(new byte[] { 9 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_folder_that_does_not_exist_and_a_target_that_is_a_folder_are_named()
    {
        string missing = Path.Combine(_dir, "nope", "m.safetensors");
        Assert.Contains("'" + Path.Combine(_dir, "nope") + "' does not exist", Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.Write(missing, s => { })).Message);
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "d.safetensors")).FullName;
        Assert.Contains("it is a folder", Assert.Throws<IOException>(() => AtomicFile.Write(folder, s => { })).Message);
    }
}

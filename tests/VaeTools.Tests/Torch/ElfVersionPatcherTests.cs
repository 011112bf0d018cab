using System.Diagnostics;
using System.Text;
using VaeTools.Build;

namespace VaeTools.Tests.Torch;

/// <summary>
/// The build's ELF patcher (build/ElfVersionPatcher.cs): it marks libstdc++ version requirements weak only where the
/// host lacks them. Tested on a synthetic ELF built here byte by byte, on the real libLibTorchSharp.so of the TorchSharp
/// package, and on the copy the build placed in this test's output (checked with binutils' readelf, an independent reader).
/// </summary>
public class ElfVersionPatcherTests
{
    // A minimal 64-bit little-endian ELF: header, .dynstr, .gnu.version_r (two files, three requirements), .gnu.version_d, section headers.
    private static byte[] SyntheticElf()
    {
        var dynstr = new List<byte> { 0 };
        int Str(string s) { int at = dynstr.Count; dynstr.AddRange(Encoding.ASCII.GetBytes(s)); dynstr.Add(0); return at; }
        int libc = Str("libc.so.6"), libstdcxx = Str("libstdc++.so.6"), g225 = Str("GLIBC_2.2.5"), x30 = Str("GLIBCXX_3.4.30"), x32 = Str("GLIBCXX_3.4.32"), own = Str("OWN_1.0");

        var verneed = new List<byte>();
        void U16(List<byte> b, int v) { b.Add((byte)v); b.Add((byte)(v >> 8)); }
        void U32(List<byte> b, long v) { for (int i = 0; i < 4; i++) b.Add((byte)(v >> (8 * i))); }
        void U64(List<byte> b, long v) { for (int i = 0; i < 8; i++) b.Add((byte)(v >> (8 * i))); }
        // Verneed libc (1 aux), next at 32
        U16(verneed, 1); U16(verneed, 1); U32(verneed, libc); U32(verneed, 16); U32(verneed, 32);
        U32(verneed, 0x0922_0001); U16(verneed, 0); U16(verneed, 2); U32(verneed, g225); U32(verneed, 0);
        // Verneed libstdc++ (2 aux), last
        U16(verneed, 1); U16(verneed, 2); U32(verneed, libstdcxx); U32(verneed, 16); U32(verneed, 0);
        U32(verneed, 0x0101_0101); U16(verneed, 0); U16(verneed, 3); U32(verneed, x30); U32(verneed, 16);
        U32(verneed, 0x0202_0202); U16(verneed, 0); U16(verneed, 4); U32(verneed, x32); U32(verneed, 0);

        var verdef = new List<byte>();
        U16(verdef, 1); U16(verdef, 0); U16(verdef, 1); U16(verdef, 1); U32(verdef, 0x1234); U32(verdef, 20); U32(verdef, 0);
        U32(verdef, own); U32(verdef, 0);

        var file = new List<byte>(new byte[64]);
        long dynstrAt = file.Count; file.AddRange(dynstr);
        while (file.Count % 8 != 0) file.Add(0);
        long verneedAt = file.Count; file.AddRange(verneed);
        long verdefAt = file.Count; file.AddRange(verdef);
        while (file.Count % 8 != 0) file.Add(0);
        long shoff = file.Count;
        void Section(uint type, long offset, long size, uint link)
        {
            var h = new List<byte>();
            U32(h, 0); U32(h, type); U64(h, 0); U64(h, 0); U64(h, offset); U64(h, size); U32(h, link); U32(h, 0); U64(h, 8); U64(h, 0);
            file.AddRange(h);
        }
        Section(0, 0, 0, 0);
        Section(3, dynstrAt, dynstr.Count, 0);                  // 1: .dynstr (SHT_STRTAB)
        Section(0x6ffffffe, verneedAt, verneed.Count, 1);       // 2: .gnu.version_r
        Section(0x6ffffffd, verdefAt, verdef.Count, 1);         // 3: .gnu.version_d
        var bytes = file.ToArray();
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F'; bytes[4] = 2; bytes[5] = 1; bytes[6] = 1;
        BitConverter.GetBytes(shoff).CopyTo(bytes, 0x28);
        BitConverter.GetBytes((ushort)64).CopyTo(bytes, 0x3a);
        BitConverter.GetBytes((ushort)4).CopyTo(bytes, 0x3c);
        return bytes;
    }

    [Fact]
    public void Reads_every_requirement_and_definition_of_a_synthetic_elf()
    {
        var elf = SyntheticElf();
        var needs = ElfVersionPatcher.ReadVersionNeeds(elf, "synthetic");
        Assert.Equal(new[] { "libc.so.6:GLIBC_2.2.5", "libstdc++.so.6:GLIBCXX_3.4.30", "libstdc++.so.6:GLIBCXX_3.4.32" }, needs.Select(n => n.File + ":" + n.Name));
        Assert.All(needs, n => Assert.False(n.Weak));
        Assert.Equal(new[] { "OWN_1.0" }, ElfVersionPatcher.ReadVersionDefinitions(elf, "synthetic"));
    }

    [Fact]
    public void Mark_weak_changes_only_the_flags_of_the_named_requirement()
    {
        var elf = SyntheticElf();
        var before = (byte[])elf.Clone();
        Assert.Equal(new[] { "GLIBCXX_3.4.32" }, ElfVersionPatcher.MarkWeak(elf, new[] { "GLIBCXX_3.4.32" }, "synthetic"));
        var needs = ElfVersionPatcher.ReadVersionNeeds(elf, "synthetic");
        Assert.Equal(new[] { false, false, true }, needs.Select(n => n.Weak));
        var diff = Enumerable.Range(0, elf.Length).Where(i => elf[i] != before[i]).ToArray();
        Assert.Equal(new[] { (int)needs[2].FlagsOffset }, diff); // one byte: the flags' low byte, 0 -> 2
        Assert.Equal(2, elf[diff[0]]);
        Assert.Empty(ElfVersionPatcher.MarkWeak(elf, new[] { "GLIBCXX_3.4.32" }, "synthetic")); // already weak: nothing to do
    }

    [Fact]
    public void Copy_patched_weakens_only_what_the_host_lacks()
    {
        var dir = Directory.CreateTempSubdirectory("vaetools-elf-");
        try
        {
            var source = Path.Combine(dir.FullName, "lib.so");
            File.WriteAllBytes(source, SyntheticElf());
            var allowed = new[] { "GLIBCXX_3.4.32" };

            var oldHost = Path.Combine(dir.FullName, "old", "lib.so");
            var changed = ElfVersionPatcher.CopyPatched(source, oldHost, allowed, new HashSet<string> { "GLIBCXX_3.4.30" }, "libstdc++.so.6");
            Assert.Equal(new[] { "GLIBCXX_3.4.32" }, changed);
            Assert.True(ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(oldHost), oldHost).Single(n => n.Name == "GLIBCXX_3.4.32").Weak);

            var newHost = Path.Combine(dir.FullName, "new", "lib.so");
            Assert.Empty(ElfVersionPatcher.CopyPatched(source, newHost, allowed, new HashSet<string> { "GLIBCXX_3.4.30", "GLIBCXX_3.4.32" }, "libstdc++.so.6"));
            Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(newHost));

            // A version the host lacks but that is not on the allowed list stays strong.
            var other = Path.Combine(dir.FullName, "other", "lib.so");
            Assert.Empty(ElfVersionPatcher.CopyPatched(source, other, new[] { "GLIBCXX_3.4.99" }, new HashSet<string>(), "libstdc++.so.6"));
            Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(other));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Malformed_input_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadVersionNeeds(Encoding.ASCII.GetBytes("not an elf file, just text that is long enough to have a header of 64 bytes......"), "notes.txt"));
        Assert.Contains("'notes.txt' is not an ELF file", e.Message);
        var truncated = SyntheticElf()[..100];
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadVersionNeeds(truncated, "cut.so"));
    }

    private static string HostLibStdCxx => ElfVersionPatcher.FindHostLibStdCxx() ?? throw new InvalidOperationException("No libstdc++.so.6 in the usual places.");

    private static bool HostLacks32 => !ElfVersionPatcher.ReadVersionDefinitions(File.ReadAllBytes(HostLibStdCxx), HostLibStdCxx).Contains("GLIBCXX_3.4.32");

    private static string OutputLibTorchSharp => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Host_lib_std_cxx_definitions_agree_with_readelf()
    {
        if (!OperatingSystem.IsLinux()) return;
        var ours = ElfVersionPatcher.ReadVersionDefinitions(File.ReadAllBytes(HostLibStdCxx), HostLibStdCxx);
        var readelf = Readelf("-V", HostLibStdCxx);
        Assert.Contains("GLIBCXX_3.4", ours);
        foreach (var name in ours) Assert.Contains("Name: " + name, readelf);
        Assert.Equal(readelf.Contains("Name: GLIBCXX_3.4.32"), ours.Contains("GLIBCXX_3.4.32"));
    }

    [Fact]
    public void The_build_outputs_library_is_weak_exactly_where_the_host_lacks_the_version()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(File.Exists(OutputLibTorchSharp), $"The build did not place {OutputLibTorchSharp}.");
        var readelf = Readelf("-V", OutputLibTorchSharp);
        var line = readelf.Split('\n').Single(l => l.Contains("Name: GLIBCXX_3.4.32"));
        Assert.Equal(HostLacks32, line.Contains("Flags: WEAK"));
        // Nothing else was weakened.
        Assert.Equal(HostLacks32 ? 1 : 0, readelf.Split('\n').Count(l => l.Contains("Flags: WEAK")));
    }

    private static string Readelf(string option, string path)
    {
        var psi = new ProcessStartInfo("readelf", $"{option} \"{path}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException("readelf (binutils) is needed by this test: apt-get install binutils.", e); }
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}

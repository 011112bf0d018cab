#nullable enable
// Marks chosen symbol-version requirements of an ELF shared library weak (VER_FLG_WEAK), so that the dynamic
// loader accepts a host library that does not define them. Used by build/TorchNatives.targets (compiled there by
// MSBuild's RoslynCodeTaskFactory) and by the xunit tests (compiled with ELF_PATCHER_NO_TASK).
//
// Why: libLibTorchSharp.so of TorchSharp 0.107.0 was linked against GCC 13's libstdc++ and requires the version
// GLIBCXX_3.4.32, which older hosts (Debian 12: GCC 12, up to GLIBCXX_3.4.30) lack. The only symbol bound to
// that version is std::ios_base_library_init(), which GCC 13's <iostream> references only to force a new enough
// libstdc++ and which is never called. A weak version requirement that the host lacks is a warning to ld.so, not
// an error, so the library loads; every other requirement is still checked.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace VaeTools.Build
{
    public static class ElfVersionPatcher
    {
        public const ushort VerFlagWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe;

        /// <summary>One version requirement (a Vernaux entry): the library it is needed from, its name, its flags and where the flags are.</summary>
        public sealed class VersionNeed
        {
            public string File = "";
            public string Name = "";
            public ushort Flags;
            public long FlagsOffset;
            public bool Weak => (Flags & VerFlagWeak) != 0;
        }

        /// <summary>The version requirements (.gnu.version_r) of a 64-bit little-endian ELF file.</summary>
        public static List<VersionNeed> ReadVersionNeeds(byte[] elf, string what)
        {
            var result = new List<VersionNeed>();
            var (offset, size, strtab) = FindSection(elf, ShtGnuVerneed, what);
            if (offset < 0) return result;
            long entry = offset;
            for (int guard = 0; guard < 10000; guard++)
            {
                CheckRange(elf, entry, 16, what);
                ushort count = U16(elf, entry + 2);
                string file = Str(elf, strtab, U32(elf, entry + 4), what);
                long aux = entry + U32(elf, entry + 8);
                for (int i = 0; i < count; i++)
                {
                    CheckRange(elf, aux, 16, what);
                    result.Add(new VersionNeed { File = file, Name = Str(elf, strtab, U32(elf, aux + 8), what), Flags = U16(elf, aux + 4), FlagsOffset = aux + 4 });
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(elf, entry + 12);
                if (next == 0) break;
                entry += next;
            }
            return result;
        }

        /// <summary>The version names a shared library defines (.gnu.version_d), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
        public static HashSet<string> ReadVersionDefinitions(byte[] elf, string what)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            var (offset, size, strtab) = FindSection(elf, ShtGnuVerdef, what);
            if (offset < 0) return result;
            long entry = offset;
            for (int guard = 0; guard < 10000; guard++)
            {
                CheckRange(elf, entry, 20, what);
                ushort count = U16(elf, entry + 6);
                long aux = entry + U32(elf, entry + 12);
                if (count > 0)
                {
                    CheckRange(elf, aux, 8, what);
                    result.Add(Str(elf, strtab, U32(elf, aux), what)); // the first Verdaux names the version itself
                }
                uint next = U32(elf, entry + 16);
                if (next == 0) break;
                entry += next;
            }
            return result;
        }

        /// <summary>
        /// Marks the requirements of <paramref name="versions"/> weak in <paramref name="elf"/> (in place) and returns
        /// the names it changed; requirements already weak are left as they are.
        /// </summary>
        public static List<string> MarkWeak(byte[] elf, ICollection<string> versions, string what)
        {
            var changed = new List<string>();
            foreach (var need in ReadVersionNeeds(elf, what))
            {
                if (!versions.Contains(need.Name) || need.Weak) continue;
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                changed.Add(need.Name);
            }
            return changed;
        }

        /// <summary>The usual places of the host's libstdc++.so.6 (the first that exists), or null.</summary>
        public static string? FindHostLibStdCxx()
        {
            foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" })
            {
                var path = Path.Combine(dir, "libstdc++.so.6");
                if (System.IO.File.Exists(path)) return path;
            }
            return null;
        }

        /// <summary>
        /// Copies <paramref name="source"/> to <paramref name="destination"/>, with the requirements among
        /// <paramref name="allowed"/> that <paramref name="hostDefinitions"/> (the host's libstdc++) lacks marked weak.
        /// Returns what was weakened (empty: a plain copy). Written to a temporary file and renamed into place.
        /// </summary>
        public static List<string> CopyPatched(string source, string destination, ICollection<string> allowed, ISet<string> hostDefinitions, string neededFrom)
        {
            var elf = System.IO.File.ReadAllBytes(source);
            var missing = new List<string>();
            foreach (var need in ReadVersionNeeds(elf, source))
                if (need.File == neededFrom && allowed.Contains(need.Name) && !hostDefinitions.Contains(need.Name)) missing.Add(need.Name);
            var changed = MarkWeak(elf, missing, source);
            var dir = Path.GetDirectoryName(Path.GetFullPath(destination))!;
            Directory.CreateDirectory(dir);
            var temp = Path.Combine(dir, "." + Path.GetFileName(destination) + "." + Guid.NewGuid().ToString("N") + ".tmp");
            System.IO.File.WriteAllBytes(temp, elf);
            if (System.IO.File.Exists(destination)) System.IO.File.Replace(temp, destination, null); // a rename: atomic
            else System.IO.File.Move(temp, destination);
            return changed;
        }

        private static (long Offset, long Size, long StrtabOffset) FindSection(byte[] elf, uint type, string what)
        {
            CheckRange(elf, 0, 64, what);
            if (elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"'{what}' is not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"'{what}' is not a 64-bit little-endian ELF file (class {elf[4]}, data {elf[5]}).");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3a), shnum = U16(elf, 0x3c);
            if (shoff == 0 || shnum == 0) throw new InvalidDataException($"'{what}' has no section headers.");
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                CheckRange(elf, h, 64, what);
                if (U32(elf, h + 4) != type) continue;
                long offset = (long)U64(elf, h + 0x18), size = (long)U64(elf, h + 0x20);
                uint link = U32(elf, h + 0x28);
                long lh = shoff + (long)link * shentsize;
                CheckRange(elf, lh, 64, what);
                CheckRange(elf, offset, size, what);
                return (offset, size, (long)U64(elf, lh + 0x18));
            }
            return (-1, 0, 0);
        }

        private static void CheckRange(byte[] elf, long offset, long count, string what)
        {
            if (offset < 0 || count < 0 || offset + count > elf.LongLength)
                throw new InvalidDataException($"'{what}' is truncated or malformed: bytes {offset}..{offset + count} lie outside its {elf.LongLength} bytes.");
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        private static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        private static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;

        private static string Str(byte[] b, long strtab, uint index, string what)
        {
            long start = strtab + index;
            long end = start;
            while (true)
            {
                CheckRange(b, end, 1, what);
                if (b[end] == 0) break;
                end++;
            }
            return Encoding.ASCII.GetString(b, (int)start, (int)(end - start));
        }
    }

#if !ELF_PATCHER_NO_TASK
    /// <summary>
    /// MSBuild task: copies a native library into the build output with the listed libstdc++ version requirements
    /// marked weak, only those the host's libstdc++ lacks. On a host that has them (or on Windows and macOS) the copy is plain.
    /// </summary>
    public sealed class WeakenMissingLibStdCxxVersions : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required] public string Source { get; set; } = "";
        [Microsoft.Build.Framework.Required] public string Destination { get; set; } = "";
        /// <summary>Semicolon-separated version names that are safe to weaken (e.g. GLIBCXX_3.4.32).</summary>
        [Microsoft.Build.Framework.Required] public string Versions { get; set; } = "";
        /// <summary>The host's libstdc++.so.6; found in the usual places when empty.</summary>
        public string HostLibrary { get; set; } = "";

        public override bool Execute()
        {
            try
            {
                var host = string.IsNullOrEmpty(HostLibrary) ? ElfVersionPatcher.FindHostLibStdCxx() : HostLibrary;
                var allowed = new HashSet<string>(Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
                ISet<string> defined;
                if (host is null)
                {
                    Log.LogWarning($"No libstdc++.so.6 found on this host; '{Destination}' keeps its version requirements as they are.");
                    defined = allowed;
                }
                else defined = ElfVersionPatcher.ReadVersionDefinitions(System.IO.File.ReadAllBytes(host), host);
                var changed = ElfVersionPatcher.CopyPatched(Source, Destination, allowed, defined, "libstdc++.so.6");
                if (changed.Count > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"{Path.GetFileName(Destination)}: the host's libstdc++ ({host}) lacks {string.Join(", ", changed)}; marked weak (see README, 'The libstdc++ note').");
                return true;
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError($"Could not prepare '{Destination}' from '{Source}': {e.Message}");
                return false;
            }
        }
    }
#endif
}

using System.Text.RegularExpressions;
using static VaeTools.Tests.Commands.CmdletMetadata;

namespace VaeTools.Tests.Commands;

/// <summary>docs/architecture.md's table of which room may use which is what the source files do.</summary>
public class ArchitectureTests
{
    // Room name in the table -> (source folder under the repository root, the namespace it defines).
    private static readonly Dictionary<string, (string Folder, string Namespace)> Rooms = new()
    {
        ["Engine"] = ("src/VaeTools.Core/Engine", "VaeTools.Engine"),
        ["Model"] = ("src/VaeTools.Core/Model", "VaeTools.Model"),
        ["Data"] = ("src/VaeTools.Core/Data", "VaeTools.Data"),
        ["Analysis"] = ("src/VaeTools.Core/Analysis", "VaeTools.Analysis"),
        ["Imaging"] = ("src/VaeTools.Core/Imaging", "VaeTools.Imaging"),
        ["IO"] = ("src/VaeTools.Core/IO", "VaeTools.IO"),
        ["Torch"] = ("src/VaeTools.Torch", "VaeTools.Torch"),
        ["Logic"] = ("src/VaeTools.PowerShell/Logic", "VaeTools.PowerShell.Logic"),
        ["Cmdlets"] = ("src/VaeTools.PowerShell/Cmdlets", "VaeTools.PowerShell.Commands"),
    };

    /// <summary>Room -> the rooms it may use, each with the one file it is limited to (null: any file).</summary>
    private static Dictionary<string, Dictionary<string, string?>> AllowedFromDocument()
    {
        string doc = File.ReadAllText(Path.Combine(RepositoryRoot, "docs", "architecture.md"));
        var section = doc[doc.IndexOf("| Room | May use |", StringComparison.Ordinal)..];
        var allowed = new Dictionary<string, Dictionary<string, string?>>();
        foreach (var line in section.Split('\n').Skip(2))
        {
            if (!line.StartsWith('|')) break;
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            var uses = new Dictionary<string, string?>();
            foreach (Match m in Regex.Matches(cells[2], @"(\w+)(?: \(only `([^`]+)`[^)]*\))?"))
                if (Rooms.ContainsKey(m.Groups[1].Value))
                    uses[m.Groups[1].Value] = m.Groups[2].Success ? m.Groups[2].Value : null;
            allowed[cells[1]] = uses;
        }
        return allowed;
    }

    [Fact]
    public void The_document_names_every_room_and_only_rooms()
    {
        var allowed = AllowedFromDocument();
        Assert.Equal(Rooms.Keys.Order(), allowed.Keys.Order());
        foreach (var (folder, _) in Rooms.Values) Assert.True(Directory.Exists(Path.Combine(RepositoryRoot, folder)), $"No folder {folder}.");
    }

    [Fact]
    public void Source_files_use_only_the_rooms_the_architecture_allows()
    {
        var allowed = AllowedFromDocument();
        var violations = new List<string>();
        foreach (var (room, (folder, ownNamespace)) in Rooms)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(RepositoryRoot, folder), "*.cs", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(RepositoryRoot, file).Replace('\\', '/');
                if (relative.Contains("/obj/") || relative.Contains("/bin/")) continue;
                var text = Regex.Replace(File.ReadAllText(file), "//.*", ""); // code only: comments may name any room
                // using directives, and fully qualified references such as VaeTools.Torch.TorchBackend.Attach.
                var used = Regex.Matches(text, @"(?<![\w.])VaeTools\.(?:PowerShell\.(?:Logic|Commands)|Engine|Model|Data|Analysis|Imaging|IO|Torch)\b")
                    .Select(m => Rooms.First(r => r.Value.Namespace == m.Value).Key)
                    .Where(r => r != room)
                    .Distinct();
                foreach (var other in used)
                {
                    if (!allowed[room].TryGetValue(other, out var onlyFile))
                        violations.Add($"{relative} ({room}) uses {other}, which docs/architecture.md does not allow {room} to use.");
                    else if (onlyFile is not null && Path.GetFileName(file) != onlyFile)
                        violations.Add($"{relative} ({room}) uses {other}, which docs/architecture.md allows only in {onlyFile}.");
                }
            }
        }
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }
}

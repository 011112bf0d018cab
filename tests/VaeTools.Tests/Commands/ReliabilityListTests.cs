using System.Reflection;
using System.Text.RegularExpressions;
using static VaeTools.Tests.Commands.CmdletMetadata;

namespace VaeTools.Tests.Commands;

/// <summary>
/// docs/reliability.md (issue 13's reliability test list) names real tests: every xunit test it names is a [Fact] or
/// [Theory] of this assembly, and every Pester test is an It of that text inside that Describe of that file. A renamed
/// or removed test breaks the build here, not the document.
/// </summary>
public sealed partial class ReliabilityListTests
{
    private static readonly string ListPath = Path.Combine(RepositoryRoot, "docs", "reliability.md");

    [GeneratedRegex(@"^- xunit `(?<class>[A-Za-z_][A-Za-z0-9_]*)\.(?<method>[A-Za-z_][A-Za-z0-9_]*)`")]
    private static partial Regex XunitLine();

    [GeneratedRegex(@"^- Pester `(?<file>[A-Za-z0-9_.-]+\.Tests\.ps1)` › `(?<describe>[^`]+)` › `(?<it>[^`]+)`")]
    private static partial Regex PesterLine();

    [GeneratedRegex(@"^## (?<item>[1-7])\. ")]
    private static partial Regex ItemHeading();

    private sealed record Reference(int Item, int Line, string Text);

    /// <summary>The list's test lines, by issue item (a line before the first item heading counts as item 0).</summary>
    private static List<Reference> References()
    {
        var refs = new List<Reference>();
        int item = 0, n = 0;
        foreach (string line in File.ReadLines(ListPath))
        {
            n++;
            if (ItemHeading().Match(line) is { Success: true } h) item = int.Parse(h.Groups["item"].Value);
            else if (line.StartsWith("- xunit", StringComparison.Ordinal) || line.StartsWith("- Pester", StringComparison.Ordinal)) refs.Add(new(item, n, line));
        }
        return refs;
    }

    [Fact]
    public void Every_xunit_test_the_list_names_exists()
    {
        var types = typeof(ReliabilityListTests).Assembly.GetTypes();
        var problems = new List<string>();
        foreach (var r in References().Where(r => r.Text.StartsWith("- xunit", StringComparison.Ordinal)))
        {
            var m = XunitLine().Match(r.Text);
            if (!m.Success) { problems.Add($"line {r.Line}: not of the form - xunit `Class.Method`: {r.Text}"); continue; }
            var classes = types.Where(t => t.Name == m.Groups["class"].Value).ToList();
            if (classes.Count != 1) { problems.Add($"line {r.Line}: {classes.Count} test classes named {m.Groups["class"].Value}"); continue; }
            var method = classes[0].GetMethod(m.Groups["method"].Value, BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static);
            if (method is null || method.GetCustomAttribute<FactAttribute>() is null) // [Theory] derives from [Fact]
                problems.Add($"line {r.Line}: {m.Groups["class"].Value}.{m.Groups["method"].Value} is not a [Fact] or [Theory]");
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_Pester_test_the_list_names_is_an_It_of_that_Describe_in_that_file()
    {
        var problems = new List<string>();
        foreach (var r in References().Where(r => r.Text.StartsWith("- Pester", StringComparison.Ordinal)))
        {
            var m = PesterLine().Match(r.Text);
            if (!m.Success) { problems.Add($"line {r.Line}: not of the form - Pester `File.Tests.ps1` › `Describe` › `It`: {r.Text}"); continue; }
            string file = Path.Combine(RepositoryRoot, "tests", "pester", m.Groups["file"].Value);
            if (!File.Exists(file)) { problems.Add($"line {r.Line}: no file tests/pester/{m.Groups["file"].Value}"); continue; }
            string code = File.ReadAllText(file);
            int describe = code.IndexOf($"Describe '{m.Groups["describe"].Value}'", StringComparison.Ordinal);
            if (describe < 0) { problems.Add($"line {r.Line}: no Describe '{m.Groups["describe"].Value}' in {m.Groups["file"].Value}"); continue; }
            int next = code.IndexOf("\nDescribe '", describe + 1, StringComparison.Ordinal);
            string block = next < 0 ? code[describe..] : code[describe..next];
            if (!block.Contains($"It '{m.Groups["it"].Value}'", StringComparison.Ordinal))
                problems.Add($"line {r.Line}: no It '{m.Groups["it"].Value}' in Describe '{m.Groups["describe"].Value}' of {m.Groups["file"].Value}");
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_item_of_issue_13_has_an_xunit_and_a_Pester_test_in_the_list()
    {
        var refs = References();
        Assert.DoesNotContain(refs, r => r.Item == 0);
        for (int item = 1; item <= 7; item++)
        {
            Assert.True(refs.Any(r => r.Item == item && r.Text.StartsWith("- xunit", StringComparison.Ordinal)), $"item {item} names no xunit test");
            Assert.True(refs.Any(r => r.Item == item && r.Text.StartsWith("- Pester", StringComparison.Ordinal)), $"item {item} names no Pester test");
        }
    }
}

using System.Text.RegularExpressions;
using System.Xml.Linq;
using static VaeTools.Tests.Commands.CmdletMetadata;

namespace VaeTools.Tests.Commands;

/// <summary>The PowerShell-side files under module/ agree with the compiled cmdlets and types.</summary>
public class ModuleFilesTests
{
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    private static readonly XDocument Help = XDocument.Load(Path.Combine(RepositoryRoot, "module", "en-US", "VaeTools.PowerShell.dll-Help.xml"));

    private static XElement HelpFor(string name) =>
        Help.Root!.Elements(Command + "command").Single(c => c.Element(Command + "details")!.Element(Command + "name")!.Value == name);

    private static IEnumerable<string> ShouldProcessParameters(CmdletInfo c) => c.SupportsShouldProcess ? new[] { "WhatIf", "Confirm" } : Array.Empty<string>();

    [Fact]
    public void Help_covers_exactly_the_cmdlets()
    {
        var names = Help.Root!.Elements(Command + "command").Select(c => c.Element(Command + "details")!.Element(Command + "name")!.Value).Order();
        Assert.Equal(All.Select(c => c.Name).Order(), names);
    }

    [Fact]
    public void Help_parameters_are_the_real_parameters_with_their_real_flags()
    {
        foreach (var c in All)
        {
            var help = HelpFor(c.Name).Element(Command + "parameters")!.Elements(Command + "parameter").ToList();
            var helpNames = help.Select(p => p.Element(Maml + "name")!.Value).Order().ToArray();
            var real = c.Parameters.Select(p => p.Name).Distinct().Concat(ShouldProcessParameters(c)).Order().ToArray();
            Assert.True(real.SequenceEqual(helpNames), $"{c.Name}: help documents [{string.Join(", ", helpNames)}], the cmdlet has [{string.Join(", ", real)}].");
            foreach (var p in c.Parameters)
            {
                var h = help.Single(x => x.Element(Maml + "name")!.Value == p.Name);
                Assert.True(bool.Parse(h.Attribute("required")!.Value) == p.Mandatory, $"{c.Name} -{p.Name}: help says required={h.Attribute("required")!.Value}.");
                Assert.True(h.Attribute("pipelineInput")!.Value.StartsWith("true") == (p.ValueFromPipeline || p.ByPropertyName), $"{c.Name} -{p.Name}: pipelineInput is wrong in help.");
                Assert.Equal(p.Position?.ToString() ?? "named", h.Attribute("position")!.Value);
                string typeName = (Nullable.GetUnderlyingType(p.Type) ?? p.Type).Name;
                Assert.Equal(typeName, h.Element(Dev + "type")!.Element(Maml + "name")!.Value);
                Assert.False(string.IsNullOrWhiteSpace(h.Element(Maml + "description")!.Value), $"{c.Name} -{p.Name} has no description.");
            }
        }
    }

    [Fact]
    public void Every_cmdlet_has_at_least_two_examples_that_only_use_real_parameters()
    {
        var byName = All.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var c in All)
        {
            var codes = HelpFor(c.Name).Element(Command + "examples")!.Elements(Command + "example").Select(e => e.Element(Dev + "code")!.Value).ToList();
            Assert.True(codes.Count >= 2, $"{c.Name} has {codes.Count} examples.");
            Assert.All(codes, code => Assert.Contains(c.Name, code));
            foreach (var code in codes)
                foreach (Match m in Regex.Matches(code, @"\b(\w+-\w+)\b([^|\n]*)"))
                {
                    if (!byName.TryGetValue(m.Groups[1].Value, out var used)) continue;
                    var allowed = used.Parameters.Select(p => p.Name).Concat(CommonParameters).ToHashSet(StringComparer.OrdinalIgnoreCase);
                    // Parameters of this command: "-Name" tokens outside parentheses (those belong to nested commands).
                    string own = Regex.Replace(m.Groups[2].Value, @"\([^)]*\)", "");
                    foreach (Match p in Regex.Matches(own, @"(?<=\s)-([A-Za-z]\w*)"))
                        Assert.True(allowed.Contains(p.Groups[1].Value), $"Example of {c.Name} uses {used.Name} -{p.Groups[1].Value}, which does not exist: {code}");
                }
        }
    }

    [Fact]
    public void The_about_topic_mentions_every_cmdlet()
    {
        string about = File.ReadAllText(Path.Combine(RepositoryRoot, "module", "en-US", "about_VaeTools.help.txt"));
        Assert.StartsWith("TOPIC", about.TrimStart());
        foreach (var c in All) Assert.Contains(c.Name, about);
    }

    [Fact]
    public void Format_views_name_real_types_and_properties()
    {
        var doc = XDocument.Load(Path.Combine(RepositoryRoot, "module", "VaeTools.Format.ps1xml"));
        var assemblies = new[] { typeof(VaeTools.Model.VaeModel).Assembly, Assembly };
        var views = doc.Descendants("View").ToList();
        Assert.True(views.Count >= 6);
        foreach (var view in views)
        {
            string typeName = view.Element("ViewSelectedBy")!.Element("TypeName")!.Value;
            var type = assemblies.Select(a => a.GetType(typeName)).SingleOrDefault(t => t is not null);
            Assert.True(type is not null, $"Format view for unknown type {typeName}.");
            Assert.True(view.Element("Name") is { } name && !string.IsNullOrEmpty(name.Value), $"A view of {typeName} has no name.");
            foreach (var property in view.Descendants("PropertyName").Select(p => p.Value))
                Assert.True(type!.GetProperty(property) is not null, $"{typeName} has no property {property}.");
            foreach (var script in view.Descendants("ScriptBlock").Select(s => s.Value))
                foreach (Match m in Regex.Matches(script, @"\$_\.(\w+)"))
                    Assert.True(type!.GetProperty(m.Groups[1].Value) is not null, $"{typeName} has no property {m.Groups[1].Value} (used in '{script}').");
            int headers = view.Descendants("TableColumnHeader").Count(), items = view.Descendants("TableColumnItem").Count();
            Assert.Equal(headers, items);
        }
        // Every object type the cmdlets emit has a view, and only one of each kind (a second table or list view of a
        // type would never be used; a list view next to the table is what Format-List shows).
        var selected = views.Select(v => v.Element("ViewSelectedBy")!.Element("TypeName")!.Value).ToList();
        var kinds = views.Select(v => (Type: v.Element("ViewSelectedBy")!.Element("TypeName")!.Value,
            Kind: v.Elements().Single(e => e.Name.LocalName.EndsWith("Control", StringComparison.Ordinal)).Name.LocalName)).ToList();
        Assert.Equal(kinds.Distinct().Count(), kinds.Count);
        Assert.All(kinds.Where(k => k.Kind != "TableControl"), k => Assert.Contains((k.Type, "TableControl"), kinds));
        var viewed = selected.ToHashSet();
        foreach (var c in All)
            foreach (var attribute in Attributes(c.Type, "OutputTypeAttribute"))
                foreach (var a in (IEnumerable<System.Reflection.CustomAttributeTypedArgument>)attribute.ConstructorArguments[0].Value!)
                {
                    if (a.Value is string named) // named, not typed, so that the cmdlet does not load TorchSharp: it must be the real type's name
                    {
                        Assert.Equal(typeof(TorchSharp.torch.Tensor).FullName, named);
                        continue;
                    }
                    var t = (Type)a.Value!;
                    if (t != typeof(FileInfo)) Assert.Contains(t.FullName!, viewed);
                }
    }
}

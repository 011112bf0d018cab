using System.Reflection;
using VaeTools.PowerShell.Commands;

namespace VaeTools.Tests.Commands;

/// <summary>
/// Reads the compiled cmdlet classes through CustomAttributeData only: the stub System.Management.Automation
/// cannot run attribute constructors, but its metadata can be read.
/// </summary>
public static class CmdletMetadata
{
    public const string Sma = "System.Management.Automation.";

    public sealed record ParameterInfo(string Name, Type Type, bool Mandatory, bool ValueFromPipeline, bool ByPropertyName, string? ParameterSet, int? Position, PropertyInfo Property);

    public sealed record CmdletInfo(Type Type, string Verb, string Noun, bool SupportsShouldProcess, IReadOnlyList<ParameterInfo> Parameters)
    {
        public string Name => $"{Verb}-{Noun}";
        public ParameterInfo Parameter(string name) => Parameters.Single(p => p.Name == name);
    }

    public static Assembly Assembly => typeof(VaeCmdlet).Assembly;

    /// <summary>Every class with a [Cmdlet] attribute.</summary>
    public static IReadOnlyList<CmdletInfo> All { get; } = Assembly.GetTypes()
        .Select(t => (Type: t, Attr: t.GetCustomAttributesData().SingleOrDefault(a => a.AttributeType.FullName == Sma + "CmdletAttribute")))
        .Where(x => x.Attr is not null)
        .Select(x => new CmdletInfo(x.Type, (string)x.Attr!.ConstructorArguments[0].Value!, (string)x.Attr.ConstructorArguments[1].Value!,
            Named(x.Attr, "SupportsShouldProcess") is true, ParametersOf(x.Type)))
        .OrderBy(c => c.Name)
        .ToList();

    public static CmdletInfo Get(string name) => All.Single(c => c.Name == name);

    public static object? Named(CustomAttributeData a, string name) =>
        a.NamedArguments.Where(n => n.MemberName == name).Select(n => n.TypedValue.Value).FirstOrDefault();

    public static IEnumerable<CustomAttributeData> Attributes(MemberInfo m, string shortName) =>
        m.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Sma + shortName);

    private static IReadOnlyList<ParameterInfo> ParametersOf(Type t) => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .SelectMany(p => Attributes(p, "ParameterAttribute").Select(a => new ParameterInfo(p.Name, p.PropertyType,
            Named(a, "Mandatory") is true, Named(a, "ValueFromPipeline") is true, Named(a, "ValueFromPipelineByPropertyName") is true,
            Named(a, "ParameterSetName") as string, Named(a, "Position") as int?, p)))
        .ToList();

    /// <summary>The values of a property's [ValidateSet], or null when it has none.</summary>
    public static string[]? ValidateSet(PropertyInfo p)
    {
        var a = Attributes(p, "ValidateSetAttribute").SingleOrDefault();
        if (a is null) return null;
        var values = (IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!;
        return values.Select(v => (string)v.Value!).ToArray();
    }

    /// <summary>The repository root (the folder holding VaeTools.slnx).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "VaeTools.slnx"))) return dir.FullName;
            throw new DirectoryNotFoundException($"No VaeTools.slnx above '{AppContext.BaseDirectory}'.");
        }
    }

    /// <summary>Parameters every cmdlet has from PowerShell itself.</summary>
    public static readonly string[] CommonParameters =
    {
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm",
    };
}

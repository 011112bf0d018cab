using System.Text.RegularExpressions;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;
using static VaeTools.Tests.Commands.CmdletMetadata;

namespace VaeTools.Tests.Commands;

/// <summary>
/// The cmdlets' design as compiled metadata, read without PowerShell. What real pwsh checks better lives in
/// tests/pester/Hygiene.Tests.ps1 (cmdlet list, approved verbs, [OutputType] against emitted objects, -WhatIf
/// support, manifest exports); what is kept here pins the design itself: mandatory and pipeline parameters and their
/// sets, ValidateSet names against the core's enums, defaults inside ranges, error kinds, the manifest's version.
/// </summary>
public class CmdletMetadataTests
{
    [Theory]
    // cmdlet, parameter, mandatory, from pipeline, parameter set (null: all)
    [InlineData("Invoke-VaeTraining", "Model", true, true, null)]
    [InlineData("Invoke-VaeTraining", "Data", true, true, null)]
    [InlineData("Invoke-VaeTraining", "ValidationData", false, false, null)]
    [InlineData("New-Vae", "Data", false, true, null)]
    [InlineData("Get-VaeEncoding", "Model", true, false, null)]
    [InlineData("Get-VaeEncoding", "Data", true, true, "Data")]
    [InlineData("Get-VaeEncoding", "Image", true, true, "Image")]
    [InlineData("New-VaeSample", "Model", true, true, null)]
    [InlineData("Measure-ReconstructionError", "Model", true, true, "Model")]
    [InlineData("Measure-ReconstructionError", "MeanImageOf", true, false, "MeanImage")]
    [InlineData("New-PpcaModel", "Data", true, true, null)]
    [InlineData("Measure-ReconstructionError", "Data", true, true, null)]
    [InlineData("Export-Vae", "Model", true, true, null)]
    [InlineData("Export-Vae", "Path", true, false, "Path")]
    [InlineData("Export-Vae", "LiteralPath", true, false, "LiteralPath")]
    [InlineData("Import-Vae", "Path", true, true, "Path")]
    [InlineData("Import-Vae", "LiteralPath", true, false, "LiteralPath")]
    [InlineData("Get-MnistData", "Subset", false, false, null)]
    [InlineData("Get-Cifar10Data", "Subset", false, false, null)]
    [InlineData("Measure-VaeLatent", "Model", true, true, null)]
    [InlineData("Measure-VaeLatent", "Data", true, true, null)]
    [InlineData("Export-VaePlot", "Model", false, true, null)]
    [InlineData("Export-VaePlot", "Kind", true, false, null)]
    [InlineData("Export-VaePlot", "Path", true, false, "Path")]
    [InlineData("Export-VaePlot", "LiteralPath", true, false, "LiteralPath")]
    [InlineData("Export-VaePlot", "Data", false, true, null)]
    [InlineData("New-VaeSample", "Grid", true, false, "Grid")]
    [InlineData("New-VaeSample", "Range", false, false, "Grid")]
    [InlineData("New-VaeSample", "Quantile", false, false, "Grid")]
    [InlineData("New-VaeSample", "From", true, false, "Interpolation")]
    [InlineData("New-VaeSample", "To", true, false, "Interpolation")]
    [InlineData("New-VaeSample", "Steps", false, false, "Interpolation")]
    [InlineData("New-VaeSample", "Temperature", false, false, "Prior")]
    [InlineData("New-VaeSample", "PosteriorOf", true, false, "Posterior")]
    [InlineData("New-VaeSample", "Latent", true, true, "Latent")]
    [InlineData("Get-VaeToyData", "Count", false, false, null)]
    public void Pipeline_and_mandatory_parameters_are_as_designed(string cmdlet, string parameter, bool mandatory, bool pipeline, string? set)
    {
        var p = Get(cmdlet).Parameter(parameter);
        Assert.Equal(mandatory, p.Mandatory);
        Assert.Equal(pipeline, p.ValueFromPipeline);
        Assert.Equal(set, p.ParameterSet);
    }

    [Fact]
    public void Only_the_designed_parameters_take_pipeline_input()
    {
        var fromPipeline = All.SelectMany(c => c.Parameters.Where(p => p.ValueFromPipeline).Select(p => $"{c.Name} -{p.Name}")).Order().ToArray();
        Assert.Equal(new[]
        {
            "ConvertTo-Vae -Model", "Export-Vae -Model", "Export-VaePlot -Data", "Export-VaePlot -Model", "Get-VaeEncoding -Data", "Get-VaeEncoding -Image", "Import-Vae -Path",
            "Invoke-VaeTraining -Data", "Invoke-VaeTraining -Model", "Measure-ReconstructionError -Data",
            "Measure-ReconstructionError -Model", "Measure-VaeLatent -Data", "Measure-VaeLatent -Model", "New-PpcaModel -Data", "New-Vae -Data",
            "New-VaeSample -Latent", "New-VaeSample -Model",
        }, fromPipeline);
    }

    [Fact]
    public void Pipeline_parameters_of_one_cmdlet_and_set_have_distinct_types_so_binding_by_type_is_unambiguous()
    {
        foreach (var c in All)
            foreach (var group in c.Parameters.Where(p => p.ValueFromPipeline).GroupBy(p => p.ParameterSet))
            {
                var types = group.Select(p => p.Type).ToList();
                Assert.Equal(types.Count, types.Distinct().Count());
                Assert.DoesNotContain(typeof(object), types);
            }
    }

    [Theory]
    [InlineData("Get-MnistData", "Subset", typeof(MnistSubset))]
    [InlineData("Get-Cifar10Data", "Subset", typeof(MnistSubset))]
    [InlineData("Get-MnistData", "Variant", typeof(MnistVariant))]
    [InlineData("Get-MnistData", "Binarize", typeof(MnistBinarization))]
    [InlineData("New-Vae", "Activation", typeof(Activation))]
    [InlineData("New-Vae", "Likelihood", typeof(Likelihood))]
    [InlineData("Invoke-VaeTraining", "Optimizer", typeof(OptimizerKind))]
    [InlineData("Invoke-VaeTraining", "Objective", typeof(Objective))]
    [InlineData("New-Vae", "Prior", typeof(Prior))]
    [InlineData("Export-VaePlot", "Kind", typeof(PlotKind))]
    public void ValidateSet_values_are_the_core_enum_names(string cmdlet, string parameter, Type enumType)
    {
        var values = ValidateSet(Get(cmdlet).Parameter(parameter).Property);
        Assert.NotNull(values);
        Assert.Equal(Enum.GetNames(enumType), values);
    }

    [Fact]
    public void Every_string_parameter_with_a_fixed_set_of_values_has_a_ValidateSet_and_its_default_is_in_it()
    {
        foreach (var c in All)
            foreach (var p in c.Parameters.Where(p => ValidateSet(p.Property) is not null))
            {
                var instance = Activator.CreateInstance(c.Type)!; // cmdlet constructors only set defaults
                var value = (string?)p.Property.GetValue(instance);
                Assert.Contains(value, ValidateSet(p.Property)!);
            }
    }

    [Fact]
    public void Numeric_defaults_lie_inside_their_ValidateRange()
    {
        int checkedCount = 0;
        foreach (var c in All)
        {
            var instance = Activator.CreateInstance(c.Type)!;
            foreach (var p in c.Parameters)
            {
                var range = Attributes(p.Property, "ValidateRangeAttribute").SingleOrDefault();
                if (range is null || range.ConstructorArguments.Count != 2 || p.Type.IsArray) continue;
                double min = Convert.ToDouble(range.ConstructorArguments[0].Value), max = Convert.ToDouble(range.ConstructorArguments[1].Value);
                Assert.Equal(Nullable.GetUnderlyingType(p.Type) ?? p.Type, range.ConstructorArguments[0].ArgumentType); // PowerShell compares in the parameter's type
                var value = p.Property.GetValue(instance);
                if (value is null) continue;
                double v = Convert.ToDouble(value);
                Assert.True(v >= min && v <= max, $"{c.Name} -{p.Name} default {v} is outside [{min}, {max}].");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 10, $"only {checkedCount} ranges checked");
    }

    [Fact]
    public void No_parameter_is_named_after_a_PowerShell_operator()
    {
        string[] operators =
        {
            "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "replace", "contains", "notcontains", "in",
            "notin", "is", "isnot", "as", "split", "join", "and", "or", "xor", "not", "band", "bor", "bxor", "bnot", "shl", "shr", "f",
        };
        foreach (var c in All)
            foreach (var p in c.Parameters)
                foreach (var prefix in new[] { "", "c", "i" })
                    Assert.DoesNotContain(p.Name.ToLowerInvariant(), operators.Select(o => prefix + o));
    }

    [Fact]
    public void Every_error_kind_is_a_PowerShell_ErrorCategory_name()
    {
        var sma = typeof(PowerShell.Commands.VaeCmdlet).BaseType!.Assembly;
        var categories = sma.GetType(Sma + "ErrorCategory", throwOnError: true)!.GetEnumNames();
        foreach (var name in Enum.GetNames<ErrorKind>()) Assert.Contains(name, categories);
    }

    [Fact]
    public void The_manifest_names_the_module_files_that_exist_after_a_build()
    {
        string psd1 = File.ReadAllText(Path.Combine(RepositoryRoot, "VaeTools.psd1"));
        Assert.Matches(@"RootModule\s*=\s*'VaeTools\.PowerShell\.dll'", psd1);
        Assert.Matches(@"FormatsToProcess\s*=\s*@\('VaeTools\.Format\.ps1xml'\)", psd1);
        Assert.Matches(@"CompatiblePSEditions\s*=\s*@\('Core'\)", psd1);
        Assert.Matches(@"PowerShellVersion\s*=\s*'7\.4'", psd1);
        Assert.True(File.Exists(Path.Combine(RepositoryRoot, "module", "VaeTools.Format.ps1xml")));
        // The manifest version is the assembly version (Directory.Build.props), so build.ps1 and the dll agree.
        var version = Regex.Match(psd1, @"ModuleVersion\s*=\s*'([^']+)'").Groups[1].Value;
        Assert.Equal(Assembly.GetName().Version!.ToString(3), version);
    }

    [Fact]
    public void New_VaeSample_has_the_prior_grid_and_interpolation_parameter_sets_with_Data_in_two()
    {
        var c = Get("New-VaeSample");
        Assert.Equal(new[] { "Grid", "Interpolation" }, c.Parameters.Where(p => p.Name == "Data").Select(p => p.ParameterSet).Order().ToArray());
        var attr = c.Type.GetCustomAttributesData().Single(a => a.AttributeType.FullName == Sma + "CmdletAttribute");
        Assert.Equal("Prior", Named(attr, "DefaultParameterSetName"));
        // Shared parameters are in every set.
        foreach (var name in new[] { "Model", "Seed", "AsTensor", "OutFile", "Columns", "PassThru" })
            Assert.Null(c.Parameter(name).ParameterSet);
    }

    [Fact]
    public void The_numeric_ranges_of_the_toolkit_parameters_are_the_issue_s()
    {
        (double, double) Range(string cmdlet, string parameter)
        {
            var a = Attributes(Get(cmdlet).Parameter(parameter).Property, "ValidateRangeAttribute").Single();
            return (Convert.ToDouble(a.ConstructorArguments[0].Value), Convert.ToDouble(a.ConstructorArguments[1].Value));
        }
        Assert.Equal((1, 5000), Range("Measure-ReconstructionError", "ImportanceSamples"));
        Assert.Equal((1, 5000), Range("Invoke-VaeTraining", "Samples"));
        Assert.Equal(5, (int)Get("New-Vae").Parameter("PriorSamples").Property.GetValue(new PowerShell.Commands.NewVaeCommand())!);
        Assert.Equal(10, (int)Get("New-VaeSample").Parameter("Steps").Property.GetValue(new PowerShell.Commands.NewVaeSampleCommand())!);
    }
}

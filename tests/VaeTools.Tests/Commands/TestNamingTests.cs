using System.Reflection;
using System.Text.RegularExpressions;

namespace VaeTools.Tests.Commands;

/// <summary>The test suite's one naming style (docs/architecture.md, "Tests"): a sentence, its words joined by underscores.</summary>
public class TestNamingTests
{
    // Names kept as they are written where they occur inside a sentence.
    private static readonly HashSet<string> Names = new(StringComparer.Ordinal)
    {
        "NaN", "PyTorch", "TorchSharp", "PowerShell", "PyBridge", "OnEpoch", "AsTensor", "WhatIf", "NoDownload", "UntilEpoch",
        "ByClass", "ValidateSet", "ImportanceSamples", "ConvTranspose2d", "Conv2d", "Log1p", "CSharp", "LiteralPath", "ShareHelp",
        "XW", "Xt", "dY", "LogInterval", "MeanImageOf", "SamplePixels", "PosteriorOf", "TrainData", "ShowLabels", "InputDim",
        "ThrottleLimit", "CheckpointPath", "KlWarmupEpochs", "LatentDim", "HiddenDim", "ConvChannels", "KernelSize",
    };

    [Fact]
    public void Every_test_is_named_as_a_sentence_with_underscores()
    {
        var tests = typeof(TestNamingTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttributes().Any(a => a is FactAttribute)) // TheoryAttribute derives from FactAttribute
            .ToList();
        Assert.True(tests.Count > 500, $"Found only {tests.Count} tests; the scan is broken.");
        var badly = tests
            .Where(m =>
            {
                var words = m.Name.Split('_');
                if (words.Length < 2) return true;
                // A word of four or more capitalised parts is a PascalCase phrase (IsRejectedNamingBothWidths), not a name
                // (MnistData, ResourceUnavailable, ConvTranspose2d are names: PowerShell's and the code's, kept as written).
                return words.Any(w => Regex.Matches(w, "[a-z0-9][A-Z]").Count >= 3 && !Names.Contains(w));
            })
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .ToList();
        Assert.True(badly.Count == 0, "Not named as a sentence with underscores (e.g. Same_seed_gives_the_same_model):\n" + string.Join("\n", badly));
    }
}

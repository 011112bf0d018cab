using System.Diagnostics;
using System.Reflection;
using VaeTools.Internal;

namespace VaeTools.Tests.TestSupport;

/// <summary>
/// The xunit collection of the tests that install <see cref="TestHooks"/>: hooks apply to the whole process, so these
/// tests run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TestHooksCollection
{
    public const string Name = "TestHooks";
}

internal static class Hooks
{
    /// <summary>
    /// Installs <paramref name="hooks"/> until the result is disposed. Fails unless the calling test's class is in the
    /// <see cref="TestHooksCollection"/>, so no test that runs in parallel with others can change their code paths.
    /// </summary>
    public static IDisposable Install(TestHooks hooks)
    {
        var testClass = new StackTrace().GetFrames()
            .Select(f => f.GetMethod()?.DeclaringType)
            .Select(t => t is { IsNested: true } && t.Name.Contains('<') ? t.DeclaringType : t) // lambdas, local functions
            .FirstOrDefault(t => t is not null && t != typeof(Hooks) && t.Assembly == typeof(Hooks).Assembly);
        if (testClass?.GetCustomAttribute<CollectionAttribute>() is null ||
            !testClass.GetCustomAttributesData().Any(a => a.AttributeType == typeof(CollectionAttribute) &&
                (string?)a.ConstructorArguments[0].Value == TestHooksCollection.Name))
            throw new InvalidOperationException($"{testClass?.FullName ?? "The caller"} installs test hooks but is not in [Collection(TestHooksCollection.Name)].");
        return TestHooks.Install(hooks);
    }
}

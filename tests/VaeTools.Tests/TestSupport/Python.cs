using System.Collections.Concurrent;
using System.Diagnostics;

namespace VaeTools.Tests.TestSupport;

/// <summary>Runs the Debian Python (which has numpy) on a script.</summary>
internal static class Python
{
    public static readonly string Executable = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static readonly ConcurrentDictionary<string, bool> Modules = new();

    public static bool HasModule(string module) => Modules.GetOrAdd(module, m =>
    {
        try { return Exec($"import {m}", Array.Empty<string>()).ExitCode == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; } // no python at all
    });

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; returns stdout, or fails the test with stderr.</summary>
    public static string Run(string script, params string[] args)
    {
        var (code, stdout, stderr) = Exec(script, args);
        Assert.True(code == 0, $"{Executable} exited with {code}:\n{stderr}");
        return stdout;
    }

    private static (int ExitCode, string Stdout, string Stderr) Exec(string script, string[] args)
    {
        var psi = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) // a hang guard, not a timing assertion
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Executable} did not finish within 2 minutes.");
        }
        return (p.ExitCode, stdout, stderr.Result);
    }
}

/// <summary>A fact that runs only when the Python in <see cref="Python.Executable"/> can import <c>module</c>.</summary>
internal sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute(string module)
    {
        if (!Python.HasModule(module))
            Skip = $"{Python.Executable} cannot import '{module}' (Debian has no python3-safetensors package; install it to run this interop test).";
    }
}

/// <summary>A theory that runs only when the Python in <see cref="Python.Executable"/> can import <c>module</c>.</summary>
internal sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute(string module)
    {
        if (!Python.HasModule(module))
            Skip = $"{Python.Executable} cannot import '{module}', so this cross-check against Python cannot run here.";
    }
}

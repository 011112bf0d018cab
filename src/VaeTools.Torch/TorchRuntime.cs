using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace VaeTools.Torch;

/// <summary>
/// Loads libtorch and TorchSharp's native glue before the first TorchSharp call, and checks devices.
/// The natives sit in runtimes/&lt;rid&gt;/native/ beside this assembly (the module folder, a test's output); they are loaded
/// by full path, so TorchSharp's own probing (which also looks in the NuGet cache) finds them already loaded.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _loaded;

    /// <summary>The runtime identifier whose natives this process needs.</summary>
    public static string NativeRid =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? (RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "win-arm64" : "win-x64")
        : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx-arm64" : "linux-x64";

    /// <summary>The folder the natives are loaded from.</summary>
    public static string NativeDirectory =>
        Path.Combine(Path.GetDirectoryName(typeof(TorchRuntime).Assembly.Location) ?? AppContext.BaseDirectory, "runtimes", NativeRid, "native");

    private static string Native(string stem) =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? stem + ".dll"
        : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "lib" + stem + ".dylib" : "lib" + stem + ".so";

    /// <summary>Loads the natives once; a clear error naming the folder and what to install when they are missing or do not load.</summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            var dir = NativeDirectory;
            foreach (var stem in new[] { "torch_cpu", "LibTorchSharp" })
            {
                var path = Path.Combine(dir, Native(stem));
                if (!File.Exists(path))
                    throw new TorchUnavailableException(
                        $"The Torch engine's native library '{path}' is missing. Build the module with './build.ps1 -Task Build' " +
                        "(it restores TorchSharp 0.107.0 and libtorch-cpu-linux-x64 2.10.0 and places their natives there), or use -Engine Managed.");
                try { NativeLibrary.Load(path); }
                catch (DllNotFoundException e)
                {
                    throw new TorchUnavailableException(
                        $"The Torch engine's native library '{path}' does not load: {e.Message} " +
                        "If it names GLIBCXX_3.4.32, the module was built on a host whose libstdc++ has that version and copied here; rebuild it on this host (README, 'The libstdc++ note').", e);
                }
            }
            _ = torch.__version__;
            _loaded = true;
        }
    }

    /// <summary>
    /// The device for -Device: "cpu", "cuda" or "cuda:N". CUDA needs the CUDA natives and a GPU: otherwise a clear error
    /// saying what to install; never a silent fallback to the CPU.
    /// </summary>
    public static torch.Device ResolveDevice(string device)
    {
        var spec = (device ?? "cpu").Trim().ToLowerInvariant();
        if (spec == "cpu") { EnsureLoaded(); return torch.CPU; }
        int index = 0;
        if (spec != "cuda")
        {
            if (!spec.StartsWith("cuda:", StringComparison.Ordinal) || !int.TryParse(spec.AsSpan(5), out index) || index < 0)
                throw new ArgumentException($"-Device '{device}' is not a device: expected cpu, cuda or cuda:N (N = 0, 1, ...).", nameof(device));
        }
        EnsureLoaded();
        if (!CudaNativesPresent())
            throw new TorchUnavailableException(
                $"-Device {device}: this module has no CUDA natives (it was built with libtorch-cpu). Install the NVIDIA driver and CUDA 12.8, " +
                "then build the module with './build.ps1 -Task Build -Cuda' (it references TorchSharp-cuda-linux and libtorch-cuda-12.8-linux-x64), or use -Device cpu.");
        if (!torch.cuda.is_available())
            throw new TorchUnavailableException($"-Device {device}: the CUDA natives are installed but no CUDA device is available (check the NVIDIA driver with nvidia-smi), or use -Device cpu.");
        int count = torch.cuda.device_count();
        if (index >= count)
            throw new TorchUnavailableException($"-Device {device}: this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1}).");
        return new torch.Device(DeviceType.CUDA, index);
    }

    /// <summary>True when libtorch_cuda sits among the natives (a -Cuda build).</summary>
    public static bool CudaNativesPresent() => File.Exists(Path.Combine(NativeDirectory, Native("torch_cuda")));
}

/// <summary>The Torch engine cannot run here: natives missing or unloadable, or the device asked for is not available.</summary>
public sealed class TorchUnavailableException : InvalidOperationException
{
    public TorchUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}

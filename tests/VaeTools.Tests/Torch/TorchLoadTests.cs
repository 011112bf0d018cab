using TorchSharp;

namespace VaeTools.Tests.Torch;

/// <summary>TorchSharp and libtorch load in the test process from the natives the build placed in the output.</summary>
public class TorchLoadTests
{
    [Fact]
    public void TorchSharp_loads_and_computes_with_autograd()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1f, 2f, 3f }, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(14f, y.item<float>());
        Assert.Equal(new float[] { 2f, 4f, 6f }, x.grad!.data<float>().ToArray());
        // Loaded from this test's output folder, not consolidated from the NuGet cache.
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "cpu")), "TorchSharp fell back to consolidating natives from the NuGet cache.");
    }
}

public class TorchRuntimeTests
{
    [Fact]
    public void Ensure_loaded_finds_the_natives_beside_the_assembly()
    {
        VaeTools.Torch.TorchRuntime.EnsureLoaded();
        Assert.True(File.Exists(Path.Combine(VaeTools.Torch.TorchRuntime.NativeDirectory, OperatingSystem.IsLinux() ? "libtorch_cpu.so" : "torch_cpu.dll")));
        Assert.Equal(DeviceType.CPU, VaeTools.Torch.TorchRuntime.ResolveDevice("cpu").type);
        Assert.Equal(DeviceType.CPU, VaeTools.Torch.TorchRuntime.ResolveDevice(" CPU ").type);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void Resolve_device_rejects_what_is_not_a_device(string device)
    {
        var e = Assert.Throws<ArgumentException>(() => VaeTools.Torch.TorchRuntime.ResolveDevice(device));
        Assert.Contains($"-Device '{device}'", e.Message);
        Assert.Contains("cpu, cuda or cuda:N", e.Message);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:3")]
    public void Resolve_device_cuda_without_cuda_natives_says_what_to_install(string device)
    {
        if (VaeTools.Torch.TorchRuntime.CudaNativesPresent() && torch.cuda.is_available()) return; // a CUDA machine: covered by the device tests there
        var e = Assert.Throws<VaeTools.Torch.TorchUnavailableException>(() => VaeTools.Torch.TorchRuntime.ResolveDevice(device));
        Assert.Contains($"-Device {device}", e.Message);
        Assert.Contains(VaeTools.Torch.TorchRuntime.CudaNativesPresent() ? "nvidia-smi" : "-Cuda", e.Message);
    }
}

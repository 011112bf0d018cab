using VaeTools.Torch;
using static TorchSharp.torch;

namespace VaeTools.Tests.Torch;

/// <summary>
/// The block copies between managed arrays and tensors (<see cref="HostMemory"/>) that replaced TorchSharp's
/// element-by-element accessor in the training step, the engine's noise and the pipeline's tensors.
/// </summary>
public class HostMemoryTests
{
    [Fact]
    public void Upload_then_download_gives_back_the_values_and_the_shape()
    {
        TorchRuntime.EnsureLoaded();
        var values = Enumerable.Range(0, 12).Select(i => i * 0.25f - 1f).ToArray();
        using var t = HostMemory.Upload(values, new long[] { 3, 4 }, CPU);
        Assert.Equal(new long[] { 3, 4 }, t.shape);
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.Equal(values[7], t[1, 3].item<float>()); // row-major: row 1, column 3
        Assert.Equal(values, HostMemory.Download(t));
    }

    [Fact]
    public void Download_reads_a_transposed_float64_tensor_in_row_major_order()
    {
        TorchRuntime.EnsureLoaded();
        using var m = tensor(new double[] { 1, 2, 3, 4, 5, 6 }, new long[] { 2, 3 }, dtype: float64);
        using var transposed = m.t(); // [3 x 2], not contiguous
        Assert.False(transposed.is_contiguous());
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, HostMemory.Download(transposed));
    }

    [Fact]
    public void Floats_refuses_a_tensor_it_cannot_read_as_a_span_and_says_why()
    {
        TorchRuntime.EnsureLoaded();
        using var m = zeros(2, 3, dtype: float32);
        using var transposed = m.t();
        var e = Assert.Throws<ArgumentException>(() => HostMemory.Floats(transposed));
        Assert.Contains("[3 x 2] Float32 on cpu, not contiguous", e.Message);
        using var doubles = zeros(2, 3, dtype: float64);
        e = Assert.Throws<ArgumentException>(() => HostMemory.Floats(doubles));
        Assert.Contains("Float64", e.Message);
    }

    [Fact]
    public void Floats_writes_into_the_tensor_itself()
    {
        TorchRuntime.EnsureLoaded();
        using var t = zeros(2, 2, dtype: float32);
        HostMemory.Floats(t)[3] = 5f;
        Assert.Equal(5f, t[1, 1].item<float>());
    }
}

using TorchSharp;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using static TorchSharp.torch;
using ManagedTensor = VaeTools.Engine.Tensor;
using Tensor = TorchSharp.torch.Tensor;

namespace VaeTools.Torch;

/// <summary>
/// Encoding and decoding on a Torch model's module (the -AsTensor outputs of the cmdlets), written with
/// <see cref="VaeMath{T}"/> like training. Lifetime: the tensors these methods return are created outside every dispose
/// scope (detached from any scope the caller may have open), so they survive the pipeline; the caller owns them:
/// <c>.Dispose()</c> frees their native memory at once, otherwise the GC's finaliser does. Everything made on the way
/// is disposed before the method returns (each chunk runs in its own <see cref="torch.NewDisposeScope"/>).
/// </summary>
public static class TorchInference
{
    /// <summary>The "TorchSharp.torch+Tensor" full name, which callers that must not load TorchSharp compare against.</summary>
    public static readonly string TensorTypeName = typeof(Tensor).FullName!;

    private static TorchBackend Backend(VaeModel model) =>
        model.Backend as TorchBackend
        ?? throw new InvalidOperationException($"The model runs on the {model.Engine} engine, not on Torch.");

    /// <summary>
    /// The codes of every row of <paramref name="data"/>, [N x P] on the model's device: the posterior mean mu(x), or with
    /// <paramref name="sample"/> one draw z = mu + sigma eps (<see cref="VaeMath{T}.Reparameterize"/>, eps from <paramref name="random"/>).
    /// </summary>
    public static Tensor Encode(VaeModel model, IDataset data, bool sample, RandomSource random, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(data);
        var backend = Backend(model);
        model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        int n = data.Count, d = data.Features;
        batchSize = Math.Max(1, Math.Min(batchSize, Math.Max(1, n)));
        var ops = new TorchOps(backend.Module, random);
        var maths = new VaeMath<Tensor>(model.Config, ops);
        var rows = new int[batchSize];
        var x = new float[batchSize * d];
        var parts = new List<Tensor>();
        try
        {
            using var _ = no_grad();
            for (int start = 0; start < n; start += batchSize)
            {
                int count = Math.Min(batchSize, n - start);
                for (int i = 0; i < count; i++) rows[i] = start + i;
                data.CopyRows(rows.AsSpan(0, count), x.AsSpan(0, count * d), random);
                using var scope = NewDisposeScope();
                var input = OnDevice(x.AsSpan(0, count * d), count, d, backend.Module.Device);
                var (mu, logVar) = maths.Encoder(input);
                var z = sample ? maths.Reparameterize(mu, logVar) : mu;
                parts.Add(z.MoveToOuterDisposeScope());
            }
            if (parts.Count == 0) return Detached(empty(0, model.Config.LatentDim, dtype: float32, device: backend.Module.Device));
            if (parts.Count == 1)
            {
                var only = parts[0];
                parts.Clear();
                return Detached(only);
            }
            return Detached(cat(parts, 0));
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>
    /// The images of codes <paramref name="z"/> [N x P] (on the model's device), [N x D] on the device: the decoder's mean
    /// (Bernoulli: sigmoid of the logits), or with <paramref name="samplePixels"/> one draw from p(x | z), its uniforms and
    /// normals drawn from <paramref name="random"/> in the managed engine's order (row by row).
    /// </summary>
    public static Tensor Decode(VaeModel model, Tensor z, bool samplePixels, RandomSource? random)
    {
        ArgumentNullException.ThrowIfNull(z);
        var backend = Backend(model);
        if (samplePixels && random is null) throw new ArgumentNullException(nameof(random), "Sampling pixels needs a random source.");
        var maths = new VaeMath<Tensor>(model.Config, new TorchOps(backend.Module, random ?? new RandomSource(0)));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var head = maths.Decoder(z);
        var mean = maths.MeanImage(head);
        if (!samplePixels) return Detached(mean.MoveToOuterDisposeScope());
        long count = mean.numel();
        Tensor result;
        if (model.Config.Likelihood == Likelihood.Bernoulli)
        {
            var u = new double[count];
            for (long i = 0; i < count; i++) u[i] = random!.NextDouble();
            var uniforms = OnDevice(u, mean.shape, backend.Module.Device);
            result = uniforms.lt(mean.to(float64)).to(float32); // pixel = 1 when u < p, as the managed engine draws it
        }
        else
        {
            var e = new float[count];
            for (long i = 0; i < count; i++) e[i] = (float)random!.NextGaussian();
            var eps = HostMemory.Upload(e, mean.shape, backend.Module.Device);
            result = mean.add(head.LogVariance!.mul(0.5).exp().mul(eps)); // mean + sigma eps, sigma shared or per pixel
        }
        return Detached(result.MoveToOuterDisposeScope());
    }

    /// <summary>A managed [rows x cols] tensor as a TorchSharp float32 tensor on <paramref name="device"/> ("cpu", "cuda:0"); the caller owns it.</summary>
    public static Tensor FromManaged(ManagedTensor values, string device)
    {
        ArgumentNullException.ThrowIfNull(values);
        var dev = torch.device(device);
        return Detached(OnDevice(values.Span, values.Rows, values.Cols, dev));
    }

    /// <summary>A copy of a 2-D floating-point tensor (any device, any float dtype) as a managed [rows x cols] tensor.</summary>
    public static ManagedTensor ToManaged(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() != 2) throw new ArgumentException($"A tensor of shape {Shape(t)} is not a matrix.", nameof(t));
        return new ManagedTensor((int)t.shape[0], (int)t.shape[1], HostMemory.Download(t));
    }

    /// <summary>"[2 x 784]" (PyTorch's sizes, in the form every VaeTools shape error uses).</summary>
    public static string Shape(Tensor t) => "[" + string.Join(" x ", t.shape) + "]";

    /// <summary>What a tensor is, for messages: shape, dtype and device, e.g. "[2 x 784] Float32 on cpu".</summary>
    public static string Describe(Tensor t) => $"{Shape(t)} {t.dtype} on {DeviceName(t.device)}";

    /// <summary>"cpu" or "cuda:N", as -Device and a model's Device property write it.</summary>
    public static string DeviceName(Device device) => device.type == DeviceType.CPU ? "cpu" : $"cuda:{Math.Max(0, device.index)}";

    /// <summary>Whether the tensor holds floating-point values (float16, bfloat16, float32, float64).</summary>
    public static bool IsFloatingPoint(Tensor t) => t.is_floating_point();

    private static Tensor OnDevice(ReadOnlySpan<float> values, int rows, int cols, Device device) =>
        HostMemory.Upload(values, new long[] { rows, cols }, device);

    private static Tensor OnDevice(double[] values, long[] shape, Device device)
    {
        var t = tensor(values, shape, dtype: float64);
        return device.type == DeviceType.CPU ? t : t.to(device);
    }


    /// <summary>Takes <paramref name="t"/> out of every dispose scope: the caller (the user, in PowerShell) owns it.</summary>
    private static Tensor Detached(Tensor t) => t.DetachFromDisposeScope();
}

using Tensor = TorchSharp.torch.Tensor;
using TorchSharp;
using VaeTools.Model;
using static TorchSharp.torch;

namespace VaeTools.Torch;

/// <summary>
/// The Torch engine attached to a <see cref="VaeModel"/>: the live weights are the module's; the model's managed
/// parameters are kept as a copy (<see cref="SyncToModel"/>), which is what files, analysis and the managed engine read.
/// Parameter I/O goes through the model's <see cref="VaeModel.ReadParameter"/>/<see cref="VaeModel.WriteParameter"/>
/// (file layout), so the managed engine's own weight layout never reaches this side.
/// </summary>
public sealed class TorchBackend : IModelBackend
{
    private TorchBackend(TorchVaeModule module, string device)
    {
        Module = module;
        Device = device;
    }

    public TorchVaeModule Module { get; }
    object IModelBackend.Module => Module;
    public string Engine => "Torch";
    public string Device { get; }

    /// <summary>
    /// Puts <paramref name="model"/> on the Torch engine on <paramref name="device"/> ("cpu", "cuda", "cuda:N"): a module
    /// with the model's current weights. Throws <see cref="TorchUnavailableException"/> when the natives or the device are missing.
    /// </summary>
    public static TorchBackend Attach(VaeModel model, string device = "cpu")
    {
        ArgumentNullException.ThrowIfNull(model);
        var dev = TorchRuntime.ResolveDevice(device);
        var module = new TorchVaeModule(model.Config, dev);
        var backend = new TorchBackend(module, dev.type == DeviceType.CPU ? "cpu" : $"cuda:{dev.index}");
        backend.SyncFromModel(model);
        model.Backend?.Dispose();
        model.Backend = backend;
        return backend;
    }

    /// <summary>Back to the managed engine: the model keeps the Torch weights.</summary>
    public static void Detach(VaeModel model)
    {
        if (model.Backend is null) return;
        model.Backend.SyncToModel(model);
        model.Backend.Dispose();
        model.Backend = null;
    }

    public void SyncToModel(VaeModel model)
    {
        using var _ = no_grad();
        foreach (var p in model.Parameters)
            model.WriteParameter(p.Name, HostMemory.Download(Module.GetParameter(p.Name)));
    }

    public void SyncFromModel(VaeModel model)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var p in model.Parameters)
        {
            var (rows, cols) = model.FileShape(p.Name);
            var target = Module.GetParameter(p.Name);
            var value = model.ReadParameter(p.Name);
            target.copy_(HostMemory.Upload(value.Span, new long[] { rows, cols }, torch.CPU).reshape(target.shape));
        }
    }

    public ITrainingStep CreateTrainingStep(VaeModel model, TrainingOptions options, VaeTools.Engine.RandomSource root) =>
        new TorchTrainingStep(model, this, options, root);

    public void Dispose() => Module.Dispose();
}

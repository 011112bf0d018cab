using System.Runtime.CompilerServices;
using VaeTools.Data;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// -Engine Managed|Torch and -Device cpu|cuda|cuda:N (New-Vae, Import-Vae, ConvertTo-Vae). -Device cuda implies Torch.
/// Nothing here touches TorchSharp: the Torch engine is reached through <see cref="TorchBridge"/>, whose methods are
/// compiled (and VaeTools.Torch and TorchSharp loaded) only when a Torch model is made. A Torch model trains through
/// its backend's training step (<see cref="IModelBackend.CreateTrainingStep"/>), so training needs no bridge.
/// </summary>
public static class EngineLogic
{
    public const string Managed = "Managed", Torch = "Torch";

    /// <summary>The engine and device asked for: (engine, device); a terminating error for a bad combination.</summary>
    public static (string Engine, string Device) Resolve(string? engine, string? device)
    {
        string dev = string.IsNullOrWhiteSpace(device) ? "cpu" : device.Trim().ToLowerInvariant();
        bool cuda = dev.StartsWith("cuda", StringComparison.Ordinal);
        if (dev != "cpu" && !cuda)
            throw new CommandException(new CommandError("InvalidDevice", ErrorKind.InvalidArgument, device,
                new ArgumentException($"-Device '{device}' is not a device: expected cpu, cuda or cuda:N (N = 0, 1, ...).", "Device")));
        string eng = engine is null ? (cuda ? Torch : Managed)
            : string.Equals(engine, Torch, StringComparison.OrdinalIgnoreCase) ? Torch
            : string.Equals(engine, Managed, StringComparison.OrdinalIgnoreCase) ? Managed
            : throw new CommandException(new CommandError("InvalidEngine", ErrorKind.InvalidArgument, engine,
                new ArgumentException($"-Engine '{engine}' is not an engine: expected Managed or Torch.", "Engine")));
        if (eng == Managed && cuda)
            throw new CommandException(new CommandError("DeviceNeedsTorch", ErrorKind.InvalidArgument, device,
                new ArgumentException($"-Device {device} needs -Engine Torch: the managed engine runs on the CPU only.", "Device")));
        return (eng, dev);
    }

    /// <summary>Puts <paramref name="model"/> on the engine and device (in place). A Torch failure is a terminating error saying what to install.</summary>
    public static void Apply(VaeModel model, string engine, string device)
    {
        if (engine == Managed)
        {
            if (model.Backend is not null) TorchBridge.Detach(model);
            return;
        }
        try { TorchBridge.Attach(model, device); }
        catch (InvalidOperationException e) when (e.GetType().Name == "TorchUnavailableException")
        {
            throw new CommandException(new CommandError("TorchUnavailable", ErrorKind.ResourceUnavailable, device, e));
        }
        catch (ArgumentException e)
        {
            throw new CommandException(new CommandError("InvalidDevice", ErrorKind.InvalidArgument, device, e));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or FileNotFoundException or BadImageFormatException)
        {
            throw new CommandException(new CommandError("TorchUnavailable", ErrorKind.ResourceUnavailable, device,
                new InvalidOperationException($"The Torch engine could not be loaded: {e.Message} Build the module with './build.ps1 -Task Build' (it includes TorchSharp and the libtorch CPU natives), or use -Engine Managed.", e)));
        }
    }

    /// <summary>A copy of <paramref name="model"/> (weights, history) on the engine and device; the original is unchanged.</summary>
    public static VaeModel Convert(VaeModel model, string engine, string device)
    {
        model.Backend?.SyncToModel(model);
        var copy = model.Clone();
        Apply(copy, engine, device);
        return copy;
    }
}

/// <summary>The only place the cmdlets call into VaeTools.Torch. Each method is compiled at its first call.</summary>
internal static class TorchBridge
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Attach(VaeModel model, string device) => VaeTools.Torch.TorchBackend.Attach(model, device);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Detach(VaeModel model) => VaeTools.Torch.TorchBackend.Detach(model);

    // Tensors (TensorInput, -AsTensor): every TorchSharp value crosses as object, so no caller's signature names a TorchSharp type.

    /// <summary>The codes of <paramref name="data"/> computed by the Torch module: a TorchSharp tensor [N x P] on the model's device, owned by the caller.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static object Encode(VaeModel model, IDataset data, bool sample, VaeTools.Engine.RandomSource random, int batchSize) =>
        VaeTools.Torch.TorchInference.Encode(model, data, sample, random, batchSize);

    /// <summary>The images of codes (a TorchSharp tensor on the model's device, or a managed tensor, copied there) decoded by the Torch module; owned by the caller.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static object Decode(VaeModel model, object codes, bool samplePixels, VaeTools.Engine.RandomSource? random)
    {
        if (codes is VaeTools.Engine.Tensor managed)
        {
            using var z = VaeTools.Torch.TorchInference.FromManaged(managed, model.Device);
            return VaeTools.Torch.TorchInference.Decode(model, z, samplePixels, random);
        }
        return VaeTools.Torch.TorchInference.Decode(model, (TorchSharp.torch.Tensor)codes, samplePixels, random);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static VaeTools.Engine.Tensor ToManaged(object tensor) => VaeTools.Torch.TorchInference.ToManaged((TorchSharp.torch.Tensor)tensor);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static long[] ShapeOf(object tensor) => ((TorchSharp.torch.Tensor)tensor).shape;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Describe(object tensor) => VaeTools.Torch.TorchInference.Describe((TorchSharp.torch.Tensor)tensor);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string DeviceOf(object tensor) => VaeTools.Torch.TorchInference.DeviceName(((TorchSharp.torch.Tensor)tensor).device);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool IsFloatingPoint(object tensor) => VaeTools.Torch.TorchInference.IsFloatingPoint((TorchSharp.torch.Tensor)tensor);
}

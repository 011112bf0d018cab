using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// Latent codes given to New-VaeSample -Latent: a managed [N x P] tensor, a TorchSharp tensor (kept as object, so this
/// type never loads TorchSharp), or latent code objects of Get-VaeEncoding.
/// </summary>
public sealed class LatentInput
{
    internal LatentInput(Tensor? managed, object? torch, int rows, int cols, string description, string? device, LatentCode[]? codes)
    {
        Managed = managed;
        Torch = torch;
        Rows = rows;
        Cols = cols;
        Description = description;
        Device = device;
        Codes = codes;
    }

    /// <summary>The codes as a managed tensor, or null for a TorchSharp tensor.</summary>
    public Tensor? Managed { get; }
    /// <summary>The TorchSharp tensor (TorchSharp.torch+Tensor), or null.</summary>
    public object? Torch { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>What the codes are, for messages: e.g. "-Latent tensor [5 x 2] (TorchSharp, Float32 on cpu)".</summary>
    public string Description { get; }
    /// <summary>The TorchSharp tensor's device ("cpu", "cuda:0"), or null for managed codes.</summary>
    public string? Device { get; }
    /// <summary>The code objects the codes came from (their Index and Label name the images), or null for a tensor.</summary>
    public LatentCode[]? Codes { get; }

    public override string ToString() => Description;
}

/// <summary>
/// Tensors as cmdlet input: a managed <see cref="Tensor"/> or a TorchSharp tensor as -Data (an [N x D] image tensor becomes
/// a data set) or as -Latent (an [N x P] code tensor). TorchSharp tensors are recognised by their type's full name before
/// anything touches TorchSharp (<see cref="IsTorchTensor"/>), then read through <see cref="TorchBridge"/>: managed-only use
/// never loads it. Bad shapes and element types are terminating errors that name the parameter and the shape expected.
/// </summary>
public static class TensorInput
{
    /// <summary>The full name of TorchSharp's tensor type (and base type of its Parameter).</summary>
    public const string TorchTensorTypeName = "TorchSharp.torch+Tensor";

    /// <summary>Whether <paramref name="value"/> is a TorchSharp tensor (or a subclass such as a Parameter), by type name.</summary>
    public static bool IsTorchTensor(object? value)
    {
        for (var t = value?.GetType(); t is not null; t = t.BaseType)
            if (t.FullName == TorchTensorTypeName) return true;
        return false;
    }

    /// <summary>
    /// <paramref name="value"/> as a data set when it is an image tensor ([N x D], N &gt;= 1; a TorchSharp tensor on any
    /// device is copied to the CPU as float32); null when it is not a tensor at all (so other bindings are tried).
    /// </summary>
    /// <exception cref="CommandException">InvalidTensorShape / InvalidTensorType / InvalidData naming <paramref name="parameter"/>.</exception>
    public static IDataset? ToDataset(object? value, string parameter)
    {
        Tensor t;
        string what;
        if (value is Tensor managed)
        {
            t = managed;
            what = $"-{parameter} tensor {managed.Shape}";
        }
        else if (IsTorchTensor(value))
        {
            CheckTorch(value!, parameter, "[N x D]: one row of D pixel values per image (flatten a batch of images with .reshape(N, -1))");
            t = TorchBridge.ToManaged(value!);
            what = $"-{parameter} tensor {TorchBridge.Describe(value!)} (TorchSharp)";
        }
        else return null;
        if (t.Rows < 1)
            throw Fail("InvalidTensorShape", value, new ArgumentException($"-{parameter} is a tensor {t.Shape} of no images; expected [N x D] with N >= 1.", parameter));
        try { return new TensorDataset(t, labels: null, description: what); }
        catch (ArgumentException e) // a NaN or infinity: the message names row and column
        {
            throw Fail("InvalidTensorData", value, new ArgumentException($"-{parameter}: {e.Message}", parameter, e));
        }
    }

    /// <summary><paramref name="value"/> as latent codes when it is a tensor [N x P] or code objects; null when it is neither.</summary>
    /// <exception cref="CommandException">InvalidTensorShape / InvalidTensorType naming <paramref name="parameter"/>.</exception>
    public static LatentInput? ToLatent(object? value, string parameter)
    {
        switch (value)
        {
            case LatentInput input:
                return input;
            case Tensor t:
                if (t.Rows < 1)
                    throw Fail("InvalidTensorShape", value, new ArgumentException($"-{parameter} is a tensor {t.Shape} of no codes; expected [N x P] with N >= 1.", parameter));
                return new LatentInput(t, null, t.Rows, t.Cols, $"-{parameter} tensor {t.Shape}", null, null);
            case LatentCode code:
                return FromCodes(new[] { code }, parameter);
            case object[] items when items.Length > 0 && items.All(i => i is LatentCode):
                return FromCodes(items.Cast<LatentCode>().ToArray(), parameter);
        }
        if (!IsTorchTensor(value)) return null;
        CheckTorch(value!, parameter, "[N x P]: one row of P latent values per code (Get-VaeEncoding -AsTensor gives them)");
        var shape = TorchBridge.ShapeOf(value!);
        if (shape[0] < 1)
            throw Fail("InvalidTensorShape", value, new ArgumentException($"-{parameter} is a tensor {TorchBridge.Describe(value!)} of no codes; expected [N x P] with N >= 1.", parameter));
        return new LatentInput(null, value, (int)shape[0], (int)shape[1], $"-{parameter} tensor {TorchBridge.Describe(value!)} (TorchSharp)", TorchBridge.DeviceOf(value!), null);
    }

    /// <summary>Checks that latent codes fit <paramref name="model"/>: P columns and, for a TorchSharp tensor given to a Torch model, its device.</summary>
    /// <exception cref="CommandException">WidthMismatch or InvalidTensorDevice naming <paramref name="parameter"/>.</exception>
    public static void CheckCodes(LatentInput codes, VaeModel model, string parameter)
    {
        Preconditions.RequireLatentWidth(model, codes.Cols, codes, codes.Description);
        if (codes.Torch is not null && model.Engine == EngineLogic.Torch) CheckDevice(codes.Device!, model.Device, parameter);
    }

    /// <summary>A TorchSharp tensor given to a Torch model must be on the model's device (no silent copies between devices).</summary>
    public static void CheckDevice(string tensorDevice, string modelDevice, string parameter)
    {
        if (string.Equals(Normalize(tensorDevice), Normalize(modelDevice), StringComparison.OrdinalIgnoreCase)) return;
        throw Fail("InvalidTensorDevice", tensorDevice, new ArgumentException(
            $"-{parameter} is a tensor on {tensorDevice}, but the model runs on {modelDevice}. Move the tensor with .to('{modelDevice}'), or the model with ConvertTo-Vae -Device {tensorDevice}.", parameter));

        static string Normalize(string d) => d.Trim().ToLowerInvariant() == "cuda" ? "cuda:0" : d.Trim().ToLowerInvariant();
    }

    /// <summary>The codes as a managed tensor (a TorchSharp tensor is copied to the CPU).</summary>
    public static Tensor ManagedCodes(LatentInput codes) => codes.Managed ?? TorchBridge.ToManaged(codes.Torch!);

    private static LatentInput FromCodes(LatentCode[] codes, string parameter)
    {
        int p = codes[0].Z.Length;
        var t = new Tensor(codes.Length, p);
        for (int i = 0; i < codes.Length; i++)
        {
            if (codes[i].Z.Length != p)
                throw Fail("InvalidTensorShape", codes[i], new ArgumentException(
                    $"-{parameter}: code {codes[i].Index} has {codes[i].Z.Length} values, but the first code has {p}; all codes must have the same size.", parameter));
            codes[i].Z.CopyTo(t.Row(i));
        }
        string what = codes.Length == 1 ? $"-{parameter} code {codes[0].Index}" : $"-{parameter} codes ({codes.Length} of {p} values)";
        return new LatentInput(t, null, codes.Length, p, what, null, codes);
    }

    private static void CheckTorch(object value, string parameter, string expected)
    {
        var shape = TorchBridge.ShapeOf(value);
        if (shape.Length != 2)
            throw Fail("InvalidTensorShape", value, new ArgumentException(
                $"-{parameter} is a tensor {TorchBridge.Describe(value)} with {shape.Length} dimension(s); expected a 2-D tensor {expected}.", parameter));
        if (!TorchBridge.IsFloatingPoint(value))
            throw Fail("InvalidTensorType", value, new ArgumentException(
                $"-{parameter} is a tensor {TorchBridge.Describe(value)}; expected floating-point values (float32; float64 and float16 are converted). Convert it with .to(torch.float32).", parameter));
    }

    private static CommandException Fail(string id, object? target, Exception e) => new(new CommandError(id, ErrorKind.InvalidArgument, target, e));
}

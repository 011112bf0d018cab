using VaeTools.IO;
using System.Globalization;
using System.Text.Json;
using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// Optimiser and random-stream state saved with a checkpoint so that training can resume exactly. The same for both
/// engines: <see cref="OptimizerState"/> is named as the managed optimisers name their state ("PARAMETER.exp_avg", ...) and
/// each tensor is in its parameter's file layout ([out x in] for weights, [1 x out] for biases), so a checkpoint written on
/// one engine resumes on the other.
/// </summary>
public sealed record TrainingCheckpoint(
    OptimizerKind Optimizer,
    float LearningRate,
    long Steps,
    IReadOnlyDictionary<string, Tensor> OptimizerState,
    IReadOnlyList<ulong[]> RandomStates);

/// <summary>
/// The one place models are written and read. A model file is a safetensors file: every parameter
/// under its name (PyTorch's [out x in] layout, so Python opens it as is), and in __metadata__ the
/// format tag, the configuration (JSON) and the training history (JSON). A checkpoint adds the
/// optimiser's state tensors ("optimizer.NAME", each in its parameter's layout and shape, as torch.optim holds them) and
/// random states. Writes are atomic.
/// </summary>
public static class ModelFile
{
    public const string FormatTag = "vaetools.vae";
    public const int FormatVersion = 1;
    private const string OptimizerPrefix = "optimizer.";

    /// <summary>Writes <paramref name="model"/> (and a checkpoint's state, when given) to <paramref name="path"/> atomically.</summary>
    public static void Save(VaeModel model, string path, TrainingCheckpoint? checkpoint = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (tensors, metadata) = Contents(model, checkpoint);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"Cannot write model file '{full}': the folder '{dir}' does not exist.");
        SafeTensorsFile.Write(full, tensors, metadata);
    }

    /// <summary>The bytes of the model file <see cref="Save"/> would write (how PowerShell serialization carries a model across processes).</summary>
    public static byte[] ToBytes(VaeModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, metadata) = Contents(model, null);
        using var stream = new MemoryStream();
        SafeTensorsFile.Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    /// <summary>A model from the bytes of a model file (<see cref="ToBytes"/>); <paramref name="source"/> names them in errors.</summary>
    public static VaeModel FromBytes(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        return FromContent(SafeTensorsFile.Read(stream, source), source).Model;
    }

    private static (List<SafeTensor> Tensors, Dictionary<string, string> Metadata) Contents(VaeModel model, TrainingCheckpoint? checkpoint)
    {
        // Files hold PyTorch's layouts, so that torch.nn.Linear's load_state_dict takes them as they are: [out x in] for
        // every weight (the model gives it whatever layout its engine holds) and [out] for a bias. Files written before
        // biases were 1-D ([1, out]) still read.
        var tensors = model.Parameters.Select(p =>
        {
            var t = SafeTensor.FromTensor(p.Name, model.ReadParameter(p.Name));
            return t with { Shape = model.FileDims(p.Name) }; // [out, in], [out], or a convolution's 4-D weight
        }).ToList();
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatTag,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["config"] = model.Config.ToJson(),
            ["history"] = JsonSerializer.Serialize(model.History, VaeConfig.JsonOptions),
            ["parameters"] = model.ParameterCount.ToString(CultureInfo.InvariantCulture),
        };
        if (model.BatchHistory.Count > 0) metadata["batch_history"] = JsonSerializer.Serialize(model.BatchHistory, VaeConfig.JsonOptions);
        if (checkpoint is not null)
        {
            foreach (var (name, value) in checkpoint.OptimizerState)
            {
                var t = SafeTensor.FromTensor(OptimizerPrefix + name, value);
                // A bias's state is 1-D like the bias (torch.optim's exp_avg of a [out] bias is [out]).
                tensors.Add(OwnerOf(model, name)?.Name.EndsWith(".bias", StringComparison.Ordinal) == true ? t with { Shape = new[] { t.Data.Length } } : t);
            }
            metadata["optimizer"] = JsonSerializer.Serialize(new OptimizerInfo(checkpoint.Optimizer, checkpoint.LearningRate, checkpoint.Steps, FileLayout), VaeConfig.JsonOptions);
            metadata["random_state"] = JsonSerializer.Serialize(checkpoint.RandomStates.Select(s => s.Select(w => w.ToString(CultureInfo.InvariantCulture)).ToArray()));
        }
        return (tensors, metadata);
    }

    /// <summary>Reads a model written by <see cref="Save"/>; any problem is a <see cref="ModelFileException"/> naming the file.</summary>
    public static VaeModel Load(string path) => LoadWithCheckpoint(path).Model;

    public static (VaeModel Model, TrainingCheckpoint? Checkpoint) LoadWithCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ModelFileException(full, $"Cannot read model file '{full}': it is a folder, not a file. Give the path of a model file (e.g. '{Path.Combine(full, "model.safetensors")}').");
        if (!File.Exists(full)) throw new FileNotFoundException($"Model file '{full}' does not exist.", full);
        return FromContent(SafeTensorsFile.Read(full), full);
    }

    private static (VaeModel Model, TrainingCheckpoint? Checkpoint) FromContent(SafeTensorsContent content, string full)
    {
        ModelFileException Bad(string reason) => new(full, $"Cannot read model file '{full}': {reason}");

        if (!content.Metadata.TryGetValue("format", out var format) || format != FormatTag)
            throw Bad($"it is a safetensors file but not a VaeTools model (its metadata has no \"format\": \"{FormatTag}\"). Files from other programs cannot be imported.");
        if (!content.Metadata.TryGetValue("format_version", out var versionText) || !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version))
            throw Bad("the format_version metadata is missing or not a number.");
        if (version > FormatVersion)
            throw Bad($"it was written in format version {version}; this VaeTools reads up to version {FormatVersion}. Update VaeTools.");
        if (!content.Metadata.TryGetValue("config", out var configJson)) throw Bad("the config metadata is missing.");

        VaeConfig config;
        try { config = VaeConfig.FromJson(configJson); }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw Bad($"the model configuration is invalid: {e.Message}"); }

        var model = new VaeModel(config);
        foreach (var p in model.Parameters)
        {
            if (!content.TryGet(p.Name, out var t)) throw Bad($"the tensor '{p.Name}' that a {config} model needs is missing.");
            var fileShape = p.InputMajor ? new Tensor(p.Value.Cols, p.Value.Rows) : p.Value;
            var dims = model.FileDims(p.Name);
            bool fits = dims.Length == 4 ? t!.Shape.SequenceEqual(dims) : ShapeMatches(t!.Shape, fileShape);
            if (t.Data.Length != p.Value.Length || !fits)
                throw Bad($"the tensor '{p.Name}' has shape {SafeTensor.FormatShape(t.Shape)}; the configuration needs {SafeTensor.FormatShape(dims)}.");
            for (int i = 0; i < t.Data.Length; i++)
                if (!float.IsFinite(t.Data[i])) throw Bad($"the tensor '{p.Name}' holds {t.Data[i]} at position {i}; model weights must be finite.");
            if (p.InputMajor) p.Value.CopyFrom(new Tensor(fileShape.Rows, fileShape.Cols, t.Data).Transpose());
            else t.Data.CopyTo(p.Value.Span);
        }

        if (content.Metadata.TryGetValue("history", out var historyJson))
        {
            try { model.ReplaceHistory(JsonSerializer.Deserialize<List<EpochRecord>>(historyJson, VaeConfig.JsonOptions) ?? new()); }
            catch (JsonException e) { throw Bad($"the training history is not valid JSON: {e.Message}"); }
        }
        if (content.Metadata.TryGetValue("batch_history", out var batchJson))
        {
            try { model.ReplaceBatchHistory(JsonSerializer.Deserialize<List<BatchRecord>>(batchJson, VaeConfig.JsonOptions) ?? new()); }
            catch (JsonException e) { throw Bad($"the per-batch training history is not valid JSON: {e.Message}"); }
        }

        TrainingCheckpoint? checkpoint = null;
        if (content.Metadata.TryGetValue("optimizer", out var optimizerJson))
        {
            try
            {
                var info = JsonSerializer.Deserialize<OptimizerInfo>(optimizerJson, VaeConfig.JsonOptions) ?? throw new JsonException("empty");
                var state = content.Tensors.Where(t => t.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                    .ToDictionary(t => t.Name[OptimizerPrefix.Length..], t => t.ToTensor());
                // Checkpoints written before the layout was recorded hold the state of input-major weights as the managed
                // engine held it, [in x out]: turn it into the file layout.
                if (info.Layout != FileLayout)
                    foreach (var name in state.Keys.ToArray())
                        if (OwnerOf(model, name) is { InputMajor: true }) state[name] = state[name].Transpose();
                var random = content.Metadata.TryGetValue("random_state", out var rj)
                    ? (JsonSerializer.Deserialize<string[][]>(rj) ?? Array.Empty<string[]>()).Select(s => s.Select(w => ulong.Parse(w, CultureInfo.InvariantCulture)).ToArray()).ToArray()
                    : Array.Empty<ulong[]>();
                checkpoint = new TrainingCheckpoint(info.Kind, info.LearningRate, info.Steps, state, random);
            }
            catch (Exception e) when (e is JsonException or FormatException or OverflowException)
            {
                throw Bad($"the checkpoint's optimiser state is invalid: {e.Message}");
            }
        }
        return (model, checkpoint);
    }

    private static bool ShapeMatches(int[] shape, Tensor t) =>
        (shape.Length == 2 && shape[0] == t.Rows && shape[1] == t.Cols) ||
        (shape.Length == 1 && t.Rows == 1 && shape[0] == t.Cols) ||
        (shape.Length == 0 && t.Length == 1);

    /// <summary>The parameter an optimiser state tensor ("PARAMETER.exp_avg") belongs to, or null.</summary>
    private static Parameter? OwnerOf(VaeModel model, string stateName) =>
        model.Parameters.FirstOrDefault(p => stateName.StartsWith(p.Name + ".", StringComparison.Ordinal));

    /// <summary>The optimiser metadata's "layout" of checkpoints whose state tensors are in the parameters' file layout.</summary>
    private const string FileLayout = "file";

    private sealed record OptimizerInfo(OptimizerKind Kind, float LearningRate, long Steps, string? Layout = null);
}

using VaeTools.IO;
using System.Text.Json.Nodes;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

/// <summary>
/// Checkpoints hold the optimiser state in the parameters' file layout (one layout for both engines). Files written
/// before that held the state of the managed engine's input-major weights transposed, [in x out]; they still resume exactly.
/// </summary>
public sealed class CheckpointLayoutTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-ckpt-layout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { InputDim = 30, HiddenDims = new[] { 8 }, LatentDim = 2, Seed = 3 };

    private static TensorDataset Data()
    {
        var rng = new RandomSource(5);
        var t = new Tensor(120, 30);
        rng.FillUniform(t.Span, 0f, 1f);
        return new TensorDataset(t, labels: null, "uniform");
    }

    /// <summary>The file as the code before issue 12 wrote it: input-major weights' state [in x out], biases' [1 x out], no layout tag.</summary>
    private static void MakeLegacy(string path, VaeModel shapes)
    {
        var content = SafeTensorsFile.Read(path);
        var tensors = content.Tensors.Select(t =>
        {
            if (!t.Name.StartsWith("optimizer.", StringComparison.Ordinal)) return t;
            var owner = shapes.Parameters.Single(p => t.Name["optimizer.".Length..].StartsWith(p.Name + ".", StringComparison.Ordinal));
            var value = t.ToTensor();
            if (owner.InputMajor) value = value.Transpose();
            return SafeTensor.FromTensor(t.Name, value); // 2-D, in the managed engine's layout
        }).ToList();
        var metadata = content.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        var info = JsonNode.Parse(metadata["optimizer"])!.AsObject();
        Assert.True(info.Remove("layout") || info.Remove("Layout"), $"no layout tag in {metadata["optimizer"]}");
        metadata["optimizer"] = info.ToJsonString();
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    [Fact]
    public void A_legacy_checkpoint_with_input_major_optimiser_state_still_resumes_exactly()
    {
        var data = Data();
        var options = new TrainingOptions { Epochs = 2, BatchSize = 20, Seed = 4, Threads = 1 };
        var straight = new VaeModel(Config);
        using (var t = new VaeTrainer(straight, options)) t.Train(data);

        string path = Path.Combine(_dir, "legacy.safetensors");
        using (var t = new VaeTrainer(new VaeModel(Config), options with { Epochs = 1, CheckpointPath = path })) t.Train(data);
        var (_, current) = ModelFile.LoadWithCheckpoint(path);
        MakeLegacy(path, new VaeModel(Config));
        var legacyShape = SafeTensorsFile.Read(path).Tensors.Single(t => t.Name == "optimizer.decoder.output.weight.exp_avg").Shape;
        Assert.Equal(new[] { 8, 30 }, legacyShape); // [in x out]: the managed engine's own layout of that weight

        var (loaded, checkpoint) = ModelFile.LoadWithCheckpoint(path);
        // Read back in the file layout, value for value the state a current checkpoint holds.
        foreach (var (name, value) in current!.OptimizerState)
        {
            Assert.Equal((value.Rows, value.Cols), (checkpoint!.OptimizerState[name].Rows, checkpoint.OptimizerState[name].Cols));
            Assert.True(value.Span.SequenceEqual(checkpoint.OptimizerState[name].Span), name);
        }
        using (var t = new VaeTrainer(loaded, options with { Epochs = 1 }, checkpoint)) t.Train(data);
        Assert.True(straight.Parameters.Zip(loaded.Parameters).All(p => p.First.Value.Span.SequenceEqual(p.Second.Value.Span)),
            "a legacy checkpoint did not resume exactly");
    }

    [Fact]
    public void A_checkpoint_with_a_misshapen_optimiser_tensor_is_refused_naming_it()
    {
        var data = Data();
        string path = Path.Combine(_dir, "bad.safetensors");
        var options = new TrainingOptions { Epochs = 1, BatchSize = 20, Seed = 4, Threads = 1 };
        using (var t = new VaeTrainer(new VaeModel(Config), options with { CheckpointPath = path })) t.Train(data);
        var (loaded, checkpoint) = ModelFile.LoadWithCheckpoint(path);
        var state = checkpoint!.OptimizerState.ToDictionary(kv => kv.Key, kv => kv.Value);
        state["encoder.hidden.0.weight.exp_avg"] = state["encoder.hidden.0.weight.exp_avg"].Transpose(); // [30 x 8] for [8 x 30]
        var e = Assert.Throws<ArgumentException>(() => new VaeTrainer(loaded, options, checkpoint with { OptimizerState = state }));
        Assert.Contains("encoder.hidden.0.weight.exp_avg", e.Message);
        Assert.False(loaded.IsTraining); // the refused trainer let go of the model
    }
}

using System.Text.Json;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>
/// What models, data sets, images, codes and tensors carry across PowerShell serialization (Start-Job) and how they are
/// rebuilt: the SerializedForm string and <see cref="SerializedForms.Restore"/> over a property bag as PowerShell
/// deserializes it (type names prefixed "Deserialized.", numbers in lists).
/// </summary>
public class SerializedFormsTests
{
    private static object? RoundTrip(object value, IDictionary<string, object?>? extra = null)
    {
        var bag = new Dictionary<string, object?> { [SerializedForms.PropertyName] = SerializedForms.Of(value) };
        foreach (var (k, v) in extra ?? new Dictionary<string, object?>()) bag[k] = v;
        var names = new[] { "Deserialized." + value.GetType().FullName, "Deserialized.System.Object" };
        return SerializedForms.Restore(names, n => bag.TryGetValue(n, out var v) ? v : null);
    }

    [Fact]
    public void A_trained_model_comes_back_with_bitwise_the_same_weights_config_and_history()
    {
        var data = SyntheticMnist.Create(40);
        var model = new VaeModel(new VaeConfig { InputDim = 784, HiddenDims = new[] { 8 }, LatentDim = 2, Seed = 3 });
        using (var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 20, Seed = 1, Threads = 1 })) trainer.Train(data);
        var back = Assert.IsType<VaeModel>(RoundTrip(model));
        Assert.Equal(model.Config, back.Config);
        Assert.Equal(model.History.Select(h => h.TrainLoss), back.History.Select(h => h.TrainLoss));
        for (int i = 0; i < model.Parameters.Count; i++)
            Assert.Equal(model.Parameters[i].Value.ToArray(), back.Parameters[i].Value.ToArray());
    }

    [Fact]
    public void An_MNIST_data_set_comes_back_with_its_pixels_labels_and_description()
    {
        var data = SyntheticMnist.Create(25, 2, new MnistLoadOptions { Classes = new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 }, Count = 20, Binarization = MnistBinarization.Threshold });
        var back = Assert.IsType<MnistDataset>(RoundTrip(data));
        Assert.Equal(data.Pixels.ToArray(), back.Pixels.ToArray());
        Assert.Equal(data.Labels.ToArray(), back.Labels.ToArray());
        Assert.Equal(data.Description, back.Description);
        Assert.Equal(data.Binarization, back.Binarization);
    }

    [Fact]
    public void A_tensor_data_set_an_image_and_a_tensor_come_back_equal()
    {
        var t = new Tensor(3, 2, new[] { 1f, -2.5f, 3e-8f, 4f, 5f, float.Epsilon });
        var ds = Assert.IsType<TensorDataset>(RoundTrip(new TensorDataset(t, new[] { 0, 1, 2 }, "three rows")));
        Assert.Equal(t.ToArray(), ds.Data.ToArray());
        Assert.Equal(new[] { 0, 1, 2 }, Enumerable.Range(0, 3).Select(ds.GetLabel));
        Assert.Equal("three rows", ds.Description);
        var image = Assert.IsType<ImageRecord>(RoundTrip(new ImageRecord(5, 7, new[] { 0.25f, 0.5f, 0.75f, 1f }, 2, 2)));
        Assert.Equal((5, (int?)7, 2, 2), (image.Index, image.Label, image.Height, image.Width));
        Assert.Equal(new[] { 0.25f, 0.5f, 0.75f, 1f }, image.Pixels);
        Assert.Equal(t.ToArray(), Assert.IsType<Tensor>(RoundTrip(t)).ToArray());
    }

    [Fact]
    public void A_latent_code_is_rebuilt_from_its_columns()
    {
        var names = new[] { "Deserialized.VaeTools.PowerShell.LatentCode", "Deserialized.System.Object" };
        var original = new LatentCode(4, null, new[] { 1f, 2f }, new[] { -1f, -2f }, new[] { 1.5f, 2.5f });
        var bag = original.Columns().ToDictionary(c => c.Key, c => c.Value);
        var code = Assert.IsType<LatentCode>(SerializedForms.Restore(names, n => bag.GetValueOrDefault(n)));
        Assert.Equal((4, (int?)null), (code.Index, code.Label));
        Assert.Equal(original.Mean, code.Mean);
        Assert.Equal(original.LogVariance, code.LogVariance);
        Assert.Equal(original.Z, code.Z);
        Assert.Throws<CommandException>(() => SerializedForms.Restore(names, n => n == "Index" ? 1 : null));
    }

    [Fact]
    public void Other_objects_are_not_touched()
    {
        Assert.Null(SerializedForms.Restore(new[] { "Deserialized.System.IO.FileInfo" }, _ => null));
        Assert.Null(SerializedForms.Restore(new[] { "VaeTools.Model.VaeModel" }, _ => null)); // live, not deserialized
        Assert.Null(SerializedForms.Of("text"));
    }

    [Fact]
    public void A_model_serialized_without_the_VaeTools_types_is_an_InvalidData_error_saying_to_import_the_module()
    {
        var e = Assert.Throws<CommandException>(() => SerializedForms.Restore(new[] { "Deserialized.VaeTools.Model.VaeModel" }, _ => null));
        Assert.Equal(ErrorKind.InvalidData, e.Error.Category);
        Assert.Equal("DeserializedObjectIncomplete", e.Error.ErrorId);
        Assert.Contains("Import-Module VaeTools", e.Message);
    }

    [Fact]
    public void A_damaged_serialized_model_is_an_InvalidData_error_naming_what_it_is()
    {
        var bytes = ModelFile.ToBytes(new VaeModel(new VaeConfig { InputDim = 4, HiddenDims = new[] { 3 }, LatentDim = 2 }));
        string json = JsonSerializer.Serialize(bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CommandException>(() => SerializedForms.Restore(new[] { "Deserialized.VaeTools.Model.VaeModel" },
            n => n == SerializedForms.PropertyName ? json : null));
        Assert.Equal(ErrorKind.InvalidData, e.Error.Category);
        Assert.Contains("Deserialized.VaeTools.Model.VaeModel", e.Message);
    }

    [Fact]
    public void ModelFile_bytes_are_the_file_Save_writes()
    {
        var model = new VaeModel(new VaeConfig { InputDim = 4, HiddenDims = new[] { 3 }, LatentDim = 2, Seed = 9 });
        string path = Path.Combine(Path.GetTempPath(), $"vaetools-bytes-{Guid.NewGuid()}.safetensors");
        try
        {
            ModelFile.Save(model, path);
            Assert.Equal(File.ReadAllBytes(path), ModelFile.ToBytes(model));
        }
        finally { File.Delete(path); }
    }
}

using VaeTools.IO;
using System.Runtime.InteropServices;
using System.Text.Json;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// How VaeTools objects cross PowerShell serialization (Start-Job, Receive-Job, Import-Clixml, remoting). PowerShell
/// sends an object as a bag of properties; the types file (VaeTools.Types.ps1xml) adds to each object that holds
/// numbers a hidden <c>SerializedForm</c> property (a JSON string: a model's file as base64, a data set's pixels and
/// labels, ...) and names it in the property set PowerShell serializes. <see cref="Restore"/> turns such a bag back into
/// the live object; the cmdlet layer calls it from a type converter (deserialization, parameter conversion) and from the
/// argument transformation of every -Model / -Data parameter.
/// </summary>
public static class SerializedForms
{
    /// <summary>The prefix PowerShell puts before the type names of a deserialized object.</summary>
    public const string DeserializedPrefix = "Deserialized.";

    /// <summary>The name of the hidden property that carries an object's content.</summary>
    public const string PropertyName = "SerializedForm";

    /// <summary>The types <see cref="Restore"/> can rebuild, by full name.</summary>
    public static readonly IReadOnlyList<Type> RestorableTypes = new[]
    {
        typeof(VaeModel), typeof(MnistDataset), typeof(TensorDataset), typeof(ImageRecord), typeof(LatentCode), typeof(Tensor),
    };

    private sealed record MnistForm(byte[] Pixels, byte[] Labels, int Rows, int Cols, MnistSubset Subset, MnistVariant Variant,
        int[]? Classes, int? Limit, MnistBinarization Binarization);

    private sealed record TensorDatasetForm(int Rows, int Cols, byte[] Values, int[]? Labels, string Description);

    private sealed record ImageForm(int Index, int? Label, int Height, int Width, byte[] Pixels);

    private sealed record TensorForm(int Rows, int Cols, byte[] Values);

    /// <summary>The <c>SerializedForm</c> of <paramref name="value"/> (a JSON string), or null for other objects.</summary>
    public static string? Of(object? value) => value switch
    {
        VaeModel m => JsonSerializer.Serialize(ModelFile.ToBytes(m)),
        MnistDataset d => JsonSerializer.Serialize(new MnistForm(d.Pixels.ToArray(), d.Labels.ToArray(), d.Rows, d.Cols, d.Subset, d.Variant,
            d.Classes?.ToArray(), d.Limit, d.Binarization)),
        TensorDataset d => JsonSerializer.Serialize(new TensorDatasetForm(d.Data.Rows, d.Data.Cols, Bytes(d.Data.Span),
            d.HasLabels ? Enumerable.Range(0, d.Count).Select(d.GetLabel).ToArray() : null, d.Description)),
        ImageRecord i => JsonSerializer.Serialize(new ImageForm(i.Index, i.Label, i.Height, i.Width, Bytes(i.Pixels))),
        Tensor t => JsonSerializer.Serialize(new TensorForm(t.Rows, t.Cols, Bytes(t.Span))),
        _ => null,
    };

    /// <summary>The restorable type a deserialized object was, from its type names ("Deserialized.VaeTools.Model.VaeModel"), or null.</summary>
    public static Type? DeserializedType(IEnumerable<string> typeNames)
    {
        string? first = typeNames.FirstOrDefault(n => n.StartsWith(DeserializedPrefix, StringComparison.Ordinal));
        if (first is null) return null;
        string name = first[DeserializedPrefix.Length..];
        return RestorableTypes.FirstOrDefault(t => t.FullName == name);
    }

    /// <summary>
    /// The live object behind a deserialized property bag: <paramref name="typeNames"/> are its PowerShell type names,
    /// <paramref name="property"/> reads one of its properties (null when absent). Null when the bag is not a VaeTools object.
    /// </summary>
    /// <exception cref="CommandException">InvalidData: the bag is a VaeTools object but does not carry its content.</exception>
    /// <param name="unwrap">The value behind a wrapper (PowerShell's PSObject); default: the value itself.</param>
    public static object? Restore(IEnumerable<string> typeNames, Func<string, object?> property, Func<object?, object?>? unwrap = null)
    {
        unwrap ??= v => v;
        var type = DeserializedType(typeNames);
        if (type is null) return null;
        string what = $"The deserialized {type.Name} ({DeserializedPrefix}{type.FullName})";
        try
        {
            if (type == typeof(LatentCode))
                return new LatentCode(ToInt(unwrap(property("Index"))) ?? 0, ToInt(unwrap(property("Label"))),
                    Column(property, "Mu", unwrap, what), Column(property, "LogVar", unwrap, what), Column(property, "Z", unwrap, what));

            if (unwrap(property(PropertyName)) is not string json)
                throw Missing(what);
            switch (type.Name)
            {
                case nameof(VaeModel):
                    return ModelFile.FromBytes(Json<byte[]>(json), what);
                case nameof(MnistDataset):
                {
                    var f = Json<MnistForm>(json);
                    return MnistDataset.FromBytes(f.Pixels, f.Labels, f.Rows, f.Cols, f.Subset, f.Variant, f.Classes, f.Limit, f.Binarization);
                }
                case nameof(TensorDataset):
                {
                    var f = Json<TensorDatasetForm>(json);
                    return new TensorDataset(new Tensor(f.Rows, f.Cols, FloatsOf(f.Values, f.Rows * f.Cols, what)), f.Labels, f.Description);
                }
                case nameof(ImageRecord):
                {
                    var f = Json<ImageForm>(json);
                    return new ImageRecord(f.Index, f.Label, FloatsOf(f.Pixels, f.Height * f.Width, what), f.Height, f.Width);
                }
                default:
                {
                    var f = Json<TensorForm>(json);
                    return new Tensor(f.Rows, f.Cols, FloatsOf(f.Values, f.Rows * f.Cols, what));
                }
            }
        }
        catch (Exception e) when (e is JsonException or ArgumentException or ModelFileException or FormatException or InvalidCastException or OverflowException)
        {
            throw new CommandException(new CommandError("DeserializedObjectInvalid", ErrorKind.InvalidData, type.FullName,
                new InvalidDataException($"{what} cannot be rebuilt: {e.Message}", e)));
        }
    }

    private static CommandException Missing(string what) =>
        new(new CommandError("DeserializedObjectIncomplete", ErrorKind.InvalidData, what, new InvalidDataException(
            $"{what} carries no {PropertyName} property, so its weights or values did not cross the process boundary. " +
            "It was serialized by a session without the VaeTools types: import the VaeTools module in that session " +
            "(e.g. Import-Module VaeTools as the first line of the Start-Job script block) before its objects leave it.")));

    private static T Json<T>(string json) => JsonSerializer.Deserialize<T>(json) ?? throw new JsonException("empty");

    private static byte[] Bytes(ReadOnlySpan<float> values) => MemoryMarshal.AsBytes(values).ToArray();

    private static float[] FloatsOf(byte[] bytes, int count, string what)
    {
        if (bytes.Length != 4 * count) throw new ArgumentException($"{what} holds {bytes.Length / 4} values where {count} are needed.");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    private static int? ToInt(object? value) => value is null ? null : Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The values of the columns PREFIX1, PREFIX2, ... of a code (a code's flat columns, <see cref="LatentCode.Columns"/>).</summary>
    private static float[] Column(Func<string, object?> property, string prefix, Func<object?, object?> unwrap, string what)
    {
        var values = new List<float>();
        for (int k = 1; unwrap(property(prefix + k)) is { } v; k++)
            values.Add(Convert.ToSingle(v, System.Globalization.CultureInfo.InvariantCulture));
        if (values.Count == 0) throw new ArgumentException($"it has no {prefix}1 property (a code carries Z1..ZP, Mu1..MuP and LogVar1..LogVarP).");
        return values.ToArray();
    }
}

using VaeTools.Engine;

namespace VaeTools.IO;

/// <summary>
/// One named float32 tensor as stored in a safetensors file: a shape (outermost dimension first,
/// row-major, as NumPy and PyTorch see it) and its values. An empty shape is a scalar (one value);
/// a shape with a zero dimension holds no values.
/// </summary>
/// <param name="Name">The tensor's key in the file, e.g. "encoder.fc1.weight".</param>
/// <param name="Shape">Dimensions, each at least 0; their product must equal <paramref name="Data"/>.Length.</param>
/// <param name="Data">The values in row-major order (not copied).</param>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>A [rows x cols] tensor's values under <paramref name="name"/>, with shape [rows, cols]. The values are copied.</summary>
    public static SafeTensor FromTensor(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new SafeTensor(name, new[] { tensor.Rows, tensor.Cols }, tensor.ToArray());
    }

    /// <summary>
    /// A copy of the values as an engine <see cref="Tensor"/>: shape [r, c] gives [r x c], a vector [n] gives
    /// [1 x n] (the engine's bias layout), a scalar [] gives [1 x 1]. Higher ranks are refused.
    /// </summary>
    public Tensor ToTensor()
    {
        (int rows, int cols) = Shape.Length switch
        {
            0 => (1, 1),
            1 => (1, Shape[0]),
            2 => (Shape[0], Shape[1]),
            _ => throw new ShapeMismatchException(
                $"Tensor '{Name}' has shape {FormatShape(Shape)}; only scalars, vectors and matrices convert to an engine Tensor."),
        };
        if ((long)rows * cols != Data.Length)
            throw new ShapeMismatchException(
                $"Tensor '{Name}' has shape {FormatShape(Shape)} but holds {Data.Length} values.");
        return new Tensor(rows, cols, (float[])Data.Clone());
    }

    /// <summary>"[2, 3]", the form every shape message uses.</summary>
    public static string FormatShape(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";

    public override string ToString() => $"SafeTensor '{Name}' {FormatShape(Shape)}";
}

/// <summary>What <see cref="SafeTensorsFile.Read(string)"/> found in a file: its tensors and its metadata.</summary>
public sealed class SafeTensorsContent
{
    private readonly Dictionary<string, SafeTensor> _byName;

    internal SafeTensorsContent(string sourceName, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        SourceName = sourceName;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file (or stream name) the content was read from; used in error messages.</summary>
    public string SourceName { get; }

    /// <summary>The tensors in the order their bytes appear in the file.</summary>
    public IReadOnlyList<SafeTensor> Tensors { get; }

    /// <summary>The "__metadata__" string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/> (ordinal, case-sensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message lists the names the file does hold.</exception>
    public SafeTensor this[string name] =>
        _byName.TryGetValue(name, out var t)
            ? t
            : throw new KeyNotFoundException(
                $"'{SourceName}' has no tensor named '{name}'. It holds: " +
                (Tensors.Count == 0 ? "(no tensors)" : string.Join(", ", Tensors.Select(x => $"'{x.Name}'"))) + ".");

    /// <summary>Whether the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor called <paramref name="name"/>, if the file holds one.</summary>
    public bool TryGet(string name, out SafeTensor tensor) => _byName.TryGetValue(name, out tensor!);
}

/// <summary>
/// A model file that cannot be read: not a safetensors file, damaged, or holding something VaeTools cannot use.
/// The message names the file and says what is wrong. (An <see cref="IOException"/>: <see cref="InvalidDataException"/> is sealed.)
/// </summary>
public sealed class ModelFileException : IOException
{
    public ModelFileException(string fileName, string message, Exception? inner = null) : base(message, inner)
    {
        FileName = fileName;
    }

    /// <summary>The file (or stream name) that could not be read.</summary>
    public string FileName { get; }
}

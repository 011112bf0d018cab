using VaeTools.Engine;

namespace VaeTools.Data;

/// <summary>
/// A data set over an in-memory [N x F] float tensor (toy sets, data from PowerShell), with optional labels.
/// The tensor is not copied: do not change it while the data set is in use (it was checked to be finite
/// when the data set was made).
/// </summary>
public sealed class TensorDataset : IDataset
{
    private readonly int[]? _labels;
    private readonly string _description;

    /// <param name="data">[N x F] values, N &gt;= 1; every value must be finite.</param>
    /// <param name="labels">Optional labels, one non-negative int per row.</param>
    /// <param name="description">Optional description; default "tensor data (N x F)".</param>
    /// <exception cref="ArgumentException">NaN or infinity in <paramref name="data"/> (the message names row and column), or labels of the wrong length.</exception>
    public TensorDataset(Tensor data, int[]? labels = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Rows < 1 || data.Cols < 1)
            throw new ArgumentException($"A data set needs at least one row and one column; the tensor is {data.Shape}.", nameof(data));
        ReadOnlySpan<float> values = data.Span;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new ArgumentException(
                    $"The data tensor {data.Shape} holds {values[i]} at row {i / data.Cols}, column {i % data.Cols}; every value must be finite.",
                    nameof(data));
        }
        if (labels != null)
        {
            if (labels.Length != data.Rows)
                throw new ArgumentException($"{labels.Length} labels were given for {data.Rows} rows; there must be one label per row.", nameof(labels));
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] < 0)
                    throw new ArgumentException($"Label {i} is {labels[i]}; labels must be non-negative.", nameof(labels));
        }
        Data = data;
        _labels = labels;
        _description = description ?? $"tensor data ({data.Rows} x {data.Cols})";
    }

    /// <summary>
    /// The rows' image shape, or null (the default) when they are not images; its Size must equal <see cref="Features"/>.
    /// </summary>
    public ImageShape? ImageShape
    {
        get => _imageShape;
        init
        {
            if (value is not null && value.Size != Data.Cols)
                throw new ArgumentException($"Image shape {value} holds {value.Size} values, but the rows of the tensor {Data.Shape} hold {Data.Cols}.", nameof(ImageShape));
            _imageShape = value;
        }
    }

    private readonly ImageShape? _imageShape;

    /// <summary>The underlying [Count x Features] tensor.</summary>
    public Tensor Data { get; }

    /// <summary>True when labels were given.</summary>
    public bool HasLabels => _labels != null;

    public int Count => Data.Rows;

    public int Features => Data.Cols;

    public string Description => _description;

    /// <summary>The description, so that "$data" in PowerShell says what the data set is.</summary>
    public override string ToString() => Description;

    /// <summary>Copies rows <paramref name="indices"/> into <paramref name="destination"/>; <paramref name="random"/> is not used.</summary>
    public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
    {
        int f = Features;
        if (destination.Length < (long)indices.Length * f)
            throw new ArgumentException($"Copying {indices.Length} rows of {f} values needs {(long)indices.Length * f} floats but the destination holds {destination.Length}.", nameof(destination));
        for (int i = 0; i < indices.Length; i++)
        {
            int row = indices[i];
            if ((uint)row >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"indices[{i}] = {row} is outside the data set of {Count} rows.");
            Data.Row(row).CopyTo(destination.Slice(i * f, f));
        }
    }

    public int GetLabel(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"Row {index} is outside the data set of {Count} rows.");
        return _labels == null ? -1 : _labels[index];
    }
}

using System.Runtime.CompilerServices;

namespace VaeTools.Engine;

/// <summary>
/// A dense, row-major float32 matrix: the one tensor type of the engine.
/// Every value in a VAE is a matrix here: a batch of images is [batch x 784], a bias is [1 x n],
/// a scalar loss is [1 x 1]. The backing array may be larger than Rows*Cols so that a tensor
/// can be re-shaped for a smaller batch without reallocating (see <see cref="Resize"/>).
/// </summary>
public sealed class Tensor
{
    private float[] _data;

    public Tensor(int rows, int cols)
    {
        CheckDims(rows, cols);
        Rows = rows;
        Cols = cols;
        _data = new float[Math.Max(1, rows * cols)];
    }

    /// <summary>Wraps <paramref name="data"/> (not copied); its length must be at least rows*cols.</summary>
    public Tensor(int rows, int cols, float[] data)
    {
        CheckDims(rows, cols);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < rows * cols)
            throw new ArgumentException($"A [{rows} x {cols}] tensor needs {rows * cols} values but the array holds {data.Length}.", nameof(data));
        Rows = rows;
        Cols = cols;
        _data = data;
    }

    public int Rows { get; private set; }
    public int Cols { get; private set; }
    public int Length => Rows * Cols;

    /// <summary>The values, row-major, exactly Rows*Cols long.</summary>
    public Span<float> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_data, 0, Rows * Cols);
    }

    /// <summary>The backing array (its length is the capacity, at least Rows*Cols).</summary>
    public float[] Buffer => _data;

    public Span<float> Row(int r) => new(_data, r * Cols, Cols);

    public float this[int r, int c]
    {
        get => _data[r * Cols + c];
        set => _data[r * Cols + c] = value;
    }

    /// <summary>"[rows x cols]", the form every shape error uses.</summary>
    public string Shape => $"[{Rows} x {Cols}]";

    public override string ToString() => $"Tensor{Shape}";

    /// <summary>
    /// Changes the shape. The backing array is reallocated only when it is too small, so a
    /// tensor sized once for the largest batch never allocates again. Contents are not preserved
    /// when the array grows.
    /// </summary>
    public void Resize(int rows, int cols)
    {
        CheckDims(rows, cols);
        if (rows * cols > _data.Length) _data = new float[rows * cols];
        Rows = rows;
        Cols = cols;
    }

    public void Clear() => Span.Clear();

    public void Fill(float value) => Span.Fill(value);

    public Tensor Clone()
    {
        var t = new Tensor(Rows, Cols);
        Span.CopyTo(t.Span);
        return t;
    }

    public void CopyFrom(Tensor other)
    {
        if (other.Rows != Rows || other.Cols != Cols)
            throw new ShapeMismatchException($"Cannot copy a {other.Shape} tensor into a {Shape} tensor.");
        other.Span.CopyTo(Span);
    }

    public float[] ToArray() => Span.ToArray();

    /// <summary>A new [Cols x Rows] tensor holding the transpose.</summary>
    public Tensor Transpose()
    {
        var t = new Tensor(Cols, Rows);
        for (int r = 0; r < Rows; r++)
        for (int c = 0; c < Cols; c++)
            t._data[c * Rows + r] = _data[r * Cols + c];
        return t;
    }

    public static Tensor FromRows(float[][] rows)
    {
        if (rows.Length == 0) throw new ArgumentException("At least one row is needed.", nameof(rows));
        int cols = rows[0].Length;
        var t = new Tensor(rows.Length, cols);
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r].Length != cols)
                throw new ArgumentException($"Row {r} has {rows[r].Length} values; row 0 has {cols}.", nameof(rows));
            rows[r].CopyTo(t.Row(r));
        }
        return t;
    }

    private static void CheckDims(int rows, int cols)
    {
        if (rows < 0 || cols < 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Tensor dimensions must be non-negative; got [{rows} x {cols}].");
        if ((long)rows * cols > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rows), $"A [{rows} x {cols}] tensor is larger than one array can hold.");
    }
}

/// <summary>Thrown when an operation gets tensors whose shapes do not fit; the message names both shapes.</summary>
public sealed class ShapeMismatchException : ArgumentException
{
    public ShapeMismatchException(string message) : base(message) { }
}

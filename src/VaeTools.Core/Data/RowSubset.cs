using VaeTools.Engine;

namespace VaeTools.Data;

/// <summary>
/// A view of some rows of another data set (no pixels are copied): a chunk for streaming, or one class.
/// Row i of the view is row <c>Rows[i]</c> of the source; labels come along.
/// </summary>
public sealed class RowSubset : IDataset
{
    private readonly int[] _rows;

    /// <param name="source">The data set the rows come from.</param>
    /// <param name="rows">Source row numbers, each in [0, source.Count); not copied, do not change it.</param>
    /// <param name="description">Optional description; default "rows of SOURCE".</param>
    public RowSubset(IDataset source, int[] rows, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(rows);
        for (int i = 0; i < rows.Length; i++)
            if ((uint)rows[i] >= (uint)source.Count)
                throw new ArgumentOutOfRangeException(nameof(rows), $"rows[{i}] = {rows[i]} is outside {source.Description} ({source.Count} rows).");
        Source = source;
        _rows = rows;
        Description = description ?? $"{rows.Length} rows of {source.Description}";
    }

    /// <summary>A view of the consecutive rows [start, start + count).</summary>
    public static RowSubset Range(IDataset source, int start, int count)
    {
        var rows = new int[count];
        for (int i = 0; i < count; i++) rows[i] = start + i;
        return new RowSubset(source, rows, $"rows {start}..{start + count - 1} of {source.Description}");
    }

    /// <summary>The data set the rows come from.</summary>
    public IDataset Source { get; }

    /// <summary>Source row number of view row <paramref name="index"/>.</summary>
    public int SourceRow(int index) => _rows[index];

    public int Count => _rows.Length;
    public int Features => Source.Features;

    /// <summary>The source's image shape.</summary>
    public ImageShape? ImageShape => Source.ImageShape;
    public string Description { get; }

    public override string ToString() => Description;

    public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
    {
        // Map in small stack chunks so no allocation is needed.
        Span<int> mapped = stackalloc int[Math.Min(256, Math.Max(1, indices.Length))];
        int f = Features;
        for (int start = 0; start < indices.Length; start += mapped.Length)
        {
            int n = Math.Min(mapped.Length, indices.Length - start);
            for (int i = 0; i < n; i++)
            {
                int r = indices[start + i];
                if ((uint)r >= (uint)_rows.Length)
                    throw new ArgumentOutOfRangeException(nameof(indices), $"indices[{start + i}] = {r} is outside the view of {_rows.Length} rows.");
                mapped[i] = _rows[r];
            }
            Source.CopyRows(mapped[..n], destination.Slice(start * f, n * f), random);
        }
    }

    public int GetLabel(int index)
    {
        if ((uint)index >= (uint)_rows.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"Row {index} is outside the view of {_rows.Length} rows.");
        return Source.GetLabel(_rows[index]);
    }
}

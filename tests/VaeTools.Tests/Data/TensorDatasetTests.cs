using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.Tests.Data;

public class TensorDatasetTests
{
    [Fact]
    public void Copies_rows_in_any_order_and_gives_labels()
    {
        var t = Tensor.FromRows(new[] { new[] { 1f, 2f }, new[] { 3f, 4f }, new[] { 5f, 6f } });
        var ds = new TensorDataset(t, new[] { 7, 8, 9 });
        Assert.Equal((3, 2), (ds.Count, ds.Features));
        var dst = new float[6];
        ds.CopyRows(new[] { 2, 0, 2 }, dst, null);
        Assert.Equal(new[] { 5f, 6f, 1f, 2f, 5f, 6f }, dst);
        Assert.Equal(8, ds.GetLabel(1));
        Assert.Equal(-1, new TensorDataset(t).GetLabel(1));
        Assert.Equal("tensor data (3 x 2)", new TensorDataset(t).Description);
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.CopyRows(new[] { 3 }, dst, null));
        Assert.Throws<ArgumentException>(() => ds.CopyRows(new[] { 0, 1, 2, 0 }, dst, null));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_values_are_rejected_with_row_and_column(float bad)
    {
        var t = new Tensor(4, 3);
        t[2, 1] = bad;
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset(t));
        Assert.Contains("row 2, column 1", e.Message);
        Assert.Contains(bad.ToString(), e.Message);
        Assert.Equal("data", e.ParamName);
    }

    [Fact]
    public void Labels_must_match_rows()
    {
        var t = new Tensor(3, 2);
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset(t, new[] { 1, 2 }));
        Assert.Contains("2 labels", e.Message);
        Assert.Contains("3 rows", e.Message);
        Assert.Throws<ArgumentException>(() => new TensorDataset(t, new[] { 1, -2, 0 }));
        Assert.Throws<ArgumentException>(() => new TensorDataset(new Tensor(0, 2)));
    }
}

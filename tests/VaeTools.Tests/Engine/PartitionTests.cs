using VaeTools.Engine;

namespace VaeTools.Tests.Engine;

public class PartitionTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 3)]
    [InlineData(37, 2)]
    [InlineData(400, 2)]
    [InlineData(313600, 3)]
    [InlineData(5, 8)]
    public void Parts_cover_the_range_once_in_order_on_multiples_of_16(int length, int parts)
    {
        int next = 0;
        for (int p = 0; p < parts; p++)
        {
            var (start, end) = Partition.Range(length, p, parts);
            Assert.True(start <= end);
            if (end > start)
            {
                Assert.Equal(next, start);
                if (p > 0) Assert.Equal(0, start % 16);
                next = end;
            }
        }
        Assert.Equal(length, next);
    }
}

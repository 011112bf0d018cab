using VaeTools.Data;

namespace VaeTools.Tests.Data;

public class PixelConversionTests
{
    [Fact]
    public void Bytes_to_unit_is_exactly_pixel_over_255_for_every_byte()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(new byte[] { 255, 0, 128 }).ToArray(); // 259: a tail too
        var dst = new float[bytes.Length];
        PixelConversion.BytesToUnit(bytes, dst);
        for (int i = 0; i < bytes.Length; i++) Assert.Equal(bytes[i] / 255f, dst[i]);
    }

    [Fact]
    public void Bytes_to_unit_refuses_a_shorter_destination()
    {
        Assert.Throws<ArgumentException>(() => PixelConversion.BytesToUnit(new byte[4], new float[2]));
    }
}

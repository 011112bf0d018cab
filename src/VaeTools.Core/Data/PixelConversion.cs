using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VaeTools.Data;

/// <summary>Pixel conversions the data sets share: bytes as stored in the files to floats in [0, 1].</summary>
public static class PixelConversion
{
    /// <summary>dst[i] = src[i] / 255 (pixels to [0, 1], rounded as the division pixel / 255f).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BytesToUnit(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"The destination ({dst.Length}) is shorter than the source ({src.Length}).");
        ref byte rs = ref MemoryMarshal.GetReference(src);
        ref float rd = ref MemoryMarshal.GetReference(dst);
        int i = 0, n = src.Length;
        if (Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            var scale = Vector512.Create(255f);
            for (; i <= n - 16; i += 16)
            {
                var ints = System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref rs, (nuint)i));
                (System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512Single(ints) / scale).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref rd, i) = Unsafe.Add(ref rs, i) / 255f;
    }
}

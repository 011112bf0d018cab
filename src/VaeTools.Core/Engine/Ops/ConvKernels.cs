using System.Runtime.CompilerServices;
namespace VaeTools.Engine.Ops;

/// <summary>
/// The data movement of the convolutions: im2col (an image batch to a matrix of patches, so a convolution is one
/// GEMM), its adjoint col2im (patches summed back into images), and the permutation between a batch of images
/// [B x C*P] and the channel-major [C x B*P] a GEMM over the whole batch works in. P = H*W, one channel's pixels.
/// </summary>
/// <remarks>
/// The patch matrix for an image of C x H x W and a k x k kernel, stride s, padding p, on an output grid of
/// Gh x Gw is cols[C*k*k x B*Gh*Gw]: row (c, kh, kw), column (b, y, x) holds image[b, c, y*s - p + kh, x*s - p + kw],
/// zero where that lies in the padding. The loops run over one range of images [b0, b1); a range writes only its
/// own columns (im2col) or its own images (col2im), and every element is summed in the same order whatever the
/// ranges, so splitting over threads changes no bit.
/// </remarks>
internal static class ConvKernels
{
    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -(-a / b);
    private static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>The grid positions [lo, hi) whose tap <paramref name="tap"/> falls inside the image: 0 &lt;= g*s - p + tap &lt; size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Lo, int Hi) Inside(int grid, int size, int s, int p, int tap)
    {
        int lo = Math.Min(grid, Math.Max(0, CeilDiv(p - tap, s)));
        int hi = Math.Min(grid, FloorDiv(size - 1 + p - tap, s) + 1);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>
    /// cols[C*k*k x B*Gh*Gw] = patches of image[B x C*H*W], columns of images b0..b1-1 only (see the class remarks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Im2Col(ReadOnlySpan<float> image, int batch, int b0, int b1, int channels, int h, int w,
        int k, int s, int p, int gh, int gw, Span<float> cols)
    {
        int hw = h * w, grid = gh * gw, n = batch * grid;
        if (image.Length < batch * channels * hw || cols.Length < channels * k * k * n)
            throw new ArgumentException($"Im2Col: {image.Length} image values or {cols.Length} patch values are too few for {batch} images of {channels}x{h}x{w} on a {gh}x{gw} grid.");
        fixed (float* pImage = image, pCols = cols)
            for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++)
            {
                var (xLo, xHi) = Inside(gw, w, s, p, kw);
                float* row = pCols + (long)((c * k + kh) * k + kw) * n;
                for (int b = b0; b < b1; b++)
                {
                    float* src = pImage + (long)(b * channels + c) * hw;
                    float* d = row + (long)b * grid;
                    for (int y = 0; y < gh; y++, d += gw)
                    {
                        int ih = y * s - p + kh;
                        if ((uint)ih >= (uint)h) // the tap is in the top or bottom padding
                        {
                            for (int x = 0; x < gw; x++) d[x] = 0f;
                            continue;
                        }
                        float* srow = src + ih * w - p + kw; // pixel iw = x*s - p + kw is srow[x*s]
                        int x0 = 0;
                        for (; x0 < xLo; x0++) d[x0] = 0f;
                        if (s == 1) for (; x0 < xHi; x0++) d[x0] = srow[x0];
                        else for (; x0 < xHi; x0++) d[x0] = srow[x0 * s];
                        for (; x0 < gw; x0++) d[x0] = 0f;
                    }
                }
            }
    }

    /// <summary>
    /// image[B x C*H*W] += the adjoint of <see cref="Im2Col"/> applied to cols[C*k*k x B*Gh*Gw]: every patch entry is
    /// added back onto the pixel it was read from (padding entries are dropped). Images b0..b1-1 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Col2ImAdd(ReadOnlySpan<float> cols, int batch, int b0, int b1, int channels, int h, int w,
        int k, int s, int p, int gh, int gw, Span<float> image)
    {
        int hw = h * w, grid = gh * gw, n = batch * grid;
        if (image.Length < batch * channels * hw || cols.Length < channels * k * k * n)
            throw new ArgumentException($"Col2ImAdd: {image.Length} image values or {cols.Length} patch values are too few for {batch} images of {channels}x{h}x{w} on a {gh}x{gw} grid.");
        fixed (float* pImage = image, pCols = cols)
            for (int b = b0; b < b1; b++)
            for (int c = 0; c < channels; c++)
            {
                float* dst = pImage + (long)(b * channels + c) * hw;
                for (int kh = 0; kh < k; kh++)
                {
                    var (yLo, yHi) = Inside(gh, h, s, p, kh);
                    for (int kw = 0; kw < k; kw++)
                    {
                        var (xLo, xHi) = Inside(gw, w, s, p, kw);
                        float* src = pCols + (long)((c * k + kh) * k + kw) * n + (long)b * grid;
                        for (int y = yLo; y < yHi; y++)
                        {
                            float* srow = src + y * gw;
                            float* drow = dst + (y * s - p + kh) * w - p + kw; // pixel iw = x*s - p + kw is drow[x*s]
                            if (s == 1) for (int x = xLo; x < xHi; x++) drow[x] += srow[x];
                            else for (int x = xLo; x < xHi; x++) drow[x * s] += srow[x];
                        }
                    }
                }
            }
    }

    /// <summary>[B x C*P] -> [C x B*P]: channel c of image b lands in row c, columns b*P .. b*P+P-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToChannelMajor(ReadOnlySpan<float> images, int batch, int channels, int pixels, Span<float> dst)
    {
        int n = batch * pixels;
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++)
            images.Slice((b * channels + c) * pixels, pixels).CopyTo(dst.Slice(c * n + b * pixels, pixels));
    }

    /// <summary>images[B x C*P] = channelMajor[C x B*P] permuted back, plus bias[c] on channel c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromChannelMajorAddBias(ReadOnlySpan<float> channelMajor, ReadOnlySpan<float> bias, int batch, int channels, int pixels, Span<float> images)
    {
        int n = batch * pixels;
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++)
            Kernels.Map<Kernels.AddOp>(channelMajor.Slice(c * n + b * pixels, pixels), bias[c], images.Slice((b * channels + c) * pixels, pixels));
    }

    /// <summary>images[B x C*P] += channelMajor[C x B*P] permuted back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromChannelMajorAdd(ReadOnlySpan<float> channelMajor, int batch, int channels, int pixels, Span<float> images)
    {
        int n = batch * pixels;
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++)
            Kernels.AddInPlace(images.Slice((b * channels + c) * pixels, pixels), channelMajor.Slice(c * n + b * pixels, pixels));
    }

    /// <summary>db[c] += the sum of channel c over a batch of images [B x C*P], each channel summed in double in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddChannelSums(ReadOnlySpan<float> images, int batch, int channels, int pixels, Span<float> db)
    {
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int b = 0; b < batch; b++) sum += Kernels.SumDouble(images.Slice((b * channels + c) * pixels, pixels));
            db[c] += (float)sum;
        }
    }
}

/// <summary>
/// im2col or col2im over a whole batch, split over a pool's threads by ranges of images. Reused by its node, so a
/// run allocates nothing.
/// </summary>
internal sealed class PatchTask : IParallelTask
{
    /// <summary>Below this many patch entries (C*k*k * B*Gh*Gw) the copy runs on the calling thread alone.</summary>
    internal const long ParallelThreshold = 64 * 1024;

    private Tensor? _image, _cols;
    private bool _toCols;
    private int _batch, _channels, _h, _w, _k, _s, _p, _gh, _gw;

    /// <summary>cols = im2col(image) (<paramref name="toCols"/>) or image += col2im(cols), for images [B x C*H*W] on a Gh x Gw grid.</summary>
    public void Run(WorkerPool pool, bool toCols, Tensor image, Tensor cols, int batch, int channels, int h, int w, int k, int s, int p, int gh, int gw)
    {
        _image = image; _cols = cols; _toCols = toCols;
        _batch = batch; _channels = channels; _h = h; _w = w; _k = k; _s = s; _p = p; _gh = gh; _gw = gw;
        if (pool.Threads == 1 || batch < 2 || (long)channels * k * k * batch * gh * gw < ParallelThreshold) Execute(0, 1);
        else pool.Run(this);
        _image = _cols = null;
    }

    public void Execute(int part, int parts)
    {
        int b0 = (int)((long)_batch * part / parts), b1 = (int)((long)_batch * (part + 1) / parts);
        if (b0 == b1) return;
        if (_toCols)
            ConvKernels.Im2Col(_image!.Span, _batch, b0, b1, _channels, _h, _w, _k, _s, _p, _gh, _gw, _cols!.Span);
        else
            ConvKernels.Col2ImAdd(_cols!.Span, _batch, b0, b1, _channels, _h, _w, _k, _s, _p, _gh, _gw, _image!.Span);
    }
}

using System.Runtime.CompilerServices;
namespace VaeTools.Engine.Ops;

/// <summary>
/// torch.nn.functional.conv2d over a batch, as im2col and one GEMM for the whole batch.
/// Shapes: X [B x Cin*H*W] (each row an image, channel-major), W [Cout x Cin*k*k] (PyTorch's [Cout, Cin, k, k]),
/// bias [1 x Cout], Y [B x Cout*Ho*Wo]. With K = Cin*k*k, P = Ho*Wo and N = B*P:
/// <code>
/// forward:  cols[K x N] = im2col(X);  Yc[Cout x N] = W · cols;  Y = permute(Yc) + bias
/// backward: dYc[Cout x N] = permute(dY);  dW[Cout x K] += dYc · cols^T;  db += row sums of dYc;
///           dcols[K x N] = W^T · dYc;  dX += col2im(dcols)
/// </code>
/// Buffers (cols, Yc and, for backward, dYc and dcols) are sized with the batch on the first pass and only grow.
/// </summary>
public sealed class Conv2dNode : Node
{
    private readonly Tensor _cols = new(0, 0), _yc = new(0, 0);
    private Tensor? _dyc, _dcols;
    private readonly PatchTask _patches = new();

    internal Conv2dNode(Graph g, Node x, Node weight, Node bias, ConvGeometry geometry) : base(g, "Conv2d", x, weight, bias)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        geometry.Validate(transposed: false);
        Geometry = geometry;
    }

    public ConvGeometry Geometry { get; }

    private Node X => Inputs[0];
    private Node W => Inputs[1];
    private Node Bias => Inputs[2];
    private int PatchRows => Geometry.InChannels * Geometry.Kernel * Geometry.Kernel;
    private int Pixels => Geometry.ConvOutHeight * Geometry.ConvOutWidth;

    protected internal override (int Rows, int Cols) InferShape()
    {
        var g = Geometry;
        if (X.Cols != g.InFeatures)
            throw Mismatch($"the input {X.Value.Shape} has {X.Cols} features per row but {g.InChannels}x{g.Height}x{g.Width} images have {g.InFeatures}.");
        if (W.Rows != g.OutChannels || W.Cols != PatchRows)
            throw Mismatch($"the weight {W.Value.Shape} does not fit; expected [{g.OutChannels} x {PatchRows}] ([Cout x Cin*k*k], PyTorch's [{g.OutChannels}, {g.InChannels}, {g.Kernel}, {g.Kernel}]).");
        if (Bias.Rows != 1 || Bias.Cols != g.OutChannels)
            throw Mismatch($"the bias {Bias.Value.Shape} does not fit; expected [1 x {g.OutChannels}].");
        return (X.Rows, g.OutChannels * Pixels);
    }

    internal override void Prepare()
    {
        base.Prepare();
        int n = X.Rows * Pixels;
        _cols.Resize(PatchRows, n);
        _yc.Resize(Geometry.OutChannels, n);
    }

    internal override void PrepareGrad()
    {
        base.PrepareGrad();
        int n = X.Rows * Pixels;
        (_dyc ??= new Tensor(0, 0)).Resize(Geometry.OutChannels, n);
        if (X.RequiresGrad) (_dcols ??= new Tensor(0, 0)).Resize(PatchRows, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        var g = Geometry;
        int batch = X.Rows, k = PatchRows, n = batch * Pixels;
        // cols[K x N] = im2col(X)
        _patches.Run(Graph.Pool, toCols: true, X.Value, _cols, batch, g.InChannels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.ConvOutHeight, g.ConvOutWidth);
        // Yc[Cout x N] = W[Cout x K] · cols[K x N]
        Gemm.Multiply(false, false, g.OutChannels, n, k, W.Value.Span, k, _cols.Span, n, _yc.Span, n, accumulate: false, Graph.Pool);
        // Y[B x Cout*P] = permute(Yc) + bias
        ConvKernels.FromChannelMajorAddBias(_yc.Span, Bias.Value.Span, batch, g.OutChannels, Pixels, Value.Span);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        var g = Geometry;
        int batch = X.Rows, k = PatchRows, n = batch * Pixels, cout = g.OutChannels;
        // dYc[Cout x N] = permute(dY)
        ConvKernels.ToChannelMajor(Grad!.Span, batch, cout, Pixels, _dyc!.Span);
        if (Bias.RequiresGrad) ConvKernels.AddChannelSums(Grad!.Span, batch, cout, Pixels, GradOf(Bias));
        // dW[Cout x K] += dYc[Cout x N] · cols^T[N x K]
        if (W.RequiresGrad)
            Gemm.Multiply(false, true, cout, k, n, _dyc.Span, n, _cols.Span, n, W.Grad!.Span, k, AccumulateInto(W), Graph.Pool);
        if (X.RequiresGrad)
        {
            // dcols[K x N] = W^T[K x Cout] · dYc[Cout x N];  dX += col2im(dcols)
            Gemm.Multiply(true, false, k, n, cout, W.Value.Span, k, _dyc.Span, n, _dcols!.Span, n, accumulate: false, Graph.Pool);
            GradOf(X);
            _patches.Run(Graph.Pool, toCols: false, X.Grad!, _dcols, batch, g.InChannels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.ConvOutHeight, g.ConvOutWidth);
        }
    }
}

/// <summary>
/// torch.nn.functional.conv_transpose2d over a batch: the adjoint (with respect to its input) of a Conv2d whose weight
/// is this op's weight, computed as one GEMM for the whole batch and col2im.
/// Shapes: X [B x Cin*H*W], W [Cin x Cout*k*k] (PyTorch's [Cin, Cout, k, k]), bias [1 x Cout],
/// Y [B x Cout*Ho*Wo] with Ho = (H-1)s - 2p + k + output padding. With K = Cout*k*k and N = B*H*W:
/// <code>
/// forward:  Xc[Cin x N] = permute(X);  cols[K x N] = W^T · Xc;  Y = bias + col2im(cols)   (a Ho x Wo image, H x W grid)
/// backward: dcols[K x N] = im2col(dY);  dXc[Cin x N] = W · dcols;  dX += permute(dXc);
///           dW[Cin x K] += Xc · dcols^T;  db += channel sums of dY
/// </code>
/// Buffers (Xc, cols and, for backward, dcols and dXc) are sized with the batch on the first pass and only grow.
/// </summary>
public sealed class ConvTranspose2dNode : Node
{
    private readonly Tensor _xc = new(0, 0), _cols = new(0, 0);
    private Tensor? _dcols, _dxc;
    private readonly PatchTask _patches = new();

    internal ConvTranspose2dNode(Graph g, Node x, Node weight, Node bias, ConvGeometry geometry) : base(g, "ConvTranspose2d", x, weight, bias)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        geometry.Validate(transposed: true);
        Geometry = geometry;
    }

    public ConvGeometry Geometry { get; }

    private Node X => Inputs[0];
    private Node W => Inputs[1];
    private Node Bias => Inputs[2];
    private int PatchRows => Geometry.OutChannels * Geometry.Kernel * Geometry.Kernel;
    private int InPixels => Geometry.Height * Geometry.Width;
    private int OutPixels => Geometry.TransposedOutHeight * Geometry.TransposedOutWidth;

    protected internal override (int Rows, int Cols) InferShape()
    {
        var g = Geometry;
        if (X.Cols != g.InFeatures)
            throw Mismatch($"the input {X.Value.Shape} has {X.Cols} features per row but {g.InChannels}x{g.Height}x{g.Width} images have {g.InFeatures}.");
        if (W.Rows != g.InChannels || W.Cols != PatchRows)
            throw Mismatch($"the weight {W.Value.Shape} does not fit; expected [{g.InChannels} x {PatchRows}] ([Cin x Cout*k*k], PyTorch's [{g.InChannels}, {g.OutChannels}, {g.Kernel}, {g.Kernel}]).");
        if (Bias.Rows != 1 || Bias.Cols != g.OutChannels)
            throw Mismatch($"the bias {Bias.Value.Shape} does not fit; expected [1 x {g.OutChannels}].");
        return (X.Rows, g.OutChannels * OutPixels);
    }

    internal override void Prepare()
    {
        base.Prepare();
        int n = X.Rows * InPixels;
        _xc.Resize(Geometry.InChannels, n);
        _cols.Resize(PatchRows, n);
    }

    internal override void PrepareGrad()
    {
        base.PrepareGrad();
        int n = X.Rows * InPixels;
        (_dcols ??= new Tensor(0, 0)).Resize(PatchRows, n);
        if (X.RequiresGrad) (_dxc ??= new Tensor(0, 0)).Resize(Geometry.InChannels, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        var g = Geometry;
        int batch = X.Rows, k = PatchRows, n = batch * InPixels, cin = g.InChannels, cout = g.OutChannels;
        // Xc[Cin x N] = permute(X)
        ConvKernels.ToChannelMajor(X.Value.Span, batch, cin, InPixels, _xc.Span);
        // cols[K x N] = W^T[K x Cin] · Xc[Cin x N]
        Gemm.Multiply(true, false, k, n, cin, W.Value.Span, k, _xc.Span, n, _cols.Span, n, accumulate: false, Graph.Pool);
        // Y[B x Cout*Ho*Wo] = bias + col2im(cols)
        var y = Value.Span;
        var bias = Bias.Value.Span;
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < cout; c++)
            y.Slice((b * cout + c) * OutPixels, OutPixels).Fill(bias[c]);
        _patches.Run(Graph.Pool, toCols: false, Value, _cols, batch, cout, g.TransposedOutHeight, g.TransposedOutWidth, g.Kernel, g.Stride, g.Padding, g.Height, g.Width);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        var g = Geometry;
        int batch = X.Rows, k = PatchRows, n = batch * InPixels, cin = g.InChannels, cout = g.OutChannels;
        // dcols[K x N] = im2col(dY)
        _patches.Run(Graph.Pool, toCols: true, Grad!, _dcols!, batch, cout, g.TransposedOutHeight, g.TransposedOutWidth, g.Kernel, g.Stride, g.Padding, g.Height, g.Width);
        if (Bias.RequiresGrad) ConvKernels.AddChannelSums(Grad!.Span, batch, cout, OutPixels, GradOf(Bias));
        // dW[Cin x K] += Xc[Cin x N] · dcols^T[N x K]
        if (W.RequiresGrad)
            Gemm.Multiply(false, true, cin, k, n, _xc.Span, n, _dcols!.Span, n, W.Grad!.Span, k, AccumulateInto(W), Graph.Pool);
        if (X.RequiresGrad)
        {
            // dXc[Cin x N] = W[Cin x K] · dcols[K x N];  dX += permute(dXc)
            Gemm.Multiply(false, false, cin, n, k, W.Value.Span, k, _dcols!.Span, n, _dxc!.Span, n, accumulate: false, Graph.Pool);
            ConvKernels.FromChannelMajorAdd(_dxc.Span, batch, cin, InPixels, GradOf(X));
        }
    }
}

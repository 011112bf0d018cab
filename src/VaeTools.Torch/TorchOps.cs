using Tensor = TorchSharp.torch.Tensor;
using TorchSharp;
using VaeTools.Engine;
using VaeTools.Engine.Ops;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace VaeTools.Torch;

/// <summary>
/// The Torch engine's side of the seam (<see cref="IVaeOps{T}"/>): each call executes the TorchSharp op at once on the
/// module's device, and libtorch's autograd records it. Layers are the <see cref="TorchVaeModule"/>'s nn.Linear modules.
/// Noise comes from a VaeTools <see cref="RandomSource"/> (drawn on the CPU, copied to the device), so that the same
/// seed gives the same eps on both engines. Callers wrap a step in a dispose scope.
/// </summary>
public sealed class TorchOps : IVaeOps<Tensor>
{
    private readonly TorchVaeModule _module;
    private readonly Device _device;

    public TorchOps(TorchVaeModule module, RandomSource random)
    {
        _module = module;
        _device = module.Device;
        Random = random;
    }

    /// <summary>Where the noise comes from.</summary>
    public RandomSource Random { get; set; }

    /// <summary>Tests: when set, supplies the noise instead of <see cref="Random"/> (kind, rows, cols) -> values.</summary>
    public Func<NoiseKind, int, int, float[]>? NoiseOverride { get; set; }

    public Tensor Linear(Tensor x, string layer) => _module.Layer(layer).call(x);
    // The module's nn.Conv2d / nn.ConvTranspose2d weights, applied through torch.nn.functional with the seam's geometry.
    public Tensor Conv2d(Tensor x, string layer, ConvGeometry g)
    {
        var conv = _module.Conv(layer);
        return Conv2d(x, conv.weight!, conv.bias!, g);
    }

    public Tensor ConvTranspose2d(Tensor x, string layer, ConvGeometry g)
    {
        var deconv = _module.Deconv(layer);
        return ConvTranspose2d(x, deconv.weight!, deconv.bias!, g);
    }

    /// <summary>F.conv2d on [B x Cin*H*W] rows: viewed as NCHW, convolved, flattened back to [B x Cout*Ho*Wo].</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor bias, ConvGeometry g)
    {
        var y = F.conv2d(x.reshape(-1, g.InChannels, g.Height, g.Width), weight.reshape(g.OutChannels, g.InChannels, g.Kernel, g.Kernel),
            bias.reshape(-1), strides: new long[] { g.Stride, g.Stride }, padding: new long[] { g.Padding, g.Padding });
        return y.reshape(y.shape[0], -1);
    }

    /// <summary>F.conv_transpose2d on [B x Cin*H*W] rows: viewed as NCHW, flattened back to [B x Cout*Ho*Wo].</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor bias, ConvGeometry g)
    {
        var y = F.conv_transpose2d(x.reshape(-1, g.InChannels, g.Height, g.Width), weight.reshape(g.InChannels, g.OutChannels, g.Kernel, g.Kernel),
            bias.reshape(-1), strides: new long[] { g.Stride, g.Stride }, padding: new long[] { g.Padding, g.Padding },
            output_padding: new long[] { g.OutputPadding, g.OutputPadding });
        return y.reshape(y.shape[0], -1);
    }

    public Tensor Parameter(string name) => _module.GetParameter(name);
    public Tensor Constant(string name, int rows, int cols, float value) => full(rows, cols, value, dtype: float32, device: _device);
    public bool IsScalar(Tensor x) => x.numel() == 1;

    public Tensor Relu(Tensor x) => F.relu(x);
    public Tensor LeakyRelu(Tensor x, float slope) => F.leaky_relu(x, slope);
    public Tensor Tanh(Tensor x) => x.tanh();
    public Tensor Elu(Tensor x) => F.elu(x, 1.0);
    public Tensor Softplus(Tensor x) => F.softplus(x);
    public Tensor Sigmoid(Tensor x) => x.sigmoid();
    public Tensor Exp(Tensor x) => x.exp();
    public Tensor Square(Tensor x) => x.square();
    public Tensor Abs(Tensor x) => x.abs();
    public Tensor Negate(Tensor x) => x.neg();
    public Tensor Scale(Tensor x, float factor) => x.mul(factor);
    public Tensor AddScalar(Tensor x, float addend) => x.add(addend);
    public Tensor Add(Tensor a, Tensor b) => a.add(b);
    public Tensor Subtract(Tensor a, Tensor b) => a.sub(b);
    public Tensor Multiply(Tensor a, Tensor b) => a.mul(b);

    public Tensor Sum(Tensor x, Axis axis) => axis switch
    {
        Axis.Rows => x.sum(0, keepdim: true),
        Axis.Columns => x.sum(1, keepdim: true),
        _ => x.sum().reshape(1, 1),
    };

    public Tensor Mean(Tensor x) => x.mean().reshape(1, 1);

    public Tensor LogSumExp(Tensor x, Axis axis) => axis switch
    {
        Axis.Rows => x.logsumexp(0, keepdim: true),
        Axis.Columns => x.logsumexp(1, keepdim: true),
        _ => x.reshape(-1).logsumexp(0, keepdim: false).reshape(1, 1),
    };

    public Tensor ColumnSlice(Tensor x, int start, int count) => x.narrow(1, start, count);
    public Tensor Reshape(Tensor x, int rows, int cols) => x.reshape(rows, cols);
    public Tensor RepeatRows(Tensor x, int times) => x.repeat(times, 1);
    public Tensor MatMulTransposeB(Tensor a, Tensor b) => a.matmul(b.t());

    // sum_d x l - softplus(l)
    // t l - softplus(l), through libtorch's fused binary_cross_entropy_with_logits (one kernel forward and one backward
    // instead of mul, softplus, sub); the plain TorchSharp loop the benchmark compares with uses it too
    public Tensor BernoulliLogLikelihood(Tensor logits, Tensor targets) =>
        F.binary_cross_entropy_with_logits(logits, targets, reduction: nn.Reduction.None).sum(1, keepdim: true).neg();

    // -1/2 sum_d (log 2pi + v + (x - m)^2 e^{-v}); v broadcast to [B x D] before the sum, so a shared v counts once per pixel
    public Tensor GaussianLogDensity(Tensor x, Tensor mean, Tensor logVariance)
    {
        long d = x.shape[1];
        var perPixel = x.sub(mean).square().mul(logVariance.neg().exp()).add(logVariance);
        if (perPixel.shape[1] != d) perPixel = perPixel.expand(x.shape[0], d);
        return perPixel.sum(1, keepdim: true).add(d * VaeTools.Model.VaeMath<Tensor>.Log2Pi).mul(-0.5);
    }

    // 1/2 sum_d (e^v + mu^2 - 1 - v)
    public Tensor KlStandardNormal(Tensor mean, Tensor logVariance) =>
        logVariance.exp().add(mean.square()).sub(1.0).sub(logVariance).sum(1, keepdim: true).mul(0.5);

    public Tensor Normal(Tensor like, int cols) => Noise(NoiseKind.StandardNormal, (int)like.shape[0], cols, 1f);
    public Tensor Normal(int rows, int cols) => Noise(NoiseKind.StandardNormal, rows, cols, 1f);
    public Tensor Laplace(int rows, int cols, float tau) => Noise(NoiseKind.Laplace, rows, cols, tau);

    private float[] _noise = Array.Empty<float>();

    private Tensor Noise(NoiseKind kind, int rows, int cols, float tau)
    {
        float[] values;
        if (NoiseOverride is not null) values = NoiseOverride(kind, rows, cols);
        else
        {
            if (_noise.Length != rows * cols) _noise = new float[rows * cols];
            values = _noise;
            if (kind == NoiseKind.Laplace) Random.FillLaplace(values, tau);
            else Random.FillNormal(values);
        }
        return HostMemory.Upload(values, new long[] { rows, cols }, _device);
    }
}

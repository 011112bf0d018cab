using VaeTools.Engine.Ops;

namespace VaeTools.Engine;

/// <summary>
/// The engine seam: the differentiable operations the model and its objectives are written in (the vocabulary of
/// <see cref="Graph"/>'s ops), over an engine's own value type <typeparamref name="T"/>. Each engine brings its own
/// automatic differentiation. The managed engine (<see cref="GraphOps"/>) records the calls once into a static graph
/// and replays it every step; the Torch engine (VaeTools.Torch) executes each call on TorchSharp tensors with
/// libtorch's autograd. Shapes are [rows x cols]; B = batch. Layers and parameters are named as in the model file.
/// </summary>
public interface IVaeOps<T> where T : class
{
    /// <summary>The named linear layer (e.g. "encoder.hidden.0"): x W^T + b, x [B x in] -> [B x out].</summary>
    T Linear(T x, string layer);

    /// <summary>
    /// The named convolution (e.g. "encoder.conv.0"), torch.nn.Conv2d: x [B x Cin*H*W] (images channel-major, NCHW
    /// flattened) -> [B x Cout*Ho*Wo]. Its weight is PyTorch's [Cout, Cin, k, k], its bias [Cout].
    /// </summary>
    T Conv2d(T x, string layer, ConvGeometry geometry);

    /// <summary>
    /// The named transposed convolution (e.g. "decoder.deconv.0"), torch.nn.ConvTranspose2d: x [B x Cin*H*W] ->
    /// [B x Cout*Ho*Wo], Ho = (H - 1) s - 2p + k + output padding. Its weight is PyTorch's [Cin, Cout, k, k], its bias [Cout].
    /// </summary>
    T ConvTranspose2d(T x, string layer, ConvGeometry geometry);

    /// <summary>A named trainable parameter other than a layer's (e.g. "decoder.logvar").</summary>
    T Parameter(string name);

    /// <summary>A fixed [rows x cols] tensor filled with <paramref name="value"/>.</summary>
    T Constant(string name, int rows, int cols, float value);

    /// <summary>True when x is known to be a single value [1 x 1] (a scalar parameter or constant).</summary>
    bool IsScalar(T x);

    T Relu(T x);
    T LeakyRelu(T x, float slope);
    T Tanh(T x);
    T Elu(T x);
    T Softplus(T x);
    T Sigmoid(T x);
    T Exp(T x);
    T Square(T x);
    T Abs(T x);
    T Negate(T x);
    T Scale(T x, float factor);
    T AddScalar(T x, float addend);

    /// <summary>a + b; b may be the same shape, a row [1 x c], a column [r x 1] or a scalar [1 x 1] (likewise below).</summary>
    T Add(T a, T b);
    T Subtract(T a, T b);
    T Multiply(T a, T b);

    T Sum(T x, Axis axis);
    /// <summary>The mean of every element, [1 x 1].</summary>
    T Mean(T x);
    T LogSumExp(T x, Axis axis);

    T ColumnSlice(T x, int start, int count);
    /// <summary>Row-major reshape; one of rows, cols may be -1.</summary>
    T Reshape(T x, int rows, int cols);
    /// <summary>x stacked <paramref name="times"/> times along the rows: [B x c] -> [times*B x c].</summary>
    T RepeatRows(T x, int times);
    /// <summary>a · b^T: [m x k], [n x k] -> [m x n].</summary>
    T MatMulTransposeB(T a, T b);

    /// <summary>Per-row Bernoulli log-likelihood of targets under logits: [B x D], [B x D] -> [B x 1].</summary>
    T BernoulliLogLikelihood(T logits, T targets);
    /// <summary>Per-row log N(x; mean, e^logVariance), logVariance [B x D], [1 x D] or [1 x 1]: -> [B x 1].</summary>
    T GaussianLogDensity(T x, T mean, T logVariance);
    /// <summary>Per-row KL(N(mean, e^logVariance) || N(0, I)): -> [B x 1].</summary>
    T KlStandardNormal(T mean, T logVariance);

    /// <summary>N(0, 1) noise [like.Rows x cols], fresh at every step.</summary>
    T Normal(T like, int cols);
    /// <summary>N(0, 1) noise of a fixed shape, fresh at every step.</summary>
    T Normal(int rows, int cols);
    /// <summary>Laplace(0, tau) noise of a fixed shape, fresh at every step.</summary>
    T Laplace(int rows, int cols, float tau);
}

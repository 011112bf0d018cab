using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.TestSupport;

/// <summary>
/// Independent float64 reference computations for the toolkit tests: they read the model's weights and
/// redo the arithmetic with plain loops, so they share no code with the graph operations under test.
/// </summary>
internal static class Reference
{
    public static readonly double Log2Pi = Math.Log(2 * Math.PI);

    /// <summary>One linear layer in float64: x [in] -> W x + b [out], whatever the weight's stored layout.</summary>
    public static double[] Linear(LinearLayer layer, double[] x)
    {
        var w = layer.Weight.Value;
        var b = layer.Bias.Value;
        var y = new double[layer.Out];
        for (int o = 0; o < layer.Out; o++)
        {
            double s = b[0, o];
            for (int i = 0; i < layer.In; i++) s += (layer.InputMajor ? w[i, o] : w[o, i]) * x[i];
            y[o] = s;
        }
        return y;
    }

    public static double Activate(Activation a, double v, double leakySlope = 0.01) => a switch
    {
        Activation.Relu => Math.Max(0, v),
        Activation.LeakyRelu => v > 0 ? v : leakySlope * v,
        Activation.Tanh => Math.Tanh(v),
        Activation.Elu => v > 0 ? v : Math.Exp(v) - 1,
        Activation.Softplus => Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v))),
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    /// <summary>The decoder's raw last-layer output for one code z, in float64 (width D, or 2D for per-dimension variance).</summary>
    public static double[] DecoderOutput(VaeModel model, ReadOnlySpan<float> z)
    {
        var h = new double[z.Length];
        for (int i = 0; i < z.Length; i++) h[i] = z[i];
        foreach (var layer in model.DecoderHidden)
        {
            h = Linear(layer, h);
            for (int i = 0; i < h.Length; i++) h[i] = Activate(model.Config.Activation, h[i], model.Config.LeakySlope);
        }
        return Linear(model.DecoderOutput, h);
    }

    /// <summary>The encoder's (mu, log sigma^2) for one image, in float64.</summary>
    public static (double[] Mean, double[] LogVariance) Encode(VaeModel model, ReadOnlySpan<float> x)
    {
        var h = new double[x.Length];
        for (int i = 0; i < x.Length; i++) h[i] = x[i];
        foreach (var layer in model.EncoderHidden)
        {
            h = Linear(layer, h);
            for (int i = 0; i < h.Length; i++) h[i] = Activate(model.Config.Activation, h[i], model.Config.LeakySlope);
        }
        return (Linear(model.EncoderMean!, h), Linear(model.EncoderLogVariance!, h));
    }

    public static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>log N(x; m, s^2) for one value, from the textbook density: -1/2 log 2pi - log s - (x - m)^2 / (2 s^2).</summary>
    public static double GaussianLogPdf(double x, double m, double s) =>
        -0.5 * Log2Pi - Math.Log(s) - (x - m) * (x - m) / (2 * s * s);

    /// <summary>log p(x | z) for one image from the decoder's raw output, per the spec's four likelihoods.</summary>
    public static double LogLikelihood(VaeModel model, double[] output, ReadOnlySpan<float> x)
    {
        var c = model.Config;
        int d = c.InputDim;
        double s = 0;
        for (int j = 0; j < d; j++)
        {
            switch (c.Likelihood)
            {
                case Likelihood.Bernoulli:
                    double p = Sigmoid(output[j]);
                    s += x[j] * Math.Log(p) + (1 - x[j]) * Math.Log(1 - p);
                    break;
                case Likelihood.GaussianUnitVariance:
                    s += GaussianLogPdf(x[j], c.SigmoidMean ? Sigmoid(output[j]) : output[j], 1);
                    break;
                case Likelihood.GaussianSharedVariance:
                    s += GaussianLogPdf(x[j], c.SigmoidMean ? Sigmoid(output[j]) : output[j], Math.Sqrt(Math.Exp(model.DecoderLogVariance!.Value[0, 0])));
                    break;
                case Likelihood.GaussianPerDimensionVariance: // output = [mean (D) | log std (D)]
                    s += GaussianLogPdf(x[j], c.SigmoidMean ? Sigmoid(output[j]) : output[j], Math.Exp(output[d + j]));
                    break;
            }
        }
        return s;
    }

    public static double LogMeanExp(IReadOnlyList<double> values)
    {
        double m = values.Max();
        return m + Math.Log(values.Sum(v => Math.Exp(v - m)) / values.Count);
    }

    public static double Mean(IEnumerable<double> values) => values.Average();

    /// <summary>Sample variance (n - 1).</summary>
    public static double Variance(IReadOnlyList<double> values)
    {
        double m = values.Average();
        return values.Sum(v => (v - m) * (v - m)) / (values.Count - 1);
    }

    /// <summary>Mean over images of sum over pixels of (x - decode(mu(x)))^2, computed from Encode and Decode.</summary>
    public static double SquaredError(VaeModel model, TensorDataset data)
    {
        var recon = model.Decode(model.Encode(data).Mean);
        double s = 0;
        for (int i = 0; i < data.Count; i++)
        for (int j = 0; j < data.Features; j++)
        {
            double diff = data.Data[i, j] - recon[i, j];
            s += diff * diff;
        }
        return s / data.Count;
    }
}

/// <summary>Real MNIST images as in-memory tensors (grey levels in [0, 1]).</summary>
internal static class Mnist
{
    public static TensorDataset Train(int count, int skip = 0) => Load(MnistSubset.Train, count, skip);
    public static TensorDataset Test(int count, int skip = 0) => Load(MnistSubset.Test, count, skip);

    private static TensorDataset Load(MnistSubset subset, int count, int skip)
    {
        var all = MnistDataset.Load(new MnistLoadOptions { Subset = subset, Count = skip + count });
        var t = new Tensor(count, all.Features);
        var rows = Enumerable.Range(skip, count).ToArray();
        all.CopyRows(rows, t.Span, random: null);
        return new TensorDataset(t, rows.Select(all.GetLabel).ToArray(), $"MNIST {subset} images {skip}..{skip + count - 1}");
    }
}

/// <summary>
/// The normal draws of <see cref="RandomSource.FillNormal"/> replayed in float64 from the same 64-bit draws: one draw
/// per pair, u1 = 1 - (top 24 bits) 2^-24, u2 = (bits 8..31) 2^-24, the cosine value first and the sine second.
/// Matches FillNormal calls of even length (a pair never spans two calls), which is what the graphs make.
/// </summary>
internal sealed class NormalReplay(RandomSource random)
{
    private double? _sine;

    public double Next()
    {
        if (_sine is { } s)
        {
            _sine = null;
            return s;
        }
        ulong bits = random.NextUInt64();
        double u1 = 1 - (bits >> 40) / (double)(1 << 24), u2 = ((bits >> 8) & 0xFFFFFF) / (double)(1 << 24);
        double r = Math.Sqrt(-2 * Math.Log(u1));
        _sine = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }
}

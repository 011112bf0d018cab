namespace VaeTools.Engine;

/// <summary>How a linear layer's weights and bias start.</summary>
public static class Init
{
    /// <summary>
    /// PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in)
    /// (kaiming_uniform with a = sqrt(5) works out to exactly this bound for the weight).
    /// Weight is [out x in], so fan_in = weight.Cols unless <paramref name="fanIn"/> says otherwise
    /// (an input-major [in x out] weight has fan_in = weight.Rows).
    /// </summary>
    public static void PyTorchDefault(Tensor weight, Tensor bias, RandomSource random, int? fanIn = null)
    {
        float bound = 1f / MathF.Sqrt(fanIn ?? weight.Cols);
        random.FillUniform(weight.Span, -bound, bound);
        random.FillUniform(bias.Span, -bound, bound);
    }

    /// <summary>Weights N(0, std^2), biases zero.</summary>
    public static void Normal(Tensor weight, Tensor bias, float std, RandomSource random)
    {
        if (!(std > 0) || !float.IsFinite(std)) throw new ArgumentOutOfRangeException(nameof(std), std, "The standard deviation must be a positive finite number.");
        random.FillNormal(weight.Span, 0f, std);
        bias.Clear();
    }
}

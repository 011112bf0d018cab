using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace VaeTools.Engine.Ops;

/// <summary>
/// Bernoulli log-likelihood from logits, summed per row:
/// y[r] = sum_d x[r,d] l[r,d] - softplus(l[r,d])   ([B x D], [B x D] -> [B x 1]).
/// Fused and stable: with e = exp(-|l|), softplus(l) = max(l, 0) + log(1 + e) and sigmoid(l) = (l >= 0 ? 1 : e) / (1 + e),
/// so one exp and one log per element give both the value and (kept for backward) the sigmoid. Never clamps.
/// x may be any value in [0, 1].
/// Backward: dl = dy (x - sigmoid(l)); dx = dy l.
/// </summary>
public sealed class BernoulliLogLikelihoodNode : Node
{
    private readonly Tensor _sigmoid = new(0, 0);

    internal BernoulliLogLikelihoodNode(Graph g, Node logits, Node target) : base(g, "BernoulliLogLikelihood", logits, target) { }

    private Node Logits => Inputs[0];
    private Node Target => Inputs[1];

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (Logits.Rows != Target.Rows || Logits.Cols != Target.Cols)
            throw Mismatch($"logits {Logits.Value.Shape} and targets {Target.Value.Shape} must have the same shape.");
        return (Logits.Rows, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        int d = Logits.Cols;
        _sigmoid.Resize(Logits.Rows, d);
        ReadOnlySpan<float> l = Logits.Value.Span, x = Target.Value.Span;
        var sig = _sigmoid.Span;
        var y = Value.Span;
        for (int r = 0; r < Rows; r++)
            y[r] = FastMath.BernoulliRow(x.Slice(r * d, d), l.Slice(r * d, d), sig.Slice(r * d, d));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        int d = Logits.Cols;
        ReadOnlySpan<float> l = Logits.Value.Span, x = Target.Value.Span, dy = Grad!.Span, sig = _sigmoid.Span;
        var dLogits = Logits.RequiresGrad ? GradOf(Logits) : default;
        var dTarget = Target.RequiresGrad ? GradOf(Target) : default;
        for (int r = 0; r < Rows; r++)
        {
            if (Logits.RequiresGrad) // dl += dy (x - sigmoid(l))
                Kernels.AddScaledDifference(x.Slice(r * d, d), sig.Slice(r * d, d), dy[r], dLogits.Slice(r * d, d));
            if (Target.RequiresGrad)
            {
                var dx = dTarget.Slice(r * d, d);
                Kernels.MultiplyAdd(l.Slice(r * d, d), dy[r], dx);
            }
        }
    }
}

/// <summary>
/// Gaussian log-density summed per row:
/// y[r] = sum_d -1/2 (log 2pi + v[r,d] + (x[r,d] - m[r,d])^2 e^{-v[r,d]}), v = log sigma^2.
/// x and m are [B x D]; the log-variance is [B x D], a row [1 x D] shared by all rows, or a
/// scalar [1 x 1] shared by every pixel (the learned shared variance). Output [B x 1].
/// Backward: dm = dy (x - m) e^{-v}; dx = -dm; dv = dy (-1/2 + 1/2 (x - m)^2 e^{-v}).
/// </summary>
public sealed class GaussianLogDensityNode : Node
{
    public static readonly double Log2Pi = Math.Log(2 * Math.PI);

    internal GaussianLogDensityNode(Graph g, Node x, Node mean, Node logVariance) : base(g, "GaussianLogDensity", x, mean, logVariance) { }

    private Node X => Inputs[0];
    private Node M => Inputs[1];
    private Node V => Inputs[2];

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (X.Rows != M.Rows || X.Cols != M.Cols)
            throw Mismatch($"values {X.Value.Shape} and means {M.Value.Shape} must have the same shape.");
        bool vOk = (V.Rows == X.Rows || V.Rows == 1) && (V.Cols == X.Cols || V.Cols == 1);
        if (!vOk)
            throw Mismatch($"the log-variance {V.Value.Shape} must be {X.Value.Shape}, [1 x {X.Cols}], [{X.Rows} x 1] or [1 x 1].");
        return (X.Rows, 1);
    }

    private int VIndex(int r, int c) => (V.Rows == 1 ? 0 : r) * V.Cols + (V.Cols == 1 ? 0 : c);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> x = X.Value.Span, m = M.Value.Span, v = V.Value.Span;
        int cols = X.Cols;
        var y = Value.Span;
        for (int r = 0; r < Rows; r++)
        {
            double s = 0;
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                float lv = v[VIndex(r, c)];
                float diff = x[i] - m[i];
                s += lv + diff * diff * MathF.Exp(-lv);
            }
            y[r] = (float)(-0.5 * (s + cols * Log2Pi));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> x = X.Value.Span, m = M.Value.Span, v = V.Value.Span, dy = Grad!.Span;
        int cols = X.Cols;
        bool mGrad = M.RequiresGrad, xGrad = X.RequiresGrad, vGrad = V.RequiresGrad; // (read once: each is a virtual call)
        var dM = mGrad ? GradOf(M) : default;
        var dX = xGrad ? GradOf(X) : default;
        var dV = vGrad ? GradOf(V) : default;
        for (int r = 0; r < Rows; r++)
        for (int c = 0; c < cols; c++)
        {
            int i = r * cols + c, j = VIndex(r, c);
            float inv = MathF.Exp(-v[j]);
            float diff = x[i] - m[i];
            float dm = dy[r] * diff * inv;
            if (mGrad) dM[i] += dm;
            if (xGrad) dX[i] -= dm;
            if (vGrad) dV[j] += dy[r] * 0.5f * (diff * diff * inv - 1f);
        }
    }
}

/// <summary>
/// KL(N(mu, e^v) || N(0, 1)) summed per row: y[r] = 1/2 sum_d (e^v + mu^2 - 1 - v). [B x P], [B x P] -> [B x 1].
/// Backward: dmu = dy mu; dv = dy (e^v - 1) / 2.
/// </summary>
public sealed class KlStandardNormalNode : Node
{
    private readonly Tensor _expV = new(0, 0); // e^v, from the forward pass for the backward

    internal KlStandardNormalNode(Graph g, Node mean, Node logVariance) : base(g, "KlStandardNormal", mean, logVariance) { }

    private Node Mu => Inputs[0];
    private Node V => Inputs[1];

    protected internal override (int Rows, int Cols) InferShape()
    {
        if (Mu.Rows != V.Rows || Mu.Cols != V.Cols)
            throw Mismatch($"means {Mu.Value.Shape} and log-variances {V.Value.Shape} must have the same shape.");
        return (Mu.Rows, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> mu = Mu.Value.Span, v = V.Value.Span;
        int p = Mu.Cols;
        _expV.Resize(V.Rows, p);
        var e = _expV.Span;
        FastMath.Exp(v, e);
        var y = Value.Span;
        for (int r = 0; r < Rows; r++)
        {
            double s = 0; // each term in float64: e^v and v nearly cancel for v near 0
            for (int c = 0; c < p; c++)
            {
                int i = r * p + c;
                s += (double)e[i] + (double)mu[i] * mu[i] - 1.0 - v[i];
            }
            y[r] = (float)(0.5 * s);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> mu = Mu.Value.Span, e = _expV.Span, dy = Grad!.Span;
        int p = Mu.Cols;
        bool muGrad = Mu.RequiresGrad, vGrad = V.RequiresGrad; // (read once: each is a virtual call)
        var dMu = muGrad ? GradOf(Mu) : default;
        var dV = vGrad ? GradOf(V) : default;
        for (int r = 0; r < Rows; r++)
        for (int c = 0; c < p; c++)
        {
            int i = r * p + c;
            if (muGrad) dMu[i] += dy[r] * mu[i];
            if (vGrad) dV[i] += dy[r] * 0.5f * (e[i] - 1f);
        }
    }
}

/// <summary>
/// KL(N(m1, e^v1) || N(m2, e^v2)) between diagonal Gaussians, summed per row:
/// y[r] = sum_d 1/2 (v2 - v1) + (e^v1 + (m1 - m2)^2) / (2 e^v2) - 1/2. All four inputs [B x P]; output [B x 1].
/// </summary>
public sealed class KlDiagonalGaussianNode : Node
{
    internal KlDiagonalGaussianNode(Graph g, Node m1, Node v1, Node m2, Node v2) : base(g, "KlDiagonalGaussian", m1, v1, m2, v2) { }

    protected internal override (int Rows, int Cols) InferShape()
    {
        var first = Inputs[0];
        foreach (var n in Inputs)
            if (n.Rows != first.Rows || n.Cols != first.Cols)
                throw Mismatch($"all four inputs must have one shape; got {string.Join(", ", Inputs.Select(i => i.Value.Shape))}.");
        return (first.Rows, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Forward()
    {
        ReadOnlySpan<float> m1 = Inputs[0].Value.Span, v1 = Inputs[1].Value.Span, m2 = Inputs[2].Value.Span, v2 = Inputs[3].Value.Span;
        int p = Inputs[0].Cols;
        var y = Value.Span;
        for (int r = 0; r < Rows; r++)
        {
            double s = 0;
            for (int c = 0; c < p; c++)
            {
                int i = r * p + c;
                double d = (double)m1[i] - m2[i];
                s += 0.5 * (v2[i] - v1[i]) + (Math.Exp(v1[i]) + d * d) / (2 * Math.Exp(v2[i])) - 0.5;
            }
            y[r] = (float)s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected internal override void Backward()
    {
        ReadOnlySpan<float> m1 = Inputs[0].Value.Span, v1 = Inputs[1].Value.Span, m2 = Inputs[2].Value.Span, v2 = Inputs[3].Value.Span, dy = Grad!.Span;
        int p = Inputs[0].Cols;
        bool m1Grad = Inputs[0].RequiresGrad, v1Grad = Inputs[1].RequiresGrad, m2Grad = Inputs[2].RequiresGrad, v2Grad = Inputs[3].RequiresGrad;
        var dM1 = m1Grad ? GradOf(Inputs[0]) : default;
        var dV1 = v1Grad ? GradOf(Inputs[1]) : default;
        var dM2 = m2Grad ? GradOf(Inputs[2]) : default;
        var dV2 = v2Grad ? GradOf(Inputs[3]) : default;
        for (int r = 0; r < Rows; r++)
        for (int c = 0; c < p; c++)
        {
            int i = r * p + c;
            float inv2 = MathF.Exp(-v2[i]);
            float d = m1[i] - m2[i];
            float e1 = MathF.Exp(v1[i]);
            float g = dy[r];
            if (m1Grad) dM1[i] += g * d * inv2;
            if (m2Grad) dM2[i] -= g * d * inv2;
            if (v1Grad) dV1[i] += g * 0.5f * (e1 * inv2 - 1f);
            if (v2Grad) dV2[i] += g * 0.5f * (1f - (e1 + d * d) * inv2);
        }
    }
}

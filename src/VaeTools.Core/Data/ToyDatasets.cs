using VaeTools.Engine;

namespace VaeTools.Data;

/// <summary>Small synthetic data sets from the spec.</summary>
public static class ToyDatasets
{
    /// <summary>
    /// The posterior-collapse toy set: x ~ N([2, 3], diag([3, 1]^2)), or with its covariance rotated by 45 degrees
    /// (the noise rotated about the mean, which stays [2, 3], as in the course homework: covariance [[5, 4], [4, 5]]).
    /// Axis-aligned, a decoder with per-dimension variance models it without any latent (KL -> 0); rotated, the
    /// coordinates correlate and the latent carries information.
    /// </summary>
    public static TensorDataset Gaussian2D(int count, bool rotated, ulong seed = 1)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The number of points must be positive.");
        var random = new RandomSource(seed);
        var t = new Tensor(count, 2);
        double cos = Math.Cos(Math.PI / 4), sin = Math.Sin(Math.PI / 4);
        for (int i = 0; i < count; i++)
        {
            double u = 3 * random.NextGaussian(), v = 1 * random.NextGaussian();
            if (rotated) (u, v) = (cos * u - sin * v, sin * u + cos * v);
            t[i, 0] = (float)(2 + u);
            t[i, 1] = (float)(3 + v);
        }
        return new TensorDataset(t, null, $"toy 2-D Gaussian ({count} points, {(rotated ? "covariance rotated 45 degrees" : "axis-aligned")})");
    }

    /// <summary>The homework's split: the first 70% of the points (rounded) for training, the rest for testing.</summary>
    public const double TrainFraction = 0.7;

    /// <summary>
    /// Rows [0, round(0.7 n)) of <paramref name="data"/> (<paramref name="train"/>) or the rest, as a data set of its own.
    /// The same draw split twice gives two disjoint parts that together are the whole.
    /// </summary>
    public static TensorDataset SplitPart(TensorDataset data, bool train)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Count, cut = (int)Math.Round(n * TrainFraction);
        int from = train ? 0 : cut, rows = train ? cut : n - cut;
        if (rows == 0)
            throw new ArgumentOutOfRangeException(nameof(data), n, $"{n} points leave no {(train ? "training" : "test")} points in a 70/30 split; use more points.");
        var t = new Tensor(rows, data.Features);
        data.Data.Span.Slice(from * data.Features, rows * data.Features).CopyTo(t.Span);
        string what = train ? "training 70%" : "test 30%";
        return new TensorDataset(t, null, $"{data.Description[..^1]}, {what}: {rows} points)");
    }
}

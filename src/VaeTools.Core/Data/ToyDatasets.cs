using VaeTools.Engine;

namespace VaeTools.Data;

/// <summary>Small synthetic data sets from the spec.</summary>
public static class ToyDatasets
{
    /// <summary>
    /// The posterior-collapse toy set: x ~ N([2, 3], diag([3, 1]^2)), optionally rotated by 45 degrees about
    /// the origin. Axis-aligned, a decoder with per-dimension variance models it without any latent
    /// (KL -> 0); rotated, the dimensions correlate and the latent carries information.
    /// </summary>
    public static TensorDataset Gaussian2D(int count, bool rotated, ulong seed = 1)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The number of points must be positive.");
        var random = new RandomSource(seed);
        var t = new Tensor(count, 2);
        double cos = Math.Cos(Math.PI / 4), sin = Math.Sin(Math.PI / 4);
        for (int i = 0; i < count; i++)
        {
            double x = 2 + 3 * random.NextGaussian(), y = 3 + 1 * random.NextGaussian();
            if (rotated) (x, y) = (cos * x - sin * y, sin * x + cos * y);
            t[i, 0] = (float)x;
            t[i, 1] = (float)y;
        }
        return new TensorDataset(t, null, $"toy 2-D Gaussian ({count} points, {(rotated ? "rotated 45 degrees" : "axis-aligned")})");
    }
}

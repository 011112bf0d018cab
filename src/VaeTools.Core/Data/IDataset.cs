using VaeTools.Engine;

namespace VaeTools.Data;

/// <summary>
/// What training and analysis need from a data set: a count of rows of equal width, a way to
/// copy any rows (in any order) into a float batch, and optional labels. MNIST implements it
/// over compact bytes; the toy 2-D set and in-memory tensors implement it over floats.
/// </summary>
public interface IDataset
{
    /// <summary>Number of rows (images).</summary>
    int Count { get; }

    /// <summary>Values per row (784 for MNIST).</summary>
    int Features { get; }

    /// <summary>A short human description, e.g. "MNIST train (60000 images, classes 0-9)".</summary>
    string Description { get; }

    /// <summary>
    /// Writes rows <paramref name="indices"/> into <paramref name="destination"/>
    /// (indices.Length x Features, row-major). <paramref name="random"/> is used only by data
    /// that is re-randomised per batch (Bernoulli-sampled binarization) and may be null otherwise.
    /// </summary>
    void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random);

    /// <summary>Label of row <paramref name="index"/>, or -1 when the data set has no labels.</summary>
    int GetLabel(int index);

    /// <summary>
    /// The shape of each row as an image (channels x height x width, channel-major; its Size equals
    /// <see cref="Features"/>), or null when the rows are not images. MNIST: 1 x 28 x 28, CIFAR-10: 3 x 32 x 32.
    /// </summary>
    ImageShape? ImageShape => null;
}

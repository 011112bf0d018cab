using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// A convolution's two parameters in PyTorch's layouts, flattened to 2-D: a Conv2d weight [Cout, Cin, k, k] held as
/// [Cout x Cin*k*k], a ConvTranspose2d weight [Cin, Cout, k, k] as [Cin x Cout*k*k]; the bias [1 x Cout]. Model files
/// store the weight 4-D (<see cref="FileDims"/>), as torch.nn.Conv2d / ConvTranspose2d hold it.
/// </summary>
public sealed record ConvLayer(Parameter Weight, Parameter Bias, ConvGeometry Geometry, bool Transposed)
{
    /// <summary>The weight's shape in files and in torch.nn: [Cout, Cin, k, k], or [Cin, Cout, k, k] when transposed.</summary>
    public int[] FileDims => Transposed
        ? new[] { Geometry.InChannels, Geometry.OutChannels, Geometry.Kernel, Geometry.Kernel }
        : new[] { Geometry.OutChannels, Geometry.InChannels, Geometry.Kernel, Geometry.Kernel };

    internal static ConvLayer Create(string name, ConvGeometry geometry, bool transposed, VaeConfig config, RandomSource random)
    {
        geometry.Validate(transposed);
        int kk = geometry.Kernel * geometry.Kernel;
        var weight = transposed ? new Tensor(geometry.InChannels, geometry.OutChannels * kk) : new Tensor(geometry.OutChannels, geometry.InChannels * kk);
        var layer = new ConvLayer(new Parameter(name + ".weight", weight), new Parameter(name + ".bias", new Tensor(1, geometry.OutChannels)), geometry, transposed);
        // PyTorch's default for both: fan_in = weight.size(1) * k * k, i.e. Cin*k*k for Conv2d and Cout*k*k for ConvTranspose2d.
        if (config.Initialization == Initialization.Normal) Init.Normal(weight, layer.Bias.Value, config.InitStd, random);
        else Init.PyTorchDefault(weight, layer.Bias.Value, random, fanIn: weight.Cols);
        return layer;
    }

    public Node Apply(Graph g, Node x) => Transposed
        ? g.ConvTranspose2d(x, g.Param(Weight), g.Param(Bias), Geometry)
        : g.Conv2d(x, g.Param(Weight), g.Param(Bias), Geometry);
}

using System.Globalization;
using VaeTools.Engine;
using VaeTools.Engine.Ops;
using VaeTools.Tests.Model;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Engine;

/// <summary>
/// Conv2d and ConvTranspose2d of the managed engine: forward values against a float64 direct convolution written here
/// from the definition, gradients against finite differences, the transposed op against the adjoint of the plain one,
/// no allocation after warm-up, the same bits on any number of threads, and (when the Python has torch) against
/// torch.nn.functional.
/// </summary>
public class ConvTests
{
    /// <summary>Geometries over which every property is checked: strides 1/2, padding 0/1, kernels 3/4, odd sizes, Cin/Cout > 1.</summary>
    public static IEnumerable<object[]> Geometries()
    {
        // batch, Cin, H, W, Cout, k, s, p
        yield return new object[] { 2, 1, 5, 5, 1, 3, 1, 0 };
        yield return new object[] { 2, 2, 5, 6, 3, 3, 1, 1 };
        yield return new object[] { 3, 2, 7, 7, 3, 3, 2, 1 };
        yield return new object[] { 2, 3, 8, 8, 2, 4, 2, 1 };
        yield return new object[] { 2, 2, 7, 5, 2, 4, 2, 0 };
        yield return new object[] { 1, 1, 6, 6, 2, 4, 1, 0 };
        yield return new object[] { 2, 2, 3, 3, 2, 3, 2, 1 }; // output 2x2: the last tap row falls in the padding
    }

    private static float[] Random(int count, int seed, float scale = 1f)
    {
        var rng = new RandomSource((ulong)seed);
        var v = new float[count];
        rng.FillNormal(v);
        for (int i = 0; i < v.Length; i++) v[i] *= scale;
        return v;
    }

    // ---- float64 direct convolutions, written from the definitions (NCHW; weights as PyTorch holds them) ----

    /// <summary>y[b, o, i, j] = bias[o] + sum_{c, u, v} x[b, c, i*s - p + u, j*s - p + v] w[o, c, u, v] (zero outside the image).</summary>
    internal static double[] NaiveConv2d(float[] x, float[] w, float[] bias, int batch, ConvGeometry g)
    {
        int ho = g.ConvOutHeight, wo = g.ConvOutWidth, k = g.Kernel;
        var y = new double[batch * g.OutChannels * ho * wo];
        for (int b = 0; b < batch; b++)
        for (int o = 0; o < g.OutChannels; o++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double s = bias[o];
            for (int c = 0; c < g.InChannels; c++)
            for (int u = 0; u < k; u++)
            for (int v = 0; v < k; v++)
            {
                int r = i * g.Stride - g.Padding + u, q = j * g.Stride - g.Padding + v;
                if (r < 0 || r >= g.Height || q < 0 || q >= g.Width) continue;
                s += (double)x[((b * g.InChannels + c) * g.Height + r) * g.Width + q] * w[((o * g.InChannels + c) * k + u) * k + v];
            }
            y[((b * g.OutChannels + o) * ho + i) * wo + j] = s;
        }
        return y;
    }

    /// <summary>y[b, o, i*s - p + u, j*s - p + v] += x[b, c, i, j] w[c, o, u, v], plus bias[o] everywhere (PyTorch's definition).</summary>
    internal static double[] NaiveConvTranspose2d(float[] x, float[] w, float[] bias, int batch, ConvGeometry g)
    {
        int ho = g.TransposedOutHeight, wo = g.TransposedOutWidth, k = g.Kernel;
        var y = new double[batch * g.OutChannels * ho * wo];
        for (int b = 0; b < batch; b++)
        for (int o = 0; o < g.OutChannels; o++)
        for (int t = 0; t < ho * wo; t++)
            y[(b * g.OutChannels + o) * ho * wo + t] = bias[o];
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < g.InChannels; c++)
        for (int i = 0; i < g.Height; i++)
        for (int j = 0; j < g.Width; j++)
        {
            double xv = x[((b * g.InChannels + c) * g.Height + i) * g.Width + j];
            for (int o = 0; o < g.OutChannels; o++)
            for (int u = 0; u < k; u++)
            for (int v = 0; v < k; v++)
            {
                int r = i * g.Stride - g.Padding + u, q = j * g.Stride - g.Padding + v;
                if (r < 0 || r >= ho || q < 0 || q >= wo) continue;
                y[((b * g.OutChannels + o) * ho + r) * wo + q] += xv * w[((c * g.OutChannels + o) * k + u) * k + v];
            }
        }
        return y;
    }

    /// <summary>The graph's output for fixed x, weight and bias, on a pool of <paramref name="threads"/>.</summary>
    private static float[] Run(bool transposed, float[] x, float[] w, float[] bias, int batch, ConvGeometry g, int threads = 1)
    {
        using var pool = new WorkerPool(threads);
        var graph = new Graph(pool);
        var xi = graph.Input("x", g.InFeatures);
        new Tensor(batch, g.InFeatures, x).Span.CopyTo(xi.SetRows(batch).Span);
        int wRows = transposed ? g.InChannels : g.OutChannels;
        var wp = new Parameter("w", new Tensor(wRows, w.Length / wRows, w));
        var bp = new Parameter("b", new Tensor(1, bias.Length, bias));
        Node y = transposed
            ? graph.ConvTranspose2d(xi, graph.Param(wp), graph.Param(bp), g)
            : graph.Conv2d(xi, graph.Param(wp), graph.Param(bp), g);
        graph.Forward(y);
        return y.Value.ToArray();
    }

    private static void AssertClose(double[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])),
                $"{what} element {i}: expected {expected[i]:G8}, got {actual[i]:G8}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2d_forward_matches_a_direct_float64_convolution(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        var g = new ConvGeometry(cin, h, w, cout, k, s, p);
        var x = Random(batch * g.InFeatures, 1);
        var wt = Random(cout * cin * k * k, 2);
        var bias = Random(cout, 3);
        var y = Run(false, x, wt, bias, batch, g);
        Assert.Equal(batch * cout * g.ConvOutHeight * g.ConvOutWidth, y.Length);
        AssertClose(NaiveConv2d(x, wt, bias, batch, g), y, 1e-5, "conv2d");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ConvTranspose2d_forward_matches_a_direct_float64_convolution(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        for (int op = 0; op < s; op++)
        {
            var g = new ConvGeometry(cin, h, w, cout, k, s, p, op);
            var x = Random(batch * g.InFeatures, 4);
            var wt = Random(cin * cout * k * k, 5);
            var bias = Random(cout, 6);
            var y = Run(true, x, wt, bias, batch, g);
            Assert.Equal(batch * cout * g.TransposedOutHeight * g.TransposedOutWidth, y.Length);
            AssertClose(NaiveConvTranspose2d(x, wt, bias, batch, g), y, 1e-5, $"conv_transpose2d (output padding {op})");
        }
    }

    [Fact]
    public void The_vae_shapes_mnist_and_cifar_halve_and_double_the_image()
    {
        // 28 -> 14 -> 7 and back; 32 -> 16 -> 8 and back (kernel 4, stride 2, padding 1).
        Assert.Equal(14, new ConvGeometry(1, 28, 28, 32, 4, 2, 1).ConvOutHeight);
        Assert.Equal(7, new ConvGeometry(32, 14, 14, 64, 4, 2, 1).ConvOutWidth);
        Assert.Equal(14, new ConvGeometry(64, 7, 7, 32, 4, 2, 1).TransposedOutHeight);
        Assert.Equal(28, new ConvGeometry(32, 14, 14, 1, 4, 2, 1).TransposedOutWidth);
        Assert.Equal(8, new ConvGeometry(32, 16, 16, 64, 4, 2, 1).ConvOutHeight);
        Assert.Equal(32, new ConvGeometry(32, 16, 16, 3, 4, 2, 1).TransposedOutHeight);
    }

    // ---- gradients: central differences (the ops are linear in each input, so only rounding separates them) ----

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2d_gradients_match_finite_differences(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        var g = new ConvGeometry(cin, h, w, cout, k, s, p);
        GradientCheckTests.Check((graph, x) => graph.Conv2d(x[0], x[1], x[2], g),
            new[] { new GradientCheckTests.Spec(batch, g.InFeatures), new GradientCheckTests.Spec(cout, cin * k * k), new GradientCheckTests.Spec(1, cout) },
            h: 0.05, atol: 2e-3, rtol: 1e-3);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ConvTranspose2d_gradients_match_finite_differences(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        var g = new ConvGeometry(cin, h, w, cout, k, s, p, OutputPadding: s - 1);
        GradientCheckTests.Check((graph, x) => graph.ConvTranspose2d(x[0], x[1], x[2], g),
            new[] { new GradientCheckTests.Spec(batch, g.InFeatures), new GradientCheckTests.Spec(cin, cout * k * k), new GradientCheckTests.Spec(1, cout) },
            h: 0.05, atol: 2e-3, rtol: 1e-3);
    }

    [Fact]
    public void Conv2d_gradients_through_a_nonlinearity_and_a_second_conv_match_finite_differences()
    {
        // Two stacked layers: the first conv's input gradient arrives from a conv, through tanh, not from the loss.
        var g1 = new ConvGeometry(2, 6, 6, 3, 4, 2, 1);
        var g2 = Inverse(g1);
        GradientCheckTests.Check((graph, x) => graph.ConvTranspose2d(graph.Tanh(graph.Conv2d(x[0], x[1], x[2], g1)), x[3], x[4], g2),
            new[]
            {
                new GradientCheckTests.Spec(2, g1.InFeatures, 0.05f, 0.5f), new GradientCheckTests.Spec(3, 2 * 16, 0.05f, 0.5f), new GradientCheckTests.Spec(1, 3, 0.05f, 0.5f),
                new GradientCheckTests.Spec(3, 2 * 16, 0.05f, 0.5f), new GradientCheckTests.Spec(1, 2, 0.05f, 0.5f),
            }, h: 1e-3, atol: 3e-3, rtol: 1e-2);
    }

    /// <summary>The transposed layer that maps <paramref name="conv"/>'s output back to its input's shape.</summary>
    private static ConvGeometry Inverse(ConvGeometry conv) =>
        new(conv.OutChannels, conv.ConvOutHeight, conv.ConvOutWidth, conv.InChannels, conv.Kernel, conv.Stride, conv.Padding,
            conv.Height - ((conv.ConvOutHeight - 1) * conv.Stride - 2 * conv.Padding + conv.Kernel));

    // ---- the transposed convolution is the adjoint of the convolution ----

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ConvTranspose2d_is_the_adjoint_of_Conv2d_with_the_same_weights(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        // <y, conv(x)> = <convT(y), x> for every x and y, with zero biases and one weight tensor:
        // conv's [Cout x Cin*k*k] is convT's [Cin' x Cout'*k*k] with Cin' = Cout, Cout' = Cin.
        var conv = new ConvGeometry(cin, h, w, cout, k, s, p);
        var convT = Inverse(conv);
        Assert.Equal(h, convT.TransposedOutHeight);
        Assert.Equal(w, convT.TransposedOutWidth);
        var weight = Random(cout * cin * k * k, 7);
        var x = Random(batch * conv.InFeatures, 8);
        var y = Random(batch * convT.InFeatures, 9);
        var cx = Run(false, x, weight, new float[cout], batch, conv);
        var ty = Run(true, y, weight, new float[cin], batch, convT);
        double left = 0, right = 0, scale = 0;
        for (int i = 0; i < y.Length; i++) { left += (double)y[i] * cx[i]; scale += Math.Abs((double)y[i] * cx[i]); }
        for (int i = 0; i < x.Length; i++) right += (double)ty[i] * x[i];
        Assert.True(Math.Abs(left - right) <= 1e-5 * scale, $"<y, conv x> = {left:G10} but <convT y, x> = {right:G10}");
    }

    // ---- threads, allocation, errors ----

    [Fact]
    public void Forward_and_backward_are_bitwise_the_same_on_one_and_two_threads()
    {
        // A batch large enough that the patch copies and the GEMMs split over the pool.
        var g1 = new ConvGeometry(3, 16, 16, 16, 4, 2, 1);
        var g2 = Inverse(g1);
        (float[] Y, float[][] Grads) RunOn(int threads)
        {
            using var pool = new WorkerPool(threads);
            var graph = new Graph(pool);
            var ps = new[]
            {
                new Parameter("w1", new Tensor(16, 48, Random(16 * 48, 11, 0.2f))), new Parameter("b1", new Tensor(1, 16, Random(16, 12))),
                new Parameter("w2", new Tensor(16, 48, Random(16 * 48, 13, 0.2f))), new Parameter("b2", new Tensor(1, 3, Random(3, 14))),
            };
            var x = graph.Input("x", g1.InFeatures);
            Random(40 * g1.InFeatures, 15).CopyTo(x.SetRows(40).Span);
            var y = graph.ConvTranspose2d(graph.Relu(graph.Conv2d(x, graph.Param(ps[0]), graph.Param(ps[1]), g1)), graph.Param(ps[2]), graph.Param(ps[3]), g2);
            var loss = graph.Sum(graph.Square(y));
            graph.Forward(loss);
            graph.Backward(loss);
            return (y.Value.ToArray(), ps.Select(q => q.Grad.ToArray()).ToArray());
        }
        Assert.True(40L * 48 * 64 >= PatchTask.ParallelThreshold, "the batch is too small to split over threads");
        var one = RunOn(1);
        var two = RunOn(2);
        Assert.Equal(one.Y, two.Y);
        for (int i = 0; i < one.Grads.Length; i++) Assert.Equal(one.Grads[i], two.Grads[i]);
        Assert.Contains(one.Grads[0], v => v != 0f);
    }

    [Fact]
    public void Forward_and_backward_allocate_nothing_after_warm_up()
    {
        var g1 = new ConvGeometry(1, 28, 28, 8, 4, 2, 1);
        var g2 = Inverse(g1);
        using var pool = new WorkerPool(2);
        var graph = new Graph(pool);
        var x = graph.Input("x", g1.InFeatures);
        Random(32 * g1.InFeatures, 21).CopyTo(x.SetRows(32).Span);
        var w1 = new Parameter("w1", new Tensor(8, 16, Random(8 * 16, 22, 0.3f)));
        var b1 = new Parameter("b1", new Tensor(1, 8));
        var w2 = new Parameter("w2", new Tensor(8, 16, Random(8 * 16, 23, 0.3f)));
        var b2 = new Parameter("b2", new Tensor(1, 1));
        var y = graph.ConvTranspose2d(graph.Tanh(graph.Conv2d(x, graph.Param(w1), graph.Param(b1), g1)), graph.Param(w2), graph.Param(b2), g2);
        var loss = graph.Sum(graph.Square(graph.Subtract(y, x)));
        void Step()
        {
            graph.Forward(loss);
            graph.Backward(loss);
        }
        for (int i = 0; i < 3; i++) Step();
        x.SetRows(20); // a smaller last batch reuses the buffers
        Step();
        x.SetRows(32);
        Assert.Equal(0, Allocations.OnCallingThread(() =>
        {
            for (int i = 0; i < 5; i++) Step();
            x.SetRows(20);
            Step();
            x.SetRows(32);
        }));
    }

    [Fact]
    public void Wrong_shapes_are_refused_with_messages_that_name_them()
    {
        var graph = new Graph();
        var g = new ConvGeometry(2, 5, 5, 3, 3, 1, 1);
        var x = graph.Input("x", 49);
        x.SetRows(2);
        var w = graph.Param(new Parameter("w", new Tensor(3, 18)));
        var b = graph.Param(new Parameter("b", new Tensor(1, 3)));
        var e = Assert.Throws<ShapeMismatchException>(() => graph.Forward(graph.Conv2d(x, w, b, g)));
        Assert.Contains("49 features", e.Message);
        Assert.Contains("2x5x5", e.Message);
        var x2 = graph.Input("x2", 50);
        x2.SetRows(2);
        var badW = graph.Param(new Parameter("w2", new Tensor(3, 27)));
        e = Assert.Throws<ShapeMismatchException>(() => graph.Forward(graph.Conv2d(x2, badW, b, g)));
        Assert.Contains("[3 x 18]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => graph.Forward(graph.ConvTranspose2d(x2, w, b, g)));
        Assert.Contains("[2 x 27]", e.Message); // convT weights are [Cin x Cout*k*k]
    }

    [Theory]
    [InlineData(false, 0, 5, 5, 3, 3, 1, 0, 0, "InChannels")]
    [InlineData(false, 1, 5, 5, 3, 7, 1, 0, 0, "Kernel")]
    [InlineData(false, 1, 5, 5, 3, 3, 0, 0, 0, "Stride")]
    [InlineData(false, 1, 5, 5, 3, 3, 1, -1, 0, "Padding")]
    [InlineData(false, 1, 5, 5, 3, 3, 2, 1, 1, "OutputPadding")]
    [InlineData(true, 1, 5, 5, 3, 3, 2, 1, 2, "OutputPadding")]
    [InlineData(true, 1, 1, 1, 3, 1, 1, 1, 0, "Padding")]
    public void Bad_geometries_are_refused_naming_the_value(bool transposed, int cin, int h, int w, int cout, int k, int s, int p, int op, string name)
    {
        var g = new ConvGeometry(cin, h, w, cout, k, s, p, op);
        var e = Assert.ThrowsAny<ArgumentException>(() => g.Validate(transposed));
        Assert.Equal(name, e.ParamName);
        Assert.Contains(transposed ? "ConvTranspose2d" : "Conv2d", e.Message);
    }

    // ---- against PyTorch itself, when this machine's Python has it ----

    private const string TorchScript = """
        import sys, torch
        import torch.nn.functional as F
        def read(path):
            with open(path) as f:
                return [float(t) for t in f.read().split()]
        transposed = sys.argv[1] == '1'
        b, cin, h, w, cout, k, s, p, op = (int(a) for a in sys.argv[2:11])
        x = torch.tensor(read(sys.argv[11]), dtype=torch.float64).reshape(b, cin, h, w)
        wshape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        weight = torch.tensor(read(sys.argv[12]), dtype=torch.float64).reshape(wshape)
        bias = torch.tensor(read(sys.argv[13]), dtype=torch.float64)
        if transposed:
            y = F.conv_transpose2d(x, weight, bias, stride=s, padding=p, output_padding=op)
        else:
            y = F.conv2d(x, weight, bias, stride=s, padding=p)
        print(' '.join(repr(v) for v in y.flatten().tolist()))
        """;

    [PythonTheory("torch")]
    [MemberData(nameof(Geometries))]
    public void Both_ops_agree_with_torch_nn_functional(int batch, int cin, int h, int w, int cout, int k, int s, int p)
    {
        string dir = Path.Combine(Path.GetTempPath(), "vaetools-conv-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            foreach (bool transposed in new[] { false, true })
            {
                int op = transposed ? s - 1 : 0;
                var g = new ConvGeometry(cin, h, w, cout, k, s, p, op);
                var x = Random(batch * g.InFeatures, 31);
                var wt = Random(cin * cout * k * k, 32);
                var bias = Random(cout, 33);
                string Write(string name, float[] v)
                {
                    string path = Path.Combine(dir, name);
                    File.WriteAllText(path, string.Join(' ', v.Select(f => f.ToString("R", CultureInfo.InvariantCulture))));
                    return path;
                }
                string output = Python.Run(TorchScript, transposed ? "1" : "0", batch.ToString(), cin.ToString(), h.ToString(), w.ToString(),
                    cout.ToString(), k.ToString(), s.ToString(), p.ToString(), op.ToString(), Write("x", x), Write("w", wt), Write("b", bias));
                var expected = output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
                AssertClose(expected, Run(transposed, x, wt, bias, batch, g), 1e-5, transposed ? "conv_transpose2d" : "conv2d");
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

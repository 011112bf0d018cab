using VaeTools.Tests.TestSupport;
using VaeTools.Engine;
using VaeTools.Internal;

namespace VaeTools.Tests.Engine;

[Collection(TestHooksCollection.Name)] // forces code paths through TestHooks
public class GemmTests
{
    // The paths this CPU runs; the others are not tested here (see Vector512_path_is_the_default_where_the_cpu_has_avx512).
    private static readonly GemmPath[] Paths =
        new[] { GemmPath.Vector512, GemmPath.Vector256, GemmPath.Scalar }.Where(Gemm.IsSupported).ToArray();

    // Awkward shapes built from {1, 7, 129, 785}: k = 1, vectors, sizes just past every tile and
    // block multiple. (m*n*k kept moderate so the float64 reference stays quick.)
    private static readonly (int M, int N, int K)[] Shapes =
    {
        (1, 1, 1), (7, 7, 7), (1, 785, 7), (785, 1, 7), (7, 129, 1), (785, 129, 1),
        (129, 7, 785), (1, 129, 785), (129, 1, 785), (129, 129, 129), (7, 785, 129),
        (785, 7, 129), (129, 785, 7),
        (20, 129, 7), (129, 20, 33), // the 20-wide latent layer: 8 + 8 + 4 rows, also solved transposed
    };

    public static IEnumerable<object[]> Cases()
    {
        foreach (GemmPath path in Paths)
            foreach (var (m, n, k) in Shapes)
                foreach (bool transA in new[] { false, true })
                    foreach (bool transB in new[] { false, true })
                        yield return new object[] { path.ToString(), m, n, k, transA, transB };
    }

    /// <summary>Runs <paramref name="body"/> with Gemm forced onto <paramref name="path"/> (the hooks passed to it can change more).</summary>
    private static void WithPath(GemmPath path, Action<TestHooks> body)
    {
        var hooks = new TestHooks { GemmPath = path };
        using (Hooks.Install(hooks))
        {
            Assert.Equal(path, Gemm.ActivePath);
            body(hooks);
        }
    }

    private static void WithPath(GemmPath path, Action body) => WithPath(path, _ => body());

    private static float[] Random(RandomSource rng, int count)
    {
        var values = new float[count];
        rng.FillUniform(values, -1f, 1f);
        return values;
    }

    /// <summary>Stored operand with leading dimension ld > cols; the padding is NaN so reading it poisons C.</summary>
    private static float[] Stored(RandomSource rng, int rows, int cols, int ld)
    {
        var values = new float[Math.Max(0, (rows - 1) * ld + cols) + 3];
        Array.Fill(values, float.NaN);
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++)
                values[r * ld + col] = rng.NextFloat() * 2f - 1f;
        return values;
    }

    [Fact]
    public void Scalar_path_is_always_supported() => Assert.True(Gemm.IsSupported(GemmPath.Scalar));

    [Avx512Fact]
    public void Vector512_path_is_the_default_where_the_cpu_has_avx512()
    {
        Assert.Contains(GemmPath.Vector512, Paths);
        Assert.Equal(GemmPath.Vector512, Gemm.ActivePath);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Multiply_matches_float64_reference(string pathName, int m, int n, int k, bool transA, bool transB)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        var rng = new RandomSource((ulong)(m * 1_000_003 + n * 1009 + k * 7 + (transA ? 1 : 0) + (transB ? 2 : 0)));
        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2;
        float[] a = Stored(rng, transA ? k : m, transA ? m : k, lda);
        float[] b = Stored(rng, transB ? n : k, transB ? k : n, ldb);
        const float Sentinel = 12345.5f;
        float[] c0 = new float[(m - 1) * ldc + n + 4];
        Array.Fill(c0, Sentinel);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c0[i * ldc + j] = rng.NextFloat() * 2f - 1f;

        foreach (bool accumulate in new[] { false, true })
        {
            float[] c = (float[])c0.Clone();
            WithPath(path, () => Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate));

            // Error bound of a float32 sum of k products plus the old C value (Higham, gamma_n):
            // |computed - exact| <= gamma_(k+2) * (|C_old| + sum_p |a_ip| |b_pj|), gamma_n = n u / (1 - n u), u = 2^-24.
            double u = Math.Pow(2, -24), gamma = (k + 2) * u / (1 - (k + 2) * u);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double exact = accumulate ? c0[i * ldc + j] : 0, magnitude = accumulate ? Math.Abs(c0[i * ldc + j]) : 0;
                    for (int p = 0; p < k; p++)
                    {
                        double x = transA ? a[p * lda + i] : a[i * lda + p];
                        double y = transB ? b[j * ldb + p] : b[p * ldb + j];
                        exact += x * y;
                        magnitude += Math.Abs(x * y);
                    }
                    double err = Math.Abs(c[i * ldc + j] - exact);
                    Assert.True(err <= gamma * magnitude + 1e-30,
                        $"{path} m={m} n={n} k={k} transA={transA} transB={transB} accumulate={accumulate}: " +
                        $"C[{i},{j}] = {c[i * ldc + j]} but the float64 product is {exact} (error {err:E2} > bound {gamma * magnitude:E2})");
                }
                // The padding between rows of C must be untouched.
                for (int j = n; j < ldc && i < m - 1; j++)
                    Assert.Equal(Sentinel, c[i * ldc + j]);
            }
            for (int t = (m - 1) * ldc + n; t < c.Length; t++) Assert.Equal(Sentinel, c[t]);
        }
    }

    public static IEnumerable<object[]> DeterminismCases()
    {
        // Training shapes (X W^T, dY^T X, dY W) plus k long enough for several k blocks.
        var shapes = new (int M, int N, int K, bool TransA, bool TransB)[]
        {
            (128, 400, 784, false, true), (96, 20, 400, false, true), (400, 784, 96, true, false),
            (784, 20, 128, true, false), (128, 400, 20, false, false), (37, 1000, 1500, false, false),
        };
        foreach (GemmPath path in Paths)
            foreach (var s in shapes)
                yield return new object[] { path.ToString(), s.M, s.N, s.K, s.TransA, s.TransB };
    }

    [Theory]
    [MemberData(nameof(DeterminismCases))]
    public void Multiply_is_bitwise_identical_for_any_thread_count(string pathName, int m, int n, int k, bool transA, bool transB)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        var rng = new RandomSource(42);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), cInit = Random(rng, m * n);
        int lda = transA ? m : k, ldb = transB ? k : n;

        foreach (bool accumulate in new[] { false, true })
        {
            float[] reference = (float[])cInit.Clone();
            WithPath(path, () => Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, reference, n, accumulate));
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var pool = new WorkerPool(threads);
                float[] c = (float[])cInit.Clone();
                WithPath(path, () => Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, n, accumulate, pool));
                for (int i = 0; i < c.Length; i++)
                    if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(reference[i]))
                        Assert.Fail($"{path} {m}x{n}x{k} accumulate={accumulate}: element {i} is {c[i]:R} with {threads} threads but {reference[i]:R} with none");
            }
        }
    }

    [Theory]
    [InlineData(400, 20, 128, true, false)]   // dW of a 20-wide layer: solved transposed, A read in place
    [InlineData(20, 400, 96, true, false)]    // B read in place
    [InlineData(96, 20, 400, false, false)]
    [InlineData(128, 20, 400, false, true)]
    [InlineData(33, 45, 70, true, false)]
    public void Multiply_reading_operands_in_place_or_packed_gives_the_same_bits(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new RandomSource(7);
        int lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2;
        float[] a = Stored(rng, transA ? k : m, transA ? m : k, lda), b = Stored(rng, transB ? n : k, transB ? k : n, ldb);
        foreach (GemmPath path in Paths)
            WithPath(path, hooks =>
            {
                float[] packed = new float[m * n], inPlace = new float[m * n];
                hooks.GemmDirectMaxReuse = 0; // always pack
                Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, packed, n, false);
                hooks.GemmDirectMaxReuse = int.MaxValue; // read in place whenever the layout allows
                Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, inPlace, n, false);
                Assert.All(packed, v => Assert.True(float.IsFinite(v), "padding (NaN) leaked into C"));
                for (int i = 0; i < packed.Length; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(packed[i]), BitConverter.SingleToInt32Bits(inPlace[i]));
            });
    }

    [Fact]
    public void Multiply_k_zero_clears_c_or_leaves_it_when_accumulating()
    {
        float[] c = { 1, 2, 99, 3, 4 }; // 2 x 2 with ldc = 3; c[2] is padding
        Gemm.Multiply(false, false, 2, 2, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, c, 3, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 99, 3, 4 }, c);

        Gemm.Multiply(false, false, 2, 2, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, c, 3, accumulate: false);
        Assert.Equal(new float[] { 0, 0, 99, 0, 0 }, c);
    }

    [Fact]
    public void Multiply_small_known_product()
    {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50], worked by hand.
        float[] a = { 1, 2, 3, 4 }, b = { 5, 6, 7, 8 }, c = new float[4];
        foreach (GemmPath path in Paths)
            WithPath(path, () =>
            {
                Gemm.Multiply(false, false, 2, 2, 2, a, 2, b, 2, c, 2, accumulate: false);
                Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
                Gemm.Multiply(false, false, 2, 2, 2, a, 2, b, 2, c, 2, accumulate: true);
                Assert.Equal(new float[] { 38, 44, 86, 100 }, c);
            });
    }

    [Fact]
    public void Multiply_allocates_nothing_after_warm_up()
    {
        var rng = new RandomSource(3);
        float[] a = Random(rng, 128 * 784), w = Random(rng, 400 * 784), c = new float[128 * 400];
        using var pool = new WorkerPool(2);
        foreach (WorkerPool? p in new[] { null, pool })
        {
            for (int r = 0; r < 3; r++) Gemm.Multiply(false, true, 128, 400, 784, a, 784, w, 784, c, 400, false, p);
            Assert.Equal(0, Allocations.OnCallingThread(() =>
            {
                for (int r = 0; r < 10; r++) Gemm.Multiply(false, true, 128, 400, 784, a, 784, w, 784, c, 400, false, p);
            }));
        }
    }

    [Fact]
    public void Multiply_rejects_negative_dimensions()
    {
        float[] x = new float[16];
        Assert.Equal("m", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 2, x, 2, x, 2, new float[4], 2, false)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 2, -1, 2, x, 2, x, 2, new float[4], 2, false)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 2, 2, -1, x, 2, x, 2, new float[4], 2, false)).ParamName);
    }

    [Fact]
    public void Multiply_rejects_too_small_leading_dimensions_naming_the_value()
    {
        float[] a = new float[100], b = new float[100], c = new float[100];
        // A is 3 x 4 (m x k): lda must be >= 4; with transA it is 4 x 3: lda >= 3.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 3, 5, 4, a, 3, b, 5, c, 5, false));
        Assert.Equal("lda", e.ParamName);
        Assert.Contains("lda = 3", e.Message);
        Gemm.Multiply(true, false, 3, 5, 4, a, 3, b, 5, c, 5, false); // fine when transposed

        // B is 4 x 5 (k x n): ldb >= 5; with transB it is 5 x 4: ldb >= 4.
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 3, 5, 4, a, 4, b, 4, c, 5, false));
        Assert.Equal("ldb", e.ParamName);
        Assert.Contains("ldb = 4", e.Message);
        Gemm.Multiply(false, true, 3, 5, 4, a, 4, b, 4, c, 5, false);

        e = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, 3, 5, 4, a, 4, b, 5, c, 4, false));
        Assert.Equal("ldc", e.ParamName);
        Assert.Contains("ldc = 4", e.Message);
    }

    [Fact]
    public void Multiply_rejects_too_short_spans_naming_the_lengths()
    {
        float[] big = new float[100];
        // A 3 x 4 with lda 6 needs (3-1)*6 + 4 = 16 values.
        var e = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 3, 5, 4, new float[15], 6, big, 5, new float[15], 5, false));
        Assert.Equal("a", e.ParamName);
        Assert.Contains("15", e.Message);
        Assert.Contains("16", e.Message);

        // B stored 5 x 4 (transB) with ldb 4 needs 20 values.
        e = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, true, 3, 5, 4, big, 4, new float[19], 4, new float[15], 5, false));
        Assert.Equal("b", e.ParamName);
        Assert.Contains("20", e.Message);

        // C 3 x 5 with ldc 7 needs 2*7 + 5 = 19 values.
        e = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 3, 5, 4, big, 4, new float[20], 5, new float[18], 7, false));
        Assert.Equal("c", e.ParamName);
        Assert.Contains("19", e.Message);
    }

    [Fact]
    public void Multiply_rejects_output_overlapping_an_input()
    {
        float[] buffer = new float[64];
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 4, 4, 4, buffer.AsSpan(0, 16), 4, buffer.AsSpan(16, 16), 4, buffer.AsSpan(8, 16), 4, false));
        Assert.Equal("c", e.ParamName);
    }

    [Fact]
    public void Multiply_empty_output_is_a_no_op()
    {
        float[] c = { 7f };
        Gemm.Multiply(false, false, 0, 5, 3, ReadOnlySpan<float>.Empty, 3, new float[15], 5, c, 5, false);
        Gemm.Multiply(false, false, 5, 0, 3, new float[15], 3, ReadOnlySpan<float>.Empty, 1, c, 1, false);
        Assert.Equal(7f, c[0]);
    }
}

// Register-blocked micro-kernels of Gemm, one per code path. Written out in full (no loops over
// registers) so that the JIT keeps every accumulator in a register.
//
// Every kernel computes one MR x NR tile: acc = sum over p < kc of a[p*aStride + i] * b[p*bStride + j],
// with a and b packed panels (stride MR / NR, see Gemm.Pack*) or the operands themselves when their
// layout already matches (transposed A, plain B), then either stores acc into C (overwrite) or
// adds it to C (C[i,j] = C[i,j] + acc[i,j]). The k order is always p = 0, 1, ..., kc-1 with one
// FMA per step, which keeps results bitwise reproducible whichever thread computes a tile.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace VaeTools.Engine;

public static partial class Gemm
{
    /// <summary>8 x 32 tile with Vector512&lt;float&gt; FMAs (16 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel512x8(int kc, float* a, int aStride, float* b, int bStride, float* c, int ldc, bool overwrite)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            Vector512<float> a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            Vector512<float> a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            Vector512<float> a6 = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            Vector512<float> a7 = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            a += aStride;
            b += bStride;
        }
        if (overwrite)
        {
            c0_0.Store(c + 0); c0_1.Store(c + 16); c += ldc;
            c1_0.Store(c + 0); c1_1.Store(c + 16); c += ldc;
            c2_0.Store(c + 0); c2_1.Store(c + 16); c += ldc;
            c3_0.Store(c + 0); c3_1.Store(c + 16); c += ldc;
            c4_0.Store(c + 0); c4_1.Store(c + 16); c += ldc;
            c5_0.Store(c + 0); c5_1.Store(c + 16); c += ldc;
            c6_0.Store(c + 0); c6_1.Store(c + 16); c += ldc;
            c7_0.Store(c + 0); c7_1.Store(c + 16);
        }
        else
        {
            Avx512F.Add(Vector512.Load(c + 0), c0_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c0_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c1_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c1_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c2_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c2_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c3_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c3_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c4_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c4_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c5_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c5_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c6_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c6_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c7_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c7_1).Store(c + 16);
        }
    }

    /// <summary>4 x 32 tile with Vector512&lt;float&gt; FMAs (8 accumulators). For the last rows of an operand, reading a panel of any stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel512x4(int kc, float* a, int aStride, float* b, int bStride, float* c, int ldc, bool overwrite)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            a += aStride;
            b += bStride;
        }
        if (overwrite)
        {
            c0_0.Store(c + 0); c0_1.Store(c + 16); c += ldc;
            c1_0.Store(c + 0); c1_1.Store(c + 16); c += ldc;
            c2_0.Store(c + 0); c2_1.Store(c + 16); c += ldc;
            c3_0.Store(c + 0); c3_1.Store(c + 16);
        }
        else
        {
            Avx512F.Add(Vector512.Load(c + 0), c0_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c0_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c1_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c1_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c2_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c2_1).Store(c + 16); c += ldc;
            Avx512F.Add(Vector512.Load(c + 0), c3_0).Store(c + 0); Avx512F.Add(Vector512.Load(c + 16), c3_1).Store(c + 16);
        }
    }

    /// <summary>6 x 16 tile with Vector256&lt;float&gt; FMAs (12 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel256(int kc, float* a, int aStride, float* b, int bStride, float* c, int ldc, bool overwrite)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> a0 = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(a0, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            Vector256<float> a1 = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(a1, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            Vector256<float> a2 = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(a2, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            Vector256<float> a3 = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(a3, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            Vector256<float> a4 = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(a4, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            Vector256<float> a5 = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(a5, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
            a += aStride;
            b += bStride;
        }
        if (overwrite)
        {
            c0_0.Store(c + 0); c0_1.Store(c + 8); c += ldc;
            c1_0.Store(c + 0); c1_1.Store(c + 8); c += ldc;
            c2_0.Store(c + 0); c2_1.Store(c + 8); c += ldc;
            c3_0.Store(c + 0); c3_1.Store(c + 8); c += ldc;
            c4_0.Store(c + 0); c4_1.Store(c + 8); c += ldc;
            c5_0.Store(c + 0); c5_1.Store(c + 8);
        }
        else
        {
            Avx.Add(Vector256.Load(c + 0), c0_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c0_1).Store(c + 8); c += ldc;
            Avx.Add(Vector256.Load(c + 0), c1_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c1_1).Store(c + 8); c += ldc;
            Avx.Add(Vector256.Load(c + 0), c2_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c2_1).Store(c + 8); c += ldc;
            Avx.Add(Vector256.Load(c + 0), c3_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c3_1).Store(c + 8); c += ldc;
            Avx.Add(Vector256.Load(c + 0), c4_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c4_1).Store(c + 8); c += ldc;
            Avx.Add(Vector256.Load(c + 0), c5_0).Store(c + 0); Avx.Add(Vector256.Load(c + 8), c5_1).Store(c + 8);
        }
    }

    /// <summary>4 x 4 tile in plain float arithmetic (multiply then add, no FMA).</summary>
    private static unsafe void KernelScalar(int kc, float* a, int aStride, float* b, int bStride, float* c, int ldc, bool overwrite)
    {
        float c0_0 = 0; float c0_1 = 0; float c0_2 = 0; float c0_3 = 0;
        float c1_0 = 0; float c1_1 = 0; float c1_2 = 0; float c1_3 = 0;
        float c2_0 = 0; float c2_1 = 0; float c2_2 = 0; float c2_3 = 0;
        float c3_0 = 0; float c3_1 = 0; float c3_2 = 0; float c3_3 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0]; float b1 = b[1]; float b2 = b[2]; float b3 = b[3];
            float a0 = a[0]; c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
            float a1 = a[1]; c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
            float a2 = a[2]; c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
            float a3 = a[3]; c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
            a += aStride;
            b += bStride;
        }
        if (overwrite)
        {
            c[0] = c0_0; c[1] = c0_1; c[2] = c0_2; c[3] = c0_3; c += ldc;
            c[0] = c1_0; c[1] = c1_1; c[2] = c1_2; c[3] = c1_3; c += ldc;
            c[0] = c2_0; c[1] = c2_1; c[2] = c2_2; c[3] = c2_3; c += ldc;
            c[0] = c3_0; c[1] = c3_1; c[2] = c3_2; c[3] = c3_3;
        }
        else
        {
            c[0] = c[0] + c0_0; c[1] = c[1] + c0_1; c[2] = c[2] + c0_2; c[3] = c[3] + c0_3; c += ldc;
            c[0] = c[0] + c1_0; c[1] = c[1] + c1_1; c[2] = c[2] + c1_2; c[3] = c[3] + c1_3; c += ldc;
            c[0] = c[0] + c2_0; c[1] = c[1] + c2_1; c[2] = c[2] + c2_2; c[3] = c[3] + c2_3; c += ldc;
            c[0] = c[0] + c3_0; c[1] = c[1] + c3_1; c[2] = c[2] + c3_2; c[3] = c[3] + c3_3;
        }
    }
}

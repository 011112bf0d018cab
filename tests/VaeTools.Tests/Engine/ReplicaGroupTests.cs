using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Engine;

public class ReplicaGroupTests
{
    private static Tensor SparseImages(int rows, int cols, ulong seed)
    {
        var rng = new RandomSource(seed);
        var t = new Tensor(rows, cols);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = rng.NextFloat() < 0.8f ? 0f : rng.NextFloat();
        return t;
    }

    /// <summary>Runs every replica's forward and backward at once, one per thread, as the trainer does.</summary>
    private sealed class Pass(LossGraph[] graphs, ReplicaGroup group) : IParallelTask
    {
        public void Execute(int part, int parts)
        {
            var g = graphs[part];
            g.Graph.Forward(g.Loss);
            group.Wait(); // as the trainer: every loss known before any backward
            g.Graph.Backward(g.Loss);
        }
    }

    [Theory]
    [InlineData(2, 10, 7)]  // unequal shares
    [InlineData(3, 4, 4)]   // three replicas: three column ranges
    public void SharedLayers_GetTheWholeBatchGradient_InReplicaZero(int replicas, int rowsFirst, int rowsOther)
    {
        var model = new VaeModel(new VaeConfig { InputDim = 50, HiddenDims = new[] { 37 }, LatentDim = 3, Seed = 3 });
        int total = rowsFirst + rowsOther * (replicas - 1);
        var x = SparseImages(total, 50, 4);

        // Reference: each share in a graph of its own (no group), gradients added up.
        var expected = model.Parameters.Select(p => new double[p.Value.Length]).ToArray();
        int offset = 0;
        for (int r = 0; r < replicas; r++)
        {
            int rows = r == 0 ? rowsFirst : rowsOther;
            var copies = model.Parameters.Select(p => new Parameter(p.Name, p.Value, p.InputMajor)).ToArray();
            var map = model.Parameters.Zip(copies).ToDictionary(q => q.First, q => q.Second);
            var g = model.BuildLossGraph(random: new RandomSource(10 + (ulong)r), substitutes: map);
            g.SetBatchImages(total);
            x.Span.Slice(offset * 50, rows * 50).CopyTo(g.Data.SetRows(rows).Span);
            g.Graph.Forward(g.Loss);
            g.Graph.Backward(g.Loss);
            for (int i = 0; i < copies.Length; i++)
            {
                var grad = copies[i].Grad.Span;
                for (int j = 0; j < grad.Length; j++) expected[i][j] += grad[j];
            }
            offset += rows;
        }

        // The group: replica 0 writes the model's own gradients.
        var group = new ReplicaGroup(replicas) { Active = true };
        var graphs = new LossGraph[replicas];
        var replicaParams = new Parameter[replicas][];
        offset = 0;
        for (int r = 0; r < replicas; r++)
        {
            int rows = r == 0 ? rowsFirst : rowsOther;
            replicaParams[r] = r == 0 ? model.Parameters.ToArray() : model.Parameters.Select(p => new Parameter(p.Name, p.Value, p.InputMajor)).ToArray();
            var map = model.Parameters.Zip(replicaParams[r]).ToDictionary(q => q.First, q => q.Second);
            graphs[r] = model.BuildLossGraph(random: new RandomSource(10 + (ulong)r), substitutes: map, replicas: group, replicaIndex: r);
            graphs[r].SetBatchImages(total);
            x.Span.Slice(offset * 50, rows * 50).CopyTo(graphs[r].Data.SetRows(rows).Span);
            offset += rows;
        }
        using var pool = new WorkerPool(replicas);
        pool.Run(new Pass(graphs, group));

        var shared = group.SharedParameters.ToHashSet();
        Assert.Equal(4, shared.Count); // the encoder's input layer and the decoder's output layer: weight and bias each
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            var p = model.Parameters[i];
            // Shared: replica 0 alone holds the batch's gradient. Others: each replica its share, added up here.
            var actual = new double[p.Value.Length];
            for (int r = 0; r < (shared.Contains(p) ? 1 : replicas); r++)
            {
                var grad = replicaParams[r][i].Grad.Span;
                for (int j = 0; j < grad.Length; j++) actual[j] += grad[j];
            }
            for (int j = 0; j < actual.Length; j++)
                Assert.True(Math.Abs(expected[i][j] - actual[j]) <= 1e-5 * (1 + Math.Abs(expected[i][j])),
                    $"{p.Name}[{j}]: expected {expected[i][j]}, got {actual[j]} (shared: {shared.Contains(p)})");
        }
    }

    [Fact]
    public void Wait_ReleasesEveryoneOnlyWhenAllHaveArrived()
    {
        var group = new ReplicaGroup(2);
        int before = 0, after = 0;
        var other = new Thread(() =>
        {
            Thread.Sleep(200);
            Interlocked.Increment(ref before);
            group.Wait();
            Interlocked.Increment(ref after);
        });
        other.Start();
        group.Wait();
        Assert.Equal(1, Volatile.Read(ref before)); // the main thread got through only after the other arrived
        other.Join();
        Assert.Equal(1, after);
        // Reusable: a second round.
        var again = new Thread(group.Wait);
        again.Start();
        group.Wait();
        again.Join();
    }

    [Fact]
    public void Break_ReleasesAWaitingReplicaWithTheCause()
    {
        var group = new ReplicaGroup(2);
        Exception? seen = null;
        var waiter = new Thread(() => { try { group.Wait(); } catch (Exception e) { seen = e; } });
        waiter.Start();
        Thread.Sleep(100);
        var cause = new InvalidOperationException("replica 1 failed");
        group.Break(cause);
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)), "the waiting replica was not released");
        var broken = Assert.IsType<ReplicaGroupBrokenException>(seen);
        Assert.Same(cause, broken.InnerException);
        Assert.Contains("replica 1 failed", broken.Message);
        Assert.Same(cause, group.Cause);
        Assert.Throws<ReplicaGroupBrokenException>(group.Wait); // broken until reset
        group.Reset();
        Assert.Null(group.Cause);
    }

    [Fact]
    public void ASingleReplicaNeverWaits_AndBadIndicesAreRefused()
    {
        new ReplicaGroup(1).Wait();
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplicaGroup(0));
        var model = new VaeModel(new VaeConfig { InputDim = 10, HiddenDims = new[] { 4 }, LatentDim = 2 });
        var group = new ReplicaGroup(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.BuildLossGraph(replicas: group, replicaIndex: 2));
        model.BuildLossGraph(replicas: group, replicaIndex: 0);
        Assert.Throws<InvalidOperationException>(() => model.BuildLossGraph(replicas: group, replicaIndex: 0));
    }
}

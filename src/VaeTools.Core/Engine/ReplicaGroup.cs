using System.Runtime.CompilerServices;
using VaeTools.Engine.Ops;

namespace VaeTools.Engine;

/// <summary>
/// Graphs of one model that each run a part of a batch, on threads of their own and at the same time
/// (data-parallel replicas; graph i is built with <see cref="Graph.Replicas"/> = this group and
/// <see cref="Graph.ReplicaIndex"/> = i). While <see cref="Active"/>, the large input-major layers compute their
/// weight gradient once for the whole batch instead of once per replica: after a barrier, replica t computes
/// columns t of the gradient from every replica's input and output gradient, into replica 0's gradients (the
/// model's own). That saves each replica writing a full gradient and the optimiser adding them up.
/// The other replicas' gradients of those weights are left unwritten; <see cref="SharedParameters"/> lists them.
/// </summary>
public sealed class ReplicaGroup
{
    private readonly List<InputMajorLinearNode?[]> _layers = new();
    private int _arrived, _generation;
    private volatile bool _broken;
    private Exception? _cause;

    public ReplicaGroup(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "A replica group needs at least one replica.");
        Count = count;
    }

    /// <summary>Number of replicas; every one must take part in each pass while the group is active.</summary>
    public int Count { get; }

    /// <summary>
    /// Whether the next forward-backward pass runs on all replicas at once, each with rows. When false (a batch with
    /// fewer rows than replicas, or one graph used alone), every graph works on its own as if it had no group.
    /// </summary>
    public bool Active { get; set; }

    /// <summary>The parameters (replica 0's, the model's) whose gradient the group computes once for the batch.</summary>
    public IEnumerable<Parameter> SharedParameters =>
        _layers.Where(l => l[0] is not null).SelectMany(l => l[0]!.SharedParameters);

    /// <summary>Registers replica <paramref name="replica"/>'s node of layer number <paramref name="ordinal"/> (in build order).</summary>
    internal void Join(InputMajorLinearNode node, int replica, int ordinal)
    {
        if (replica < 0 || replica >= Count)
            throw new ArgumentOutOfRangeException(nameof(replica), replica, $"The group has {Count} replicas.");
        while (_layers.Count <= ordinal) _layers.Add(new InputMajorLinearNode?[Count]);
        if (_layers[ordinal][replica] is not null)
            throw new InvalidOperationException($"Replica {replica} already has a layer number {ordinal}; build each replica's graph once.");
        _layers[ordinal][replica] = node;
    }

    /// <summary>Every replica's node of layer number <paramref name="ordinal"/> (all replicas must have built it).</summary>
    internal InputMajorLinearNode[] Layer(int ordinal)
    {
        var layer = _layers[ordinal];
        for (int r = 0; r < Count; r++)
            if (layer[r] is null) throw new InvalidOperationException($"Replica {r} has not built layer number {ordinal}; every replica must build the same graph.");
        return layer!;
    }

    /// <summary>
    /// Waits until every replica has called Wait (a barrier; the waiting thread spins, as the others are running).
    /// Throws <see cref="ReplicaGroupBrokenException"/> when another replica failed (see <see cref="Break"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Wait()
    {
        if (Count == 1) return;
        if (_broken) throw new ReplicaGroupBrokenException(_cause);
        int generation = Volatile.Read(ref _generation);
        if (Interlocked.Increment(ref _arrived) == Count)
        {
            Volatile.Write(ref _arrived, 0);
            Interlocked.Increment(ref _generation); // releases the others
            return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _generation) == generation)
        {
            if (_broken) throw new ReplicaGroupBrokenException(_cause);
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>A replica failed: every Wait, now and until <see cref="Reset"/>, throws instead of waiting for it.</summary>
    public void Break(Exception cause)
    {
        Interlocked.CompareExchange(ref _cause, cause, null);
        _broken = true;
    }

    /// <summary>The first failure reported to <see cref="Break"/> since the last <see cref="Reset"/>.</summary>
    public Exception? Cause => _cause;

    /// <summary>Readies the barrier for a new pass (call while no replica is running).</summary>
    public void Reset()
    {
        _broken = false;
        _cause = null;
        _arrived = 0;
    }
}

/// <summary>Thrown in a replica whose group was broken by another replica's failure (<see cref="ReplicaGroup.Break"/>).</summary>
public sealed class ReplicaGroupBrokenException(Exception? cause)
    : Exception("Another replica of the training step failed" + (cause is null ? "." : $": {cause.Message}"), cause);

using System.Runtime.CompilerServices;

namespace VaeTools.Engine;

/// <summary>
/// Lets the threads of a data-parallel step that have finished their own share of the batch help with the shares
/// still running, so that a thread slowed down (this machine's cores are shared and their speed varies from one
/// millisecond to the next) does not hold up the step while the others wait.
/// </summary>
/// <remarks>
/// Each share's graph runs its products on a pool from <see cref="CreatePool"/>. That pool reports one thread while
/// nobody is free to help, so a product is computed whole as before, and two threads once a helper is waiting; the
/// product is then split in two parts and the helper takes the second part (the owner takes it back if the helper has
/// not started it by the time the first part is done). The engine's products give bitwise the same result for any
/// split (see <see cref="Gemm"/>), so who computes what never changes the numbers.
/// </remarks>
public sealed class ShareHelp
{
    private readonly Slot[] _slots;
    private int _running, _helpers;

    /// <param name="shares">Shares of a step, each with its own pool.</param>
    public ShareHelp(int shares)
    {
        if (shares < 1) throw new ArgumentOutOfRangeException(nameof(shares), shares, "At least one share.");
        _slots = new Slot[shares];
        for (int i = 0; i < shares; i++) _slots[i] = new Slot(this);
    }

    /// <summary>Turns helping off (tests compare a helped run with an unhelped one): the pools always report one thread.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The pool for share <paramref name="share"/>'s graph.</summary>
    public WorkerPool CreatePool(int share) => WorkerPool.Helped(_slots[share]);

    /// <summary>Starts a step in which every share runs once (call while no share is running).</summary>
    public void BeginStep()
    {
        Volatile.Write(ref _helpers, 0);
        Volatile.Write(ref _running, _slots.Length);
    }

    /// <summary>A share of the step is done (call once per share, also when it failed).</summary>
    public void ShareDone() => Interlocked.Decrement(ref _running);

    /// <summary>Tests: a share waits for a helper to take its posted part instead of taking it back, so help is certain.</summary>
    internal bool OwnerWaitsForHelper { get; set; }

    /// <summary>Parts run by a helper so far (tests).</summary>
    internal long HelpedParts => Interlocked.Read(ref _helpedParts);
    private long _helpedParts;

    /// <summary>Whether a thread is waiting to help (from then on until the step's shares are all done).</summary>
    internal bool HelperWaiting => Enabled && Volatile.Read(ref _helpers) > 0;

    /// <summary>
    /// Called by a thread with no share left: takes the second part of the other shares' products until every share
    /// of the step is done. Exceptions of a helped part go to the share that posted it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Help()
    {
        if (!Enabled) return;
        Interlocked.Increment(ref _helpers);
        while (Volatile.Read(ref _running) > 0)
        {
            // No PAUSE (Thread.SpinWait) in these waits: they are short, and with it one measured run had millisecond stalls.
            foreach (var slot in _slots) slot.TryHelp();
        }
    }

    /// <summary>One share's channel to the helpers: at most one posted part at a time.</summary>
    internal sealed class Slot(ShareHelp owner)
    {
        private const int Idle = 0, Posted = 1, Taken = 2, Done = 3;
        private int _state;
        private IParallelTask? _task;
        private Exception? _error;

        /// <summary>Threads the share's products may be split into right now.</summary>
        public int Threads => owner.HelperWaiting ? 2 : 1;

        /// <summary>Runs both parts of <paramref name="task"/>: the second on a helper if one takes it in time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(IParallelTask task)
        {
            if (!owner.HelperWaiting)
            {
                task.Execute(0, 1);
                return;
            }
            _error = null;
            _task = task;
            Volatile.Write(ref _state, Posted);
            Exception? mine = null;
            try { task.Execute(0, 2); }
            catch (Exception e) { mine = e; }
            if (!owner.OwnerWaitsForHelper && Interlocked.CompareExchange(ref _state, Taken, Posted) == Posted)
            {
                // Nobody took it: do it here.
                try { task.Execute(1, 2); }
                catch (Exception e) { mine ??= e; }
            }
            else
                while (Volatile.Read(ref _state) != Done) { }
            _task = null;
            Volatile.Write(ref _state, Idle);
            if ((mine ?? _error) is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }

        /// <summary>A helper's turn: runs the posted part, if any.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void TryHelp()
        {
            if (Volatile.Read(ref _state) != Posted || Interlocked.CompareExchange(ref _state, Taken, Posted) != Posted) return;
            try { _task!.Execute(1, 2); }
            catch (Exception e) { _error = e; }
            Interlocked.Increment(ref owner._helpedParts);
            Volatile.Write(ref _state, Done);
        }
    }
}

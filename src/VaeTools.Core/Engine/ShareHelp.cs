using System.Runtime.CompilerServices;
using VaeTools.Internal;

namespace VaeTools.Engine;

/// <summary>
/// Lets the threads of a data-parallel step that have finished their own share of the batch help with the shares
/// still running, so that a thread slowed down (this machine's cores are shared and their speed varies from one
/// millisecond to the next) does not hold up the step while the others wait.
/// </summary>
/// <remarks>
/// <para>Each share's graph runs its products on a pool from <see cref="CreatePool"/>. That pool reports one thread while
/// nobody is free to help, so a product is computed whole as before, and two threads once a helper is waiting; the
/// product is then split in two parts and the helper takes the second part (the owner takes it back if the helper has
/// not started it by the time the first part is done). The engine's products give bitwise the same result for any
/// split (see <see cref="Gemm"/>), so who computes what never changes the numbers.</para>
/// <para>Each share has one slot, whose state goes Idle, Posted, then Taken, then (if a helper took it) Done, then Idle:</para>
/// <list type="number">
/// <item><b>Idle to Posted</b>, by the owner (the thread running the share), at the start of a product while a helper
/// is waiting: it stores the product, publishes Posted, and computes the first half.</item>
/// <item><b>Posted to Taken</b>, by whichever thread wins one compare-exchange: a helper (<see cref="Help"/> polls the
/// slots) before it starts the second half, or the owner once its first half is done. Exactly one thread computes the
/// second half.</item>
/// <item><b>Taken to Done</b>, by the helper, after the second half (its exception, if any, stored first).</item>
/// <item><b>back to Idle</b>, by the owner: at once if it took the second half itself, else after spinning until Done,
/// because the product's output must be whole before its share goes on. Then it rethrows the first error of either
/// half.</item>
/// </list>
/// <para>The owner never waits for a half that is still Posted: the host takes a vCPU away for milliseconds at a time,
/// and a helper that is not running must not hold up the share it meant to help (taking it back costs nothing, the
/// compare-exchange decides). It only waits for a half a helper has started, which is running. Tests make the owner
/// wait for Posted halves too (<c>TestHooks.OwnerWaitsForHelper</c>), so that help is certain however the threads are
/// scheduled.</para>
/// <para>Measured when it was added (commit a60424f, 2026-11-21, and README, "Data-parallel training"; neither records
/// the exact command): inside one training run with 2 threads, 3 epochs, help switched on and off every 10 steps, the
/// mean parallel (replica) phase of a step took 2236 against 2292 us and 2173 against 2214 us (2% less), more when the
/// cores are unevenly loaded. Cutting a product into 4 parts taken one at a time instead of two halves was slower
/// (mean step 4090 against 3984 us, in-run; README, "Tried and measured slower or no better"), and a PAUSE in the
/// waits gave millisecond stalls in one run.</para>
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

    /// <summary>Whether a thread is waiting to help (from then on until the step's shares are all done).</summary>
    internal bool HelperWaiting => Volatile.Read(ref _helpers) > 0;

    /// <summary>
    /// Called by a thread with no share left: takes the second part of the other shares' products until every share
    /// of the step is done. Exceptions of a helped part go to the share that posted it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Help()
    {
        if (TestHooks.Current is { NoShareHelp: true }) return;
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
            if (TestHooks.Current is not { OwnerWaitsForHelper: true } && Interlocked.CompareExchange(ref _state, Taken, Posted) == Posted)
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
            if (TestHooks.Current is { } hooks) Interlocked.Increment(ref hooks.HelpedParts);
            Volatile.Write(ref _state, Done);
        }
    }
}

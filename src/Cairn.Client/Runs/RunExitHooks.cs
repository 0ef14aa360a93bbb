using System.Collections.Concurrent;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// Ends the runs still open when the process goes away, so their queued metrics are not lost:
/// FINISHED on a normal exit (as MLflow's atexit hook does), KILLED after Ctrl-C, FAILED on an unhandled exception.
/// Ctrl-C itself only flushes: the program may cancel the key press and carry on.
/// </summary>
internal static class RunExitHooks
{
    private static readonly ConcurrentDictionary<ActiveRun, byte> s_open = new();
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);
    private static int s_installed;
    private static volatile bool s_cancelKeyPressed;

    public static void Register(ActiveRun run)
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => EndAll(s_cancelKeyPressed ? RunStatus.KILLED : RunStatus.FINISHED);
            AppDomain.CurrentDomain.UnhandledException += (_, e) => { if (e.IsTerminating) EndAll(RunStatus.FAILED); };
            Console.CancelKeyPress += (_, _) => OnCancelKeyPress();
        }
        s_open.TryAdd(run, 0);
    }

    public static void Unregister(ActiveRun run) => s_open.TryRemove(run, out _);

    /// <summary>The runs a process exit would end now.</summary>
    internal static IReadOnlyCollection<ActiveRun> Open => s_open.Keys.ToList();

    internal static void EndAll(RunStatus status)
    {
        // In parallel: the exit budget is shared by all open runs.
        Parallel.ForEach(s_open.Keys.ToList(), run => run.EndFromExitHook(status, s_timeout));
    }

    internal static void OnCancelKeyPress()
    {
        s_cancelKeyPressed = true;
        Parallel.ForEach(s_open.Keys.ToList(), run => run.FlushFromExitHook(s_timeout));
    }
}

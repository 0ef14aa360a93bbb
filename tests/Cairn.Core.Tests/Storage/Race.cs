namespace Cairn.Tests.Storage;

/// <summary>Concurrent calls released together, for the races a store must settle (row locks, upserts).</summary>
internal static class Race
{
    /// <summary>How many races each concurrency test runs: enough that a check-then-act store loses one of them.</summary>
    public const int Rounds = 25;

    /// <summary>Starts every action on its own thread at one signal and returns each one's error (null when it succeeded).</summary>
    public static async Task<Exception?[]> RunAsync(params Func<Task>[] actions)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ready = new CountdownEvent(actions.Length);
        var tasks = actions.Select(action => Task.Run(async () =>
        {
            ready.Signal();
            await go.Task;
            try
            {
                await action();
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        })).ToList();
        ready.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        go.SetResult();
        // A race that deadlocks must fail the test, not hang it.
        return await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
    }
}

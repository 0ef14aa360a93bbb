using System.Diagnostics;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Cairn.Tests.Serving;

/// <summary>The prediction log's queue, writer, sampling and retention over a real SQLite file.</summary>
public sealed class PredictionLogTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _directory.Dispose();

    private Task<CairnStores> OpenAsync(TimeProvider? time = null) =>
        CairnStores.OpenAsync(_directory.Combine("log.db"), new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts"), TimeProvider = time ?? TimeProvider.System }, Ct);

    private static async Task<List<string>> LoggedIdsAsync(CairnStores stores)
    {
        var ids = new List<string>();
        await foreach (var rows in stores.Predictions!.ReadAsync("churn", null, T0.AddDays(-1), T0.AddDays(1), cancellationToken: Ct))
            ids.AddRange(rows.RequestIds);
        return ids;
    }

    [Fact]
    public async Task A_full_queue_drops_and_counts_without_blocking_while_the_writer_is_held()
    {
        using var stores = await OpenAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A real write that holds the database's one writer until released: the log's writes queue behind it.
        var holder = stores.Database!.WriteAsync(async (_, _) =>
        {
            held.SetResult();
            await gate.Task;
            return 0;
        }, Ct);
        await held.Task;
        // A failed assertion must not leave the database's writer held: disposing the stores would wait for it forever.
        using var release = new ReleaseOnDispose(gate);

        // The writer may take a group while the requests arrive (it races the loop below), so the bound is the queue plus
        // one group: both 8 here.
        var log = PredictionLog.Open(stores, new PredictionLogOptions { QueueCapacity = 8, MaxRequestsPerWrite = 8 });
        var accepted = new List<string>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 200; i++)
        {
            var id = $"r{i:D3}";
            if (log.TryAppend(PredictionStoreContract.Batch(id, T0.AddMilliseconds(i), 2, i))) accepted.Add(id);
        }
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"200 appends took {clock.Elapsed}");
        // The queue holds 8; the writer holds the one group it took before its write blocked (at most 8).
        Assert.InRange(accepted.Count, 8, 8 + 8);
        Assert.Equal(200 - accepted.Count, log.Dropped);
        Assert.Equal(0, log.Written);

        gate.SetResult();
        await holder;
        await log.FlushAsync(Ct);
        Assert.Equal(accepted.Count * 2, log.Written);
        Assert.Equal(accepted.SelectMany(id => new[] { id, id }).Order(StringComparer.Ordinal), (await LoggedIdsAsync(stores)).Order(StringComparer.Ordinal));
        Assert.Null(log.Problem);
        await log.DisposeAsync();
    }

    [Fact]
    public async Task Many_requests_are_written_in_few_transactions()
    {
        using var stores = await OpenAsync();
        await using (var log = PredictionLog.Open(stores, new PredictionLogOptions { QueueCapacity = 5000 }))
        {
            for (var i = 0; i < 3000; i++) Assert.True(log.TryAppend(PredictionStoreContract.Batch($"r{i}", T0.AddMilliseconds(i), 1, i)));
        }
        // Dispose flushed everything.
        Assert.Equal(3000, (await LoggedIdsAsync(stores)).Count);
        await using var c = await stores.Database!.OpenReadConnectionAsync(Ct);
        await using var command = c.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM prediction_blocks";
        var blocks = Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(blocks, 1, 300);
    }

    [Fact]
    public void Sampling_is_decided_by_the_request_id_alone_and_matches_the_rate()
    {
        var ids = Enumerable.Range(0, 20_000).Select(i => $"req-{i}").ToArray();
        foreach (var rate in new[] { 0.01, 0.1, 0.3, 0.5, 0.9 })
        {
            var inside = ids.Count(id => PredictionLog.IsSampled(id, rate));
            Assert.InRange(inside / (double)ids.Length, rate - 0.015, rate + 0.015);
        }
        Assert.All(ids.Take(100), id => Assert.Equal(PredictionLog.IsSampled(id, 0.37), PredictionLog.IsSampled(new string(id.ToCharArray()), 0.37)));
        // A request in at a rate is in at every higher rate.
        Assert.All(ids.Take(2000), id => Assert.True(!PredictionLog.IsSampled(id, 0.2) || PredictionLog.IsSampled(id, 0.6)));
        Assert.All(ids.Take(100), id => Assert.True(PredictionLog.IsSampled(id, 1)));
        Assert.All(ids.Take(100), id => Assert.False(PredictionLog.IsSampled(id, 0)));
    }

    [Fact]
    public async Task A_sampled_log_keeps_whole_requests_chosen_by_their_id()
    {
        using var stores = await OpenAsync();
        var ids = Enumerable.Range(0, 400).Select(i => $"s{i}").ToList();
        await using (var log = PredictionLog.Open(stores, new PredictionLogOptions { SampleRate = 0.25 }))
        {
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
                Assert.Equal(PredictionLog.IsSampled(id, 0.25), log.TryAppend(PredictionStoreContract.Batch(id, T0.AddMilliseconds(i), 3, i)));
            await log.FlushAsync(Ct);
            Assert.Equal(ids.Count(id => !PredictionLog.IsSampled(id, 0.25)), log.SampledOut);
            Assert.Equal(0, log.Dropped);
        }
        var logged = await LoggedIdsAsync(stores);
        var expected = ids.Where(id => PredictionLog.IsSampled(id, 0.25)).ToList();
        Assert.Equal(expected.SelectMany(id => new[] { id, id, id }).Order(StringComparer.Ordinal), logged.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_batch_carrying_its_deployments_rate_is_sampled_at_that_rate_instead_of_the_logs()
    {
        using var stores = await OpenAsync();
        var ids = Enumerable.Range(0, 400).Select(i => $"d{i}").ToList();
        await using (var log = PredictionLog.Open(stores, new PredictionLogOptions { SampleRate = 0.25 }))
        {
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
            {
                // Even ids come from a deployment that keeps everything, odd ones from one that keeps nothing.
                var batch = PredictionStoreContract.Batch(id, T0.AddMilliseconds(i), 1, i) with { SampleRate = i % 2 == 0 ? 1 : 0 };
                Assert.Equal(i % 2 == 0, log.TryAppend(batch));
            }
            await log.FlushAsync(Ct);
            Assert.Equal(200, log.SampledOut);
        }
        Assert.Equal(ids.Where((_, i) => i % 2 == 0).Order(StringComparer.Ordinal), (await LoggedIdsAsync(stores)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_failed_write_is_counted_and_shown_and_the_log_goes_on()
    {
        var stores = await OpenAsync();
        var log = PredictionLog.Open(stores, new PredictionLogOptions());
        stores.Dispose(); // the database is gone: every write fails
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("lost", T0, 4, 1)));
        await log.FlushAsync(Ct);
        Assert.Equal(4, log.Failed);
        Assert.Contains("last write failed", log.Problem);
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("lost-too", T0, 1, 1))); // still taking requests, never blocking
        await log.DisposeAsync();
    }

    /// <summary>A store whose write brings the loop down (a failure no real database produces on demand).</summary>
    private sealed class LoopKillingStore : IPredictionStore
    {
        public Task AppendAsync(IReadOnlyList<PredictionBatch> batches, CancellationToken cancellationToken = default) =>
            throw new InsufficientMemoryException("simulated");

        public Task<long> PruneAsync(DateTimeOffset? olderThan, long? maxRows, CancellationToken cancellationToken = default) => Task.FromResult(0L);
    }

    [Fact]
    public async Task A_dead_writer_shows_its_problem_and_refuses_at_once()
    {
        var log = new PredictionLog(new LoopKillingStore());
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("first", T0, 1, 1)));
        await log.Writer.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Contains("writer stopped", log.Problem);
        Assert.Contains("simulated", log.Problem);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 100; i++) Assert.False(log.TryAppend(PredictionStoreContract.Batch($"r{i}", T0, 1, i)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1));
        Assert.Equal(100, log.Dropped);
        await log.FlushAsync(Ct); // returns: nothing waits on a dead writer
        await log.DisposeAsync();
    }

    [Fact]
    public async Task Retention_prunes_by_age_and_bad_options_are_refused()
    {
        var time = new FakeTimeProvider(T0);
        using var stores = await OpenAsync(time);
        await using var log = PredictionLog.Open(stores, new PredictionLogOptions { MaxAge = TimeSpan.FromHours(1), PruneInterval = TimeSpan.FromMinutes(1) });
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("old", T0.AddHours(-3), 2, 1)));
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("recent", T0.AddMinutes(-10), 2, 2)));
        await log.FlushAsync(Ct);
        Assert.Equal(4, (await LoggedIdsAsync(stores)).Count);
        // The writer prunes once the interval has passed, after its next write.
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(log.TryAppend(PredictionStoreContract.Batch("now", time.GetUtcNow(), 1, 3)));
        await log.FlushAsync(Ct);
        Assert.Equal(["now", "recent", "recent"], (await LoggedIdsAsync(stores)).Order(StringComparer.Ordinal));
        Assert.Equal(0, await log.PruneAsync(Ct));

        Assert.Contains("sample rate", Assert.Throws<InvalidParameterValueException>(() => PredictionLog.Open(stores, new PredictionLogOptions { SampleRate = 1.5 })).Message);
        Assert.Contains("queue capacity", Assert.Throws<InvalidParameterValueException>(() => PredictionLog.Open(stores, new PredictionLogOptions { QueueCapacity = 0 })).Message);
    }

    private sealed class ReleaseOnDispose(TaskCompletionSource gate) : IDisposable
    {
        public void Dispose() => gate.TrySetResult();
    }
}

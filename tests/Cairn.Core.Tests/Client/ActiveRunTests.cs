using Cairn.Client;
using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.Extensions.Logging;

namespace Cairn.Tests.Client;

/// <summary>The run logger: bulk calls, artifacts, starting by experiment id, the bounded queue and a writer that stops.</summary>
public sealed class ActiveRunTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private async Task<(CairnClient Client, SlowTrackingStore Slow)> OpenSlowAsync(TimeSpan delay, RunLoggerOptions logger)
    {
        var inner = await CairnStores.OpenAsync(_dir.Path, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var (store, slow) = SlowTrackingStore.Wrap(inner.Tracking, delay);
        return (CairnClient.Over(store, new CairnClientOptions { RunLogger = logger }), slow);
    }

    [Fact]
    public async Task Dictionaries_of_params_metrics_and_tags_are_logged_and_a_bad_key_refuses_the_whole_call()
    {
        using var client = await CairnClient.OpenAsync(_dir.Path, cancellationToken: Ct);
        string runId;
        using (var run = client.StartRun("bulk"))
        {
            runId = run.RunId;
            run.LogParams(new Dictionary<string, object> { ["lr"] = 0.5, ["trees"] = 100, ["deep"] = true });
            run.LogMetrics(new Dictionary<string, double> { ["loss"] = 0.25, ["acc"] = 0.75 }, step: 3);
            run.SetTags(new Dictionary<string, string> { ["team"] = "ml", ["phase"] = "train" });
            Assert.Throws<InvalidParameterValueException>(() => run.LogParams(new Dictionary<string, string> { ["ok"] = "1", [""] = "2" }));
            Assert.Throws<InvalidParameterValueException>(() => run.SetTags(new Dictionary<string, string> { ["fine"] = "1", ["../bad"] = "2" }));
            Assert.Throws<InvalidParameterValueException>(() => run.LogMetrics(new Dictionary<string, double> { ["good"] = 1, [""] = 2 }));
        }
        var stored = await client.Store.GetRunAsync(runId, Ct);
        Assert.Equal([("deep", "True"), ("lr", "0.5"), ("trees", "100")], stored.Data.Params.Select(p => (p.Key, p.Value)).Order());
        Assert.Equal([("acc", 0.75, 3L), ("loss", 0.25, 3L)], stored.Data.Metrics.Select(m => (m.Key, m.Value, m.Step)).Order());
        var tags = stored.Data.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(("ml", "train"), (tags["team"], tags["phase"]));
        Assert.DoesNotContain("ok", stored.Data.Params.Select(p => p.Key));
        Assert.DoesNotContain("fine", tags.Keys);
        Assert.DoesNotContain("good", stored.Data.Metrics.Select(m => m.Key));
    }

    [Fact]
    public async Task A_file_and_a_folder_are_logged_as_artifacts()
    {
        using var client = await CairnClient.OpenAsync(_dir.Path, cancellationToken: Ct);
        var file = _dir.Combine("in", "report.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, "hello", Ct);
        var folder = _dir.Combine("in", "model");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        await File.WriteAllTextAsync(Path.Combine(folder, "MLmodel"), "flavors: {}", Ct);
        await File.WriteAllTextAsync(Path.Combine(folder, "sub", "w.bin"), "w", Ct);

        using var run = client.StartRun("artifacts");
        Assert.Equal(["report.txt"], run.LogArtifact(file));
        Assert.Equal(["model/MLmodel", "model/sub/w.bin"], await run.LogArtifactsAsync(folder, "model", Ct));
        Assert.Throws<ResourceDoesNotExistException>(() => run.LogArtifacts(file));

        var top = await client.ListArtifactsAsync(run.RunId, cancellationToken: Ct);
        Assert.Equal(["model", "report.txt"], top.Files.Select(f => f.Path));
        var dest = _dir.Combine("out");
        await client.DownloadArtifactsAsync(run.RunId, null, dest, Ct);
        Assert.Equal("w", await File.ReadAllTextAsync(Path.Combine(dest, "model", "sub", "w.bin"), Ct));
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(dest, "report.txt"), Ct));
    }

    [Fact]
    public async Task StartRun_by_experiment_id_uses_that_experiment_and_refuses_unknown_deleted_or_ambiguous_ones()
    {
        using var client = await CairnClient.OpenAsync(_dir.Path, cancellationToken: Ct);
        var id = await client.Store.CreateExperimentAsync("by-id", cancellationToken: Ct);
        string runId;
        using (var run = await client.StartRunAsync(new StartRunOptions { ExperimentId = id, RunName = "r1", Tags = new Dictionary<string, string> { ["k"] = "v" } }, Ct))
        {
            Assert.Equal(id, run.ExperimentId);
            runId = run.RunId;
        }
        var stored = await client.Store.GetRunAsync(runId, Ct);
        Assert.Equal(("r1", RunStatus.FINISHED), (stored.Info.RunName, stored.Info.Status));
        Assert.Equal("LOCAL", stored.Data.Tags.Single(t => t.Key == SystemTags.SourceType).Value);
        Assert.Equal("v", stored.Data.Tags.Single(t => t.Key == "k").Value);

        Assert.Throws<ResourceDoesNotExistException>(() => client.StartRun(new StartRunOptions { ExperimentId = "424242" }));
        var both = Assert.Throws<InvalidParameterValueException>(() => client.StartRun(new StartRunOptions { ExperimentId = id, ExperimentName = "by-id" }));
        Assert.Contains("exactly one", both.Message);
        Assert.Throws<InvalidParameterValueException>(() => client.StartRun(new StartRunOptions()));
        await client.Store.DeleteExperimentAsync(id, Ct);
        var deleted = Assert.Throws<InvalidParameterValueException>(() => client.StartRun(new StartRunOptions { ExperimentId = id }));
        Assert.Contains("deleted", deleted.Message);
    }

    [Fact]
    public async Task A_producer_faster_than_the_store_is_held_to_the_queue_capacity_and_nothing_is_lost()
    {
        const int capacity = 8, count = 200;
        var (client, slow) = await OpenSlowAsync(TimeSpan.FromMilliseconds(20), new RunLoggerOptions { QueueCapacity = capacity });
        using (client)
        {
            var run = client.StartRun("bounded");
            int maxQueued = 0;
            await Task.Run(() =>
            {
                for (int i = 0; i < count; i++)
                {
                    run.LogMetric("m", i, step: i);
                    maxQueued = Math.Max(maxQueued, run.QueueLength);
                }
            }, Ct);
            run.Dispose();
            Assert.InRange(maxQueued, 1, capacity);
            Assert.Equal(0, run.DroppedCount);
            Assert.Equal(count, (await client.Store.GetFullMetricHistoryAsync(run.RunId, "m", Ct)).Count);
            // Unbounded, the 200 points would have been queued in microseconds and sent in one or two batches;
            // held to 8 queued (plus the batch in flight), they need at least 200 / 16 writes.
            Assert.True(slow.Writes >= count / (2 * capacity), $"{slow.Writes} writes");
        }
    }

    [Fact]
    public async Task In_drop_mode_a_full_queue_drops_new_items_and_counts_them()
    {
        const int capacity = 8, count = 2000;
        var logs = new ListLoggerFactory();
        var (client, slow) = await OpenSlowAsync(TimeSpan.FromMilliseconds(200),
            new RunLoggerOptions { QueueCapacity = capacity, FullMode = RunQueueFullMode.Drop, LoggerFactory = logs });
        using (client)
        {
            var run = client.StartRun("dropping");
            int maxQueued = 0;
            for (int i = 0; i < count; i++)
            {
                run.LogMetric("m", i, step: i);
                maxQueued = Math.Max(maxQueued, run.QueueLength);
            }
            Assert.InRange(maxQueued, 1, capacity);
            await run.EndAsync(cancellationToken: Ct);
            var stored = (await client.Store.GetFullMetricHistoryAsync(run.RunId, "m", Ct)).Count;
            Assert.True(run.DroppedCount > 0, "nothing dropped");
            Assert.Equal(count, stored + run.DroppedCount);
            Assert.Contains(logs.Entries, e => e.EventId == 3004 && e.Level == LogLevel.Warning);
            Assert.Contains(logs.Entries, e => e.EventId == 3005 && e.Message.Contains(run.DroppedCount.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(slow.Writes > 0);
        }
    }

    [Fact]
    public async Task A_writer_stopped_by_its_store_fails_a_blocked_producer_flush_and_dispose_instead_of_hanging()
    {
        var logs = new ListLoggerFactory();
        var inner = await CairnStores.OpenAsync(_dir.Path, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var (store, _) = SlowTrackingStore.Wrap(inner.Tracking, TimeSpan.FromMilliseconds(100));
        using var client = CairnClient.Over(store, new CairnClientOptions { RunLogger = new RunLoggerOptions { QueueCapacity = 4, LoggerFactory = logs } });
        var run = client.StartRun("stopping");

        // The producer fills the queue and blocks on it while the slow store writes.
        var producer = Task.Run(() => { for (int i = 0; i < 1000; i++) run.LogMetric("m", i, step: i); }, Ct);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (run.QueueLength < 4 && DateTime.UtcNow < deadline) await Task.Delay(5, Ct);
        Assert.Equal(4, run.QueueLength);
        Assert.False(producer.IsCompleted);

        store.Dispose(); // the store goes away under the running logger: nothing can be written any more

        var blocked = await Assert.ThrowsAsync<CairnException>(() => producer.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(ErrorCode.INVALID_STATE, blocked.ErrorCode);
        Assert.IsType<ObjectDisposedException>(blocked.InnerException);
        var flush = await Assert.ThrowsAsync<CairnException>(() => run.FlushAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Contains("stopped", flush.Message);
        Assert.Throws<CairnException>(() => run.LogMetric("after", 1));
        var dispose = await Assert.ThrowsAsync<CairnException>(() => Task.Run(run.Dispose, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(ErrorCode.INVALID_STATE, dispose.ErrorCode);
        Assert.True(run.IsEnded);
        Assert.Contains(logs.Entries, e => e.EventId == 3006 && e.Level == LogLevel.Error);
    }

    [Fact]
    public async Task A_store_shut_down_under_a_blocked_producer_fails_it_and_dispose_instead_of_hanging()
    {
        var inner = await CairnStores.OpenAsync(_dir.Path, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var (store, _) = SlowTrackingStore.Wrap(inner.Tracking, TimeSpan.FromMilliseconds(100));
        using var client = CairnClient.Over(store, new CairnClientOptions { RunLogger = new RunLoggerOptions { QueueCapacity = 4 } });
        var run = client.StartRun("shutting-down");
        var producer = Task.Run(() => { for (int i = 0; i < 1000; i++) run.LogMetric("m", i, step: i); }, Ct);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (run.QueueLength < 4 && DateTime.UtcNow < deadline) await Task.Delay(5, Ct);
        Assert.False(producer.IsCompleted);

        inner.Dispose(); // the real SQLite store shuts down: its writes now fail with TEMPORARILY_UNAVAILABLE

        var error = await Assert.ThrowsAsync<CairnException>(() => producer.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        await Assert.ThrowsAnyAsync<CairnException>(() => Task.Run(run.Dispose, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.True(run.IsEnded);
    }

    [Fact]
    public async Task Queue_capacity_below_one_is_refused_naming_the_setting()
    {
        using var client = await CairnClient.OpenAsync(_dir.Path, new CairnClientOptions { RunLogger = new RunLoggerOptions { QueueCapacity = 0 } }, Ct);
        var error = Assert.Throws<InvalidParameterValueException>(() => client.StartRun("zero"));
        Assert.Contains("QueueCapacity", error.Message);
    }

    /// <summary>Collects log entries in memory.</summary>
    private sealed class ListLoggerFactory : ILoggerFactory
    {
        private readonly List<(int EventId, LogLevel Level, string Message)> _entries = [];

        public IReadOnlyList<(int EventId, LogLevel Level, string Message)> Entries
        {
            get { lock (_entries) return _entries.ToList(); }
        }

        public ILogger CreateLogger(string categoryName) => new ListLogger(this);
        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();
        public void Dispose() { }

        private sealed class ListLogger(ListLoggerFactory owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner._entries) owner._entries.Add((eventId.Id, logLevel, formatter(state, exception)));
            }
        }
    }
}

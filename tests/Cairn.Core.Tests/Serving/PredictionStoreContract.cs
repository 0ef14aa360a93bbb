using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Storage;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Cairn.Tests.Serving;

/// <summary>What the prediction log store does on every backend: round trip of every column type, windows, paging, feedback, retention.</summary>
public abstract class PredictionStoreContract : IAsyncDisposable
{
    protected abstract Task<CairnStores> CreateStoresAsync();

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private async Task<SqlPredictionStore> StoreAsync() => (await CreateStoresAsync()).Predictions!;

    /// <summary>A request of <paramref name="rows"/> rows whose values derive from <paramref name="seed"/> (so a reader can recompute them).</summary>
    internal static PredictionBatch Batch(string requestId, DateTimeOffset time, int rows, int seed, string deployment = "churn", string? version = "3",
        bool shadow = false) =>
        new(requestId, deployment, "churn-model", version, time, 1.5 + seed, rows,
            [
                new("age", Enumerable.Range(0, rows).Select(i => (double)(seed * 1000 + i)).ToArray()),
                new("plan", Enumerable.Range(0, rows).Select(i => i % 3 == 0 ? null : $"p{seed}-{i}").ToArray()),
                new("visits", Enumerable.Range(0, rows).Select(i => (long)i * seed).ToArray()),
            ],
            [
                new("label", Enumerable.Range(0, rows).Select(i => (i + seed) % 2 == 0).ToArray()),
                new("score", Enumerable.Range(0, rows).Select(i => (float)(i * 0.25)).ToArray()),
                new("probabilities", Enumerable.Range(0, rows).Select(i => new[] { i * 0.1f, 1 - i * 0.1f }).ToArray()),
            ], shadow);

    private static async Task<List<PredictionRows>> ReadAllAsync(SqlPredictionStore store, string deployment, DateTimeOffset start, DateTimeOffset end,
        string? version = null, int pageRows = 1000)
    {
        var all = new List<PredictionRows>();
        await foreach (var rows in store.ReadAsync(deployment, version, start, end, pageRows, Ct)) all.Add(rows);
        return all;
    }

    [Fact]
    public async Task Rows_come_back_as_the_columns_they_were_logged_with()
    {
        var store = await StoreAsync();
        var doubles = new[] { 0.0, -0.0, double.NaN, double.PositiveInfinity, double.MinValue, 1e-300 };
        await store.AppendAsync(
        [
            Batch("r1", T0, 3, 1),
            Batch("r2", T0.AddSeconds(1), 2, 2),
            new("r3", "churn", null, null, T0.AddSeconds(2), 0.25, doubles.Length,
                [new("x", doubles), new("n", new[] { 1, -2, int.MaxValue, 0, 5, 6 }), new("t", new[] { new[] { 1.0 }, [], [2.0, 3.0], [4.0], [5.0], [6.0] })],
                [new("y", new[] { "é", "", "a\0b", "z", null, "日本" })]),
        ], Ct);

        var parts = await ReadAllAsync(store, "churn", T0, T0.AddMinutes(1));
        Assert.Equal(2, parts.Count); // two layouts (and versions): two blocks
        var first = parts.Single(p => p.ModelVersion == "3");
        Assert.Equal(["r1", "r1", "r1", "r2", "r2"], first.RequestIds);
        Assert.Equal([0, 1, 2, 0, 1], first.RowIndexes);
        Assert.Equal([2.5, 2.5, 2.5, 3.5, 3.5], first.LatencyMs);
        Assert.Equal(T0.AddSeconds(1).ToUnixTimeMilliseconds(), first.TimesMs[4]);
        Assert.Equal("churn-model", first.ModelName);
        Assert.False(first.Shadow);
        Assert.Equal(["age", "plan", "visits"], first.Inputs.Select(c => c.Key));
        Assert.Equal([1000.0, 1001, 1002, 2000, 2001], (double[])first.Inputs[0].Value);
        Assert.Equal(new string?[] { null, "p1-1", "p1-2", null, "p2-1" }, ((string?[])first.Inputs[1].Value).AsEnumerable());
        Assert.Equal([0L, 1, 2, 0, 2], (long[])first.Inputs[2].Value);
        Assert.Equal([false, true, false, true, false], (bool[])first.Outputs[0].Value);
        Assert.Equal([0f, 0.25f, 0.5f, 0f, 0.25f], (float[])first.Outputs[1].Value);
        Assert.Equal([0.1f, 0.9f], ((float[][])first.Outputs[2].Value)[1]);

        var folder = parts.Single(p => p.ModelVersion is null);
        Assert.Null(folder.ModelName);
        Assert.Equal(doubles, (double[])folder.Inputs[0].Value); // bit for bit, NaN and -0 included
        Assert.True(double.IsNegative(((double[])folder.Inputs[0].Value)[1]));
        Assert.Equal([1, -2, int.MaxValue, 0, 5, 6], (int[])folder.Inputs[1].Value);
        Assert.Equal([2.0, 3.0], ((double[][])folder.Inputs[2].Value)[2]);
        Assert.Empty(((double[][])folder.Inputs[2].Value)[1]);
        Assert.Equal(new string?[] { "é", "", "a\0b", "z", null, "日本" }, ((string?[])folder.Outputs[0].Value).AsEnumerable());
    }

    [Fact]
    public async Task A_window_holds_exactly_the_rows_whose_request_arrived_in_it_and_filters_by_version()
    {
        var store = await StoreAsync();
        // One request every 10 s for 5 minutes, versions alternating, plus another deployment and a shadow.
        var batches = new List<PredictionBatch>();
        for (var i = 0; i < 30; i++)
            batches.Add(Batch($"r{i}", T0.AddSeconds(10 * i), 2, i, version: i % 2 == 0 ? "1" : "2"));
        batches.Add(Batch("other", T0.AddSeconds(30), 4, 99, deployment: "fraud"));
        batches.Add(Batch("r5", T0.AddSeconds(50), 2, 5, version: "9", shadow: true));
        await store.AppendAsync(batches, Ct);

        // 00:00:45 to 00:02:15: requests 5..13 (9 requests, 18 rows), plus the shadow of r5.
        var start = T0.AddSeconds(45);
        var end = T0.AddSeconds(135);
        var parts = await ReadAllAsync(store, "churn", start, end);
        var ids = parts.Where(p => !p.Shadow).SelectMany(p => p.RequestIds).Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Enumerable.Range(5, 9).Select(i => $"r{i}").Order(StringComparer.Ordinal), ids);
        Assert.All(parts.SelectMany(p => p.TimesMs), t => Assert.InRange(t, start.ToUnixTimeMilliseconds(), end.ToUnixTimeMilliseconds() - 1));
        var shadow = Assert.Single(parts, p => p.Shadow);
        Assert.Equal(["r5", "r5"], shadow.RequestIds);
        Assert.Equal("9", shadow.ModelVersion);
        // Inputs stay aligned with their request after the edge filtering.
        foreach (var part in parts)
            for (var i = 0; i < part.Count; i++)
            {
                var seed = int.Parse(part.RequestIds[i][1..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(seed * 1000 + part.RowIndexes[i], ((double[])part.Inputs[0].Value)[i]);
            }

        var v2 = await ReadAllAsync(store, "churn", start, end, version: "2");
        Assert.Equal(["r11", "r13", "r5", "r7", "r9"], v2.SelectMany(p => p.RequestIds).Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(await ReadAllAsync(store, "churn", T0.AddHours(1), T0.AddHours(2)));
        Assert.Equal(4, (await ReadAllAsync(store, "fraud", T0, end)).Sum(p => p.Count));
    }

    [Fact]
    public async Task Pages_are_bounded_and_together_hold_every_row_once()
    {
        var store = await StoreAsync();
        var batches = Enumerable.Range(0, 40).Select(i => Batch($"q{i:D2}", T0.AddSeconds(i * 3), 7, i)).ToList();
        batches.Add(Batch("big", T0.AddSeconds(1), 500, 77)); // one request larger than a page
        await store.AppendAsync(batches, Ct);

        var seen = new List<(string, int)>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await store.ReadPageAsync("churn", null, T0, T0.AddMinutes(10), 64, token, Ct);
            Assert.InRange(page.RowCount, 1, 64);
            seen.AddRange(page.Rows.SelectMany(p => p.RequestIds.Zip(p.RowIndexes)));
            token = page.NextPageToken;
            pages++;
        } while (token is not null);
        Assert.Equal(40 * 7 + 500, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.True(pages >= (40 * 7 + 500) / 64);

        var firstToken = (await store.ReadPageAsync("churn", null, T0, T0.AddMinutes(10), 64, null, Ct)).NextPageToken;
        var other = await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ReadPageAsync("churn", "3", T0, T0.AddMinutes(10), 64, firstToken, Ct));
        Assert.Contains("different query", other.Message);
        Assert.Contains("not a token", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ReadPageAsync("churn", null, T0, T0.AddMinutes(10), 64, "garbage!", Ct))).Message);
        Assert.Contains("max_rows", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ReadPageAsync("churn", null, T0, T0.AddMinutes(10), 0, null, Ct))).Message);
        Assert.Contains("end must be after start", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ReadPageAsync("churn", null, T0, T0, 10, null, Ct))).Message);
    }

    [Fact]
    public async Task Feedback_is_recorded_per_row_against_a_logged_request()
    {
        var store = await StoreAsync();
        await store.AppendAsync([Batch("r1", T0, 3, 1), Batch("r1", T0, 3, 1, version: "4", shadow: true), Batch("r2", T0.AddMinutes(5), 1, 2)], Ct);

        Assert.Equal(new PredictionRequestInfo("churn", "r1", 3, T0.ToUnixTimeMilliseconds()), await store.FindRequestAsync("churn", "r1", Ct));
        Assert.Null(await store.FindRequestAsync("fraud", "r1", Ct));
        Assert.Null(await store.FindRequestAsync("churn", "nope", Ct));

        await store.RecordFeedbackAsync("churn", "r1", null, ["1", "0", "\"yes\""], Ct);
        await store.RecordFeedbackAsync("churn", "r2", null, ["[1,2]"], Ct);
        Time.Advance(TimeSpan.FromSeconds(5));
        await store.RecordFeedbackAsync("churn", "r1", 1, ["1"], Ct); // a correction replaces the row's value

        var window = await store.ReadFeedbackAsync("churn", T0, T0.AddMinutes(1), Ct);
        Assert.Equal([("r1", 0, "1"), ("r1", 1, "1"), ("r1", 2, "\"yes\"")], window.Select(f => (f.RequestId, f.Row, f.ValueJson)));
        Assert.All(window, f => Assert.Equal(T0.ToUnixTimeMilliseconds(), f.TimeMs));
        Assert.Equal(Time.GetUtcNow().ToUnixTimeMilliseconds(), window[1].RecordedMs);
        Assert.Equal("[1,2]", Assert.Single(await store.ReadFeedbackAsync("churn", T0.AddMinutes(1), T0.AddMinutes(10), Ct)).ValueJson);

        var missing = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.RecordFeedbackAsync("churn", "ghost", null, ["1"], Ct));
        Assert.Contains("request_id=ghost", missing.Message);
        Assert.Contains("3 rows", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.RecordFeedbackAsync("churn", "r1", null, ["1", "2"], Ct))).Message);
        Assert.Contains("row 3 is out of range", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.RecordFeedbackAsync("churn", "r1", 3, ["1"], Ct))).Message);
        Assert.Contains("out of range", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.RecordFeedbackAsync("churn", "r1", -1, ["1"], Ct))).Message);
        Assert.Contains("2 values from row 2", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.RecordFeedbackAsync("churn", "r1", 2, ["1", "0"], Ct))).Message);
    }

    [Fact]
    public async Task Prune_removes_old_blocks_their_requests_and_their_feedback()
    {
        var store = await StoreAsync();
        await store.AppendAsync([Batch("old", T0.AddHours(-5), 4, 1), Batch("mid", T0.AddHours(-1), 3, 2), Batch("new", T0, 2, 3)], Ct);
        await store.RecordFeedbackAsync("churn", "old", null, ["1", "1", "1", "1"], Ct);
        await store.RecordFeedbackAsync("churn", "new", null, ["0", "0"], Ct);

        Assert.Equal(4, await store.PruneAsync(T0.AddHours(-2), null, Ct));
        Assert.Null(await store.FindRequestAsync("churn", "old", Ct));
        Assert.Empty(await store.ReadFeedbackAsync("churn", T0.AddDays(-1), T0.AddHours(-2), Ct));
        Assert.Equal(5, (await ReadAllAsync(store, "churn", T0.AddDays(-1), T0.AddDays(1))).Sum(p => p.Count));

        // At most 2 rows: the newest block fits, the one before does not.
        Assert.Equal(3, await store.PruneAsync(null, 2, Ct));
        Assert.Equal(["new", "new"], (await ReadAllAsync(store, "churn", T0.AddDays(-1), T0.AddDays(1))).SelectMany(p => p.RequestIds));
        Assert.Equal(2, (await store.ReadFeedbackAsync("churn", T0.AddDays(-1), T0.AddDays(1), Ct)).Count);
        Assert.Equal(0, await store.PruneAsync(T0.AddHours(-2), 10, Ct));
    }

    [Fact]
    public async Task Bad_batches_are_refused_naming_the_column()
    {
        var store = await StoreAsync();
        var shortColumn = Batch("r", T0, 3, 1) with { Rows = 4 };
        Assert.Contains("Column 'age' of inputs has 3 values; the batch has 4 rows",
            (await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.AppendAsync([shortColumn], Ct))).Message);
        var decimals = Batch("r", T0, 1, 1) with { Outputs = [new("d", new[] { 1m })] };
        Assert.Contains("Column 'd' of outputs has type Decimal[]",
            (await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.AppendAsync([decimals], Ct))).Message);
        Assert.Contains("request_id", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.AppendAsync([Batch("", T0, 1, 1)], Ct))).Message);
        Assert.Empty(await ReadAllAsync(store, "churn", T0.AddDays(-1), T0.AddDays(1)));
    }
}

/// <summary>The prediction store contract over a real SQLite file per test.</summary>
public sealed class SqlitePredictionStoreTests : PredictionStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("predictions");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The prediction store contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; a schema per store, dropped afterwards.</summary>
public sealed class PostgresPredictionStoreTests : PredictionStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_predictions_", "prediction store contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

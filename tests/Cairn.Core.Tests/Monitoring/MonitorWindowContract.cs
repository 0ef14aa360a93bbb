using Cairn.Monitoring;
using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Cairn.Tests.Monitoring;

/// <summary>Monitoring windows over a real prediction log on every backend: reading, scoring, ground truth arriving late, storage and retention.</summary>
public abstract class MonitorWindowContract : IAsyncDisposable
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

    /// <summary>A binary classifier's request: <c>age</c> around <paramref name="ageShift"/>, <c>plan</c> a or b, the label and its probability.</summary>
    private static PredictionBatch Request(string id, DateTimeOffset time, int rows, double ageShift, Func<int, bool> label, string version = "1", bool shadow = false) =>
        new(id, "churn", "churn-model", version, time, 1, rows,
            [
                new("age", Enumerable.Range(0, rows).Select(i => ageShift + i % 20).ToArray()),
                new("plan", Enumerable.Range(0, rows).Select(i => i % 2 == 0 ? "a" : "b").ToArray()),
            ],
            [
                new("PredictedLabel", Enumerable.Range(0, rows).Select(label).ToArray()),
                new("Score", Enumerable.Range(0, rows).Select(i => label(i) ? 2f : -2f).ToArray()),
                new("Probability", Enumerable.Range(0, rows).Select(i => label(i) ? 0.9f : 0.1f).ToArray()),
            ], shadow);

    /// <summary>A reference like the first requests: age 0..19, plan a/b, label 1/0 half and half.</summary>
    private static MonitorReference Reference(int rows = 400) => new("train.csv", new Dictionary<string, Array>
    {
        ["age"] = Enumerable.Range(0, rows).Select(i => (double)(i % 20)).ToArray(),
        ["plan"] = Enumerable.Range(0, rows).Select(i => (string?)(i % 2 == 0 ? "a" : "b")).ToArray(),
        ["churned"] = Enumerable.Range(0, rows).Select(i => (string?)(i % 2 == 0 ? "1" : "0")).ToArray(),
    });

    private static MonitorModel Model(MonitorReference? reference) =>
        new("binary", "churned", null, new Dictionary<string, double> { ["accuracy"] = 0.91 }, reference);

    private async Task<(SqlPredictionStore Log, SqlMonitorStore Windows, WindowEvaluator Evaluator)> OpenAsync()
    {
        var stores = await CreateStoresAsync();
        return (stores.Predictions!, stores.Monitoring!, new WindowEvaluator(stores.Predictions!));
    }

    private static IReadOnlyList<MonitorWindow> Compute(WindowRows rows, IReadOnlyDictionary<(string?, string?), MonitorModel> models) =>
        WindowEvaluator.Compute(rows, new MonitorSettings(), models, 0, T0.AddHours(2), Ct);

    [Fact]
    public async Task An_empty_window_counts_no_rows_and_has_no_drift_or_performance()
    {
        var (_, _, evaluator) = await OpenAsync();
        var rows = await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct);
        var window = Assert.Single(Compute(rows, new Dictionary<(string?, string?), MonitorModel> { [("churn-model", "1")] = Model(Reference()) }));
        Assert.Equal(0, window.Rows);
        Assert.Null(window.InputDrift);
        Assert.Null(window.PredictionDrift);
        Assert.Empty(window.Performance);
        Assert.Equal((T0, T0.AddHours(1)), (window.Start, window.End));
    }

    [Fact]
    public async Task Inputs_and_predictions_are_compared_with_the_reference()
    {
        var (log, _, evaluator) = await OpenAsync();
        // age moved up by 15 (most of the reference's range); plan did not move; the model predicts churn 9 times in 10.
        await log.AppendAsync([Request("r1", T0.AddMinutes(1), 200, 15, i => i % 10 != 0), Request("r2", T0.AddMinutes(2), 200, 15, i => i % 10 != 0)], Ct);
        var rows = await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct);
        var window = Assert.Single(Compute(rows, new Dictionary<(string?, string?), MonitorModel> { [("churn-model", "1")] = Model(Reference()) }));

        Assert.Equal(400, window.Rows);
        Assert.Equal("train.csv", window.Reference);
        var drift = window.InputDrift!;
        Assert.Equal(["age", "plan"], drift.Features.Select(f => f.Name));
        var age = drift.Features[0];
        Assert.Equal(FeatureType.Numeric, age.Type);
        Assert.True(age.Drifted, $"age PSI {age.Psi}");
        Assert.Equal(400, age.CurrentCount);
        // The same statistic straight from the analyzer on the same values.
        var direct = DriftAnalyzer.Numeric(new NumericDriftColumn("age", (double[])Reference().Columns["age"],
            Enumerable.Range(0, 400).Select(i => 15.0 + i % 200 % 20).ToArray()), DriftMethod.Psi, 0.1);
        Assert.Equal(direct.Psi, age.Psi);
        var plan = drift.Features[1];
        Assert.Equal(FeatureType.Categorical, plan.Type);
        Assert.False(plan.Drifted);
        Assert.Equal(0.5, drift.DriftShare);

        // The label 1/0 in the reference and the predicted true/false compare as one category set.
        var prediction = window.PredictionDrift!;
        Assert.Equal("PredictedLabel", prediction.Name);
        Assert.True(prediction.Drifted);
        Assert.Equal(0, prediction.UnseenCategories);
        Assert.Equal(0.91, window.TrainingPerformance["accuracy"]);
    }

    [Fact]
    public async Task Ground_truth_arriving_late_adds_performance_to_a_later_evaluation()
    {
        var (log, _, evaluator) = await OpenAsync();
        await log.AppendAsync([Request("r1", T0.AddMinutes(1), 10, 0, i => i < 6)], Ct);
        var models = new Dictionary<(string?, string?), MonitorModel> { [("churn-model", "1")] = Model(null) };

        var before = Assert.Single(Compute(await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct), models));
        Assert.Equal(10, before.Rows);
        Assert.Equal(0, before.LabeledRows);
        Assert.Empty(before.Performance);
        Assert.Null(before.InputDrift); // no reference

        // Truth for 8 of the 10 rows: rows 0-3 churned (predicted churn: right), rows 4-5 did not (predicted churn: wrong),
        // rows 6-7 churned (predicted no churn: wrong); rows 8-9 have no truth yet.
        await log.RecordFeedbackAsync("churn", "r1", 0, ["true", "1", "true", "true", "false", "0", "true", "true"], Ct);
        var after = Assert.Single(Compute(await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct), models));
        Assert.Equal(8, after.LabeledRows);
        Assert.Equal(4.0 / 8, after.Performance["accuracy"]);
        Assert.Equal(4.0 / 6, after.Performance["precision"]);
        Assert.Equal(4.0 / 6, after.Performance["recall"]);
        Assert.Equal(4.0 / 6, after.Performance["f1"], 12);
        // AUC over scores +2 (rows 0-5) and -2 (rows 6-7): positives 0-3, 6-7 and negatives 4-5; pairs where the positive
        // scores higher: 4 positives at +2 vs 2 negatives at +2 tie (half each), 2 positives at -2 lose.
        Assert.Equal((4 * 2 * 0.5) / (6 * 2), after.Performance["auc"], 12);
    }

    [Fact]
    public async Task A_regressor_is_scored_with_rmse_mae_and_r2()
    {
        var (log, _, evaluator) = await OpenAsync();
        await log.AppendAsync([new PredictionBatch("q1", "price", "price-model", "2", T0.AddSeconds(5), 1, 3,
            [new("rooms", new[] { 1.0, 2, 3 })], [new("Score", new[] { 10f, 20f, 30f })])], Ct);
        await log.RecordFeedbackAsync("price", "q1", null, ["12", "20", "27"], Ct);
        var window = Assert.Single(WindowEvaluator.Compute(await evaluator.ReadAsync("price", T0, T0.AddHours(1), Ct), new MonitorSettings(),
            new Dictionary<(string?, string?), MonitorModel>(), 0, T0, Ct));
        Assert.Equal(3, window.LabeledRows);
        Assert.Equal(Math.Sqrt((4 + 0 + 9) / 3.0), window.Performance["rmse"], 12);
        Assert.Equal(5 / 3.0, window.Performance["mae"], 12);
        var mean = (12 + 20 + 27) / 3.0;
        var total = Math.Pow(12 - mean, 2) + Math.Pow(20 - mean, 2) + Math.Pow(27 - mean, 2);
        Assert.Equal(1 - 13 / total, window.Performance["r2"], 9);
    }

    [Fact]
    public async Task A_multiclass_model_is_scored_by_class_names_with_micro_and_macro_accuracy()
    {
        var (log, _, evaluator) = await OpenAsync();
        string[] predicted = ["cat", "dog", "dog", "bird", "cat"];
        await log.AppendAsync([new PredictionBatch("m1", "zoo", "zoo-model", "1", T0.AddSeconds(5), 1, 5,
            [new("weight", new[] { 4.0, 20, 25, 0.1, 3 })], [new("PredictedLabel", predicted)])], Ct);
        // Truth: cat, dog, cat, bird, fish (fish is a class the model never predicts).
        await log.RecordFeedbackAsync("zoo", "m1", null, ["\"cat\"", "\"dog\"", "\"cat\"", "\"bird\"", "\"fish\""], Ct);
        var models = new Dictionary<(string?, string?), MonitorModel>
        {
            [("zoo-model", "1")] = new("multiclass", "animal", ["bird", "cat", "dog"], new Dictionary<string, double>(), null),
        };
        var window = Assert.Single(WindowEvaluator.Compute(await evaluator.ReadAsync("zoo", T0, T0.AddHours(1), Ct), new MonitorSettings(), models, 0, T0, Ct));
        Assert.Equal(5, window.LabeledRows);
        Assert.Equal(3.0 / 5, window.Performance["accuracy"]);
        Assert.Equal(3.0 / 5, window.Performance["micro_accuracy"]);
        // Per known class present among the labels: bird 1/1, cat 1/2, dog 1/1; fish, a class the model does not know, is a
        // miss in the micro accuracy and left out of the macro average.
        Assert.Equal((1 + 0.5 + 1) / 3, window.Performance["macro_accuracy"], 12);
    }

    [Fact]
    public async Task Each_version_and_shadow_gets_its_own_window_and_a_version_without_reference_has_no_drift()
    {
        var (log, _, evaluator) = await OpenAsync();
        await log.AppendAsync(
        [
            Request("r1", T0.AddMinutes(1), 30, 0, i => i % 2 == 0, version: "1"),
            Request("r2", T0.AddMinutes(2), 10, 0, i => i % 2 == 0, version: "2"),
            Request("r2", T0.AddMinutes(2), 10, 0, i => true, version: "3", shadow: true),
        ], Ct);
        var models = new Dictionary<(string?, string?), MonitorModel>
        {
            [("churn-model", "1")] = Model(Reference()),
            [("churn-model", "2")] = Model(null),
            [("churn-model", "3")] = Model(Reference()),
        };
        var windows = Compute(await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct), models);
        Assert.Equal(4, windows.Count);
        var all = windows[0];
        Assert.Equal((null, null, false, 40L), (all.ModelName, all.ModelVersion, all.Shadow, all.Rows)); // primaries only
        Assert.NotNull(all.InputDrift); // the version with the most rows (1) has a reference
        var v1 = windows.Single(w => w.ModelVersion == "1");
        Assert.Equal((30L, false), (v1.Rows, v1.Shadow));
        Assert.NotNull(v1.InputDrift);
        var v2 = windows.Single(w => w.ModelVersion == "2");
        Assert.Equal(10, v2.Rows);
        Assert.Null(v2.InputDrift);
        Assert.Null(v2.PredictionDrift);
        var shadow = windows.Single(w => w.ModelVersion == "3");
        Assert.True(shadow.Shadow);
        Assert.Equal(10, shadow.Rows);

        // Ground truth of a request reaches its shadow's rows too (same request id).
        await log.RecordFeedbackAsync("churn", "r2", null, Enumerable.Repeat("true", 10).ToList(), Ct);
        windows = Compute(await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct), models);
        Assert.Equal(1.0, windows.Single(w => w.ModelVersion == "3").Performance["accuracy"]);
        Assert.Equal(0.5, windows.Single(w => w.ModelVersion == "2").Performance["accuracy"]);
    }

    [Fact]
    public async Task A_row_window_ends_after_the_request_that_reaches_the_count()
    {
        var (log, _, evaluator) = await OpenAsync();
        await log.AppendAsync(
        [
            Request("a", T0.AddSeconds(1), 2, 0, _ => true),
            Request("s", T0.AddSeconds(1), 50, 0, _ => true, version: "9", shadow: true), // shadows do not count
            Request("b", T0.AddSeconds(2), 2, 0, _ => true),
            Request("c", T0.AddSeconds(3), 2, 0, _ => true),
            Request("d", T0.AddSeconds(70), 2, 0, _ => true),
        ], Ct);
        Assert.Equal(T0.AddSeconds(3).AddMilliseconds(1), await evaluator.RowWindowEndAsync("churn", T0, T0.AddHours(1), 5, Ct));
        Assert.Equal(T0.AddSeconds(2).AddMilliseconds(1), await evaluator.RowWindowEndAsync("churn", T0, T0.AddHours(1), 4, Ct));
        Assert.Equal(T0.AddSeconds(70).AddMilliseconds(1), await evaluator.RowWindowEndAsync("churn", T0.AddSeconds(2), T0.AddHours(1), 6, Ct));
        Assert.Null(await evaluator.RowWindowEndAsync("churn", T0, T0.AddHours(1), 9, Ct));
        Assert.Null(await evaluator.RowWindowEndAsync("churn", T0, T0.AddSeconds(3), 5, Ct)); // c is not before notAfter
        Assert.Contains("'rows'", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            evaluator.RowWindowEndAsync("churn", T0, T0.AddHours(1), 0, Ct))).Message);
        Assert.Contains("'end'", (await Assert.ThrowsAsync<InvalidParameterValueException>(() => evaluator.ReadAsync("churn", T0, T0, Ct))).Message);
    }

    [Fact]
    public async Task Stored_windows_round_trip_list_newest_first_in_pages_and_keep_only_the_newest()
    {
        var (log, store, evaluator) = await OpenAsync();
        await log.AppendAsync([Request("r1", T0.AddMinutes(1), 100, 15, i => i % 3 == 0)], Ct);
        await log.RecordFeedbackAsync("churn", "r1", 0, ["true", "false"], Ct);
        var computed = Assert.Single(Compute(await evaluator.ReadAsync("churn", T0, T0.AddHours(1), Ct),
            new Dictionary<(string?, string?), MonitorModel> { [("churn-model", "1")] = Model(Reference()) }));
        var stored = Assert.Single(await store.AddAsync([computed], 3, Ct));
        Assert.True(stored.Id > 0);

        var back = await store.GetAsync("churn", stored.Id, Ct);
        Assert.Equal(stored.Id, back.Id);
        Assert.Equal((computed.Start, computed.End, computed.Rows, computed.LabeledRows), (back.Start, back.End, back.Rows, back.LabeledRows));
        Assert.Equal(computed.Performance.OrderBy(p => p.Key), back.Performance.OrderBy(p => p.Key));
        Assert.Equal(computed.InputDrift!.Features.Select(f => (f.Name, f.Psi, f.Js, f.Ks, f.Drifted, f.Score)),
            back.InputDrift!.Features.Select(f => (f.Name, f.Psi, f.Js, f.Ks, f.Drifted, f.Score)));
        Assert.Equal(computed.InputDrift.Features[0].Histogram!.Current, back.InputDrift.Features[0].Histogram!.Current);
        Assert.Equal(computed.PredictionDrift!.Chi2, back.PredictionDrift!.Chi2);
        Assert.Equal(0.91, back.TrainingPerformance["accuracy"]);

        // Five more hourly windows: only the newest three of the deployment stay.
        for (var h = 1; h <= 5; h++)
            await store.AddAsync([computed with { Start = T0.AddHours(h), End = T0.AddHours(h + 1) }], 3, Ct);
        var (page1, token) = await store.ListAsync("churn", null, null, null, 2, null, Ct);
        Assert.Equal([T0.AddHours(5), T0.AddHours(4)], page1.Select(w => w.Start));
        var (page2, end) = await store.ListAsync("churn", null, null, null, 2, token, Ct);
        Assert.Equal([T0.AddHours(3)], page2.Select(w => w.Start));
        Assert.Null(end);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetAsync("churn", stored.Id, Ct));
        var (ranged, _) = await store.ListAsync("churn", T0.AddHours(4), T0.AddHours(5), "", 10, null, Ct);
        Assert.Equal([T0.AddHours(4)], ranged.Select(w => w.Start));
        Assert.Equal(T0.AddHours(6), await store.LastEndAsync("churn", Ct));
        Assert.Null(await store.LastEndAsync("other", Ct));
        Assert.Contains("page_token", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ListAsync("churn", T0, null, null, 2, token, Ct))).Message);
        Assert.Contains("max_results", (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.ListAsync("churn", null, null, null, 0, null, Ct))).Message);
    }
}

/// <summary>The monitoring window contract over a real SQLite file per test.</summary>
public sealed class SqliteMonitorWindowTests : MonitorWindowContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("monitor");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The monitoring window contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; a schema per store, dropped afterwards.</summary>
public sealed class PostgresMonitorWindowTests : MonitorWindowContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_monitor_", "monitoring window contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

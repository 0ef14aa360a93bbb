using Cairn.Monitoring;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.Data.Sqlite;
using static Cairn.Tests.OldSchema;

namespace Cairn.Tests.Monitoring;

/// <summary>Migration 9 on a database written at schema version 8, with deployments, logged predictions and ground truth in it.</summary>
public sealed class MonitorMigrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath => _directory.Combine("version-8.db");

    public void Dispose() => _directory.Dispose();

    private List<long> SchemaVersions() => OldSchema.SchemaVersions(DatabasePath);

    [Fact]
    public async Task A_version_8_database_gains_the_window_table_and_keeps_its_predictions_and_deployments()
    {
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            c.Open();
            ApplyMigrations(c, v => v <= 8);
            Execute(c, """
                INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', '/a/0', 'active', 1, 1);
                INSERT INTO registered_models (name, creation_time, last_updated_time, next_version) VALUES ('churn', 1, 1, 2);
                INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source, storage_location, status)
                    VALUES ('churn', 1, 1, 1, 'None', 's3://b/1', 's3://b/1', 'READY');
                INSERT INTO deployments (name, routes, revision, creation_time, last_updated_time)
                    VALUES ('churn-api', '[{"model_uri":"models:/churn/1","weight":100}]', 1, 1, 1);
                """);
        }
        var t0 = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        using var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);
        Assert.Equal("churn-api", Assert.Single(await stores.Deployments.ListDeploymentsAsync(Ct)).Name);
        await stores.Predictions!.AppendAsync([new PredictionBatch("r1", "churn-api", "churn", "1", t0, 1, 2,
            [new("x", new[] { 1.0, 2.0 })], [new("Score", new[] { 0.5f, 1.5f })])], Ct);
        var rows = await new WindowEvaluator(stores.Predictions).ReadAsync("churn-api", t0, t0.AddHours(1), Ct);
        var window = Assert.Single(WindowEvaluator.Compute(rows, new MonitorSettings(), new Dictionary<(string?, string?), MonitorModel>(), 0, t0, Ct));
        var stored = Assert.Single(await stores.Monitoring!.AddAsync([window], 10, Ct));
        Assert.Equal(2, (await stores.Monitoring.GetAsync("churn-api", stored.Id, Ct)).Rows);
        Assert.Contains(9L, SchemaVersions());
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
    }

    [Fact]
    public async Task Data_logged_before_the_upgrade_is_read_by_the_windows_after_it()
    {
        var t0 = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            c.Open();
            ApplyMigrations(c, v => v <= 8);
            // A block as migration 7's writer stores it: encoded by the same codec.
            var requests = PredictionColumnCodec.Encode([new("request_id", new string?[] { "r1" }), new("row_start", new[] { 0 }), new("rows", new[] { 3 }),
                new("time_ms", new[] { t0.ToUnixTimeMilliseconds() }), new("latency_ms", new[] { 1.0 })], 1);
            var inputs = PredictionColumnCodec.Encode([new("x", new[] { 1.0, 2.0, 3.0 })], 3);
            var outputs = PredictionColumnCodec.Encode([new("Score", new[] { 1f, 2f, 3f })], 3);
            using var insert = c.CreateCommand();
            insert.CommandText = """
                INSERT INTO prediction_blocks (deployment, model_name, model_version, shadow, start_ms, end_ms, row_count, request_count, requests, inputs, outputs)
                VALUES ('api', 'm', '1', 0, $t, $t, 3, 1, $requests, $inputs, $outputs);
                INSERT INTO prediction_requests (deployment, request_id, shadow, block_id, row_start, row_count, time_ms) VALUES ('api', 'r1', 0, 1, 0, 3, $t);
                INSERT INTO prediction_feedback (deployment, request_id, row_index, time_ms, value, recorded_ms) VALUES ('api', 'r1', 0, $t, '2', $t);
                """;
            insert.Parameters.AddWithValue("$t", t0.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$requests", requests);
            insert.Parameters.AddWithValue("$inputs", inputs);
            insert.Parameters.AddWithValue("$outputs", outputs);
            insert.ExecuteNonQuery();
        }
        using var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);
        var rows = await new WindowEvaluator(stores.Predictions!).ReadAsync("api", t0, t0.AddHours(1), Ct);
        var window = Assert.Single(WindowEvaluator.Compute(rows, new MonitorSettings(), new Dictionary<(string?, string?), MonitorModel>(), 0, t0, Ct));
        Assert.Equal(3, window.Rows);
        Assert.Equal(1, window.LabeledRows);
        Assert.Equal(1.0, window.Performance["mae"]);
        Assert.Single(await stores.Monitoring!.AddAsync([window], 10, Ct));
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
    }
}

using Cairn.Storage;
using Cairn.Storage.Sqlite;
using Cairn.Tracking;
using Microsoft.Data.Sqlite;

namespace Cairn.Tests.Storage;

/// <summary>Databases written by older (or newer) Cairn versions, opened by this one.</summary>
public sealed class SqliteMigrationTests : IDisposable
{
    private const string RunA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string RunB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath => _directory.Combine("legacy.db");

    private Task<CairnStores> OpenAsync() =>
        CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);

    public void Dispose() => _directory.Dispose();

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        command.ExecuteNonQuery();
    }

    private static List<long> SchemaVersions(string path)
    {
        using var connection = Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_version ORDER BY rowid";
        using var reader = command.ExecuteReader();
        var versions = new List<long>();
        while (reader.Read()) versions.Add(reader.GetInt64(0));
        return versions;
    }

    /// <summary>A database exactly as schema version 1 left it: no latest_metrics, no datasets.</summary>
    private void CreateVersion1Database()
    {
        using var c = Open(DatabasePath);
        Execute(c, Migrations.All[0].Sql(SqlFlavor.Sqlite));
        Execute(c, "CREATE TABLE schema_version (version INTEGER NOT NULL, description TEXT NOT NULL, applied_time BIGINT NOT NULL)");
        Execute(c, "INSERT INTO schema_version (version, description, applied_time) VALUES (1, $d, 1)", ("$d", Migrations.All[0].Description));
        Execute(c, """
            INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES
                (0, 'Default', '/old/artifacts/0', 'active', 1, 1),
                (7, 'legacy', '/old/artifacts/7', 'active', 2, 3);
            INSERT INTO experiment_tags (experiment_id, key, value) VALUES (7, 'team', 'ml');
            """);
        foreach (var (id, name) in (ReadOnlySpan<(string, string)>)[(RunA, "old-run"), (RunB, "tie-run")])
        {
            Execute(c, "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES ($id, 7, $name, 'bob', 'FINISHED', 100, 200, $uri, 'active')",
                ("$id", id), ("$name", name), ("$uri", $"/old/artifacts/7/{id}/artifacts"));
            Execute(c, "INSERT INTO tags (run_uuid, key, value) VALUES ($id, 'mlflow.runName', $name)", ("$id", id), ("$name", name));
        }
        Execute(c, "INSERT INTO params (run_uuid, key, value) VALUES ($id, 'lr', '0.01'), ($id, 'model', 'rf')", ("$id", RunA));
        Execute(c, "INSERT INTO tags (run_uuid, key, value) VALUES ($id, 'team', 'ml')", ("$id", RunA));

        (string Run, string Key, long Step, long Timestamp, double Value)[] history =
        [
            (RunA, "acc", 0, 1, 0.5),
            (RunA, "acc", 2, 5, 0.7),
            (RunA, "acc", 2, 9, 0.6),      // latest: highest step, then latest timestamp
            (RunA, "acc", 1, 20, 0.99),
            (RunA, "loss", 0, 1, 3.0),
            (RunA, "loss", 3, 2, double.NaN), // latest, and NaN
            (RunA, "inf", 0, 1, double.PositiveInfinity),
            (RunB, "tie", 1, 5, 0.1),
            (RunB, "tie", 1, 5, 0.3),      // same step and timestamp: the highest value wins, as in MLflow
            (RunB, "tie", 1, 5, 0.2),
            (RunB, "neg", 5, 1, -2),
            (RunB, "neg", 4, 100, 10),
        ];
        foreach (var m in history)
        {
            Execute(c, "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES ($run, $key, $step, $ts, $value, $nan)",
                ("$run", m.Run), ("$key", m.Key), ("$step", m.Step), ("$ts", m.Timestamp),
                ("$value", double.IsNaN(m.Value) ? 0.0 : m.Value), ("$nan", double.IsNaN(m.Value) ? 1 : 0));
        }
    }

    [Fact]
    public async Task Version_1_database_is_upgraded_in_place_with_latest_metrics_back_filled()
    {
        CreateVersion1Database();

        using (var stores = await OpenAsync())
        {
            var store = stores.Tracking;
            Assert.Equal(Migrations.Latest, await stores.Database!.GetSchemaVersionAsync(Ct));
            Assert.Equal("ok", await ((SqliteDatabase)stores.Database).CheckIntegrityAsync(Ct));

            var a = await store.GetRunAsync(RunA, Ct);
            Assert.Equal(new RunInfo(RunA, "7", "old-run", "bob", RunStatus.FINISHED, 100, 200, $"/old/artifacts/7/{RunA}/artifacts", LifecycleStage.Active), a.Info);
            Assert.Equal([new Param("lr", "0.01"), new Param("model", "rf")], a.Data.Params);
            Assert.Equal([new RunTag("mlflow.runName", "old-run"), new RunTag("team", "ml")], a.Data.Tags);
            Assert.Equal(3, a.Data.Metrics.Count);
            Assert.Equal(new Metric("acc", 0.6, 9, 2), a.Data.Metrics.Single(m => m.Key == "acc"));
            Assert.Equal(new Metric("inf", double.PositiveInfinity, 1, 0), a.Data.Metrics.Single(m => m.Key == "inf"));
            var loss = a.Data.Metrics.Single(m => m.Key == "loss");
            Assert.True(double.IsNaN(loss.Value));
            Assert.Equal(3, loss.Step);
            Assert.Empty(a.Inputs);

            var b = await store.GetRunAsync(RunB, Ct);
            Assert.Equal(0.3, b.Data.Metrics.Single(m => m.Key == "tie").Value);
            Assert.Equal(new Metric("neg", -2, 1, 5), b.Data.Metrics.Single(m => m.Key == "neg"));

            // History is untouched.
            Assert.Equal(
                [new Metric("acc", 0.5, 1, 0), new Metric("acc", 0.99, 20, 1), new Metric("acc", 0.7, 5, 2), new Metric("acc", 0.6, 9, 2)],
                (await store.GetMetricHistoryAsync(RunA, "acc", cancellationToken: Ct)).Items);
            Assert.Equal(3, (await store.GetMetricHistoryAsync(RunB, "tie", cancellationToken: Ct)).Items.Count);

            // Search reads the back-filled latest_metrics: 0.7 is history, not the latest value.
            async Task<string[]> Names(string filter) =>
                (await store.SearchRunsAsync(new RunSearch(["7"], filter), Ct)).Items.Select(r => r.Info.RunName).Order(StringComparer.Ordinal).ToArray();
            Assert.Empty(await Names("metrics.acc > 0.65"));
            Assert.Equal(["old-run"], await Names("metrics.acc = 0.6"));
            Assert.Equal(["tie-run"], await Names("metrics.tie = 0.3 AND metrics.neg < 0"));
            Assert.Equal(["old-run", "tie-run"], await Names("tags.mlflow.runName LIKE '%-run'"));

            var legacy = await store.GetExperimentAsync("7", Ct);
            Assert.Equal("legacy", legacy.Name);
            Assert.Equal([new ExperimentTag("team", "ml")], legacy.Tags);
            Assert.Equal("Default", (await store.GetExperimentAsync("0", Ct)).Name);

            // The new tables work, and new writes keep latest_metrics current.
            await store.LogInputsAsync(RunA, [new DatasetInput(new Dataset("iris", "d1", "local", "/iris.csv"), [new InputTag("mlflow.data.context", "training")])], Ct);
            Assert.Equal(["old-run"], await Names("datasets.context = 'training'"));
            await store.LogMetricAsync(RunA, "acc", 0.8, 30, 3, Ct);
            Assert.Equal(0.8, (await store.GetRunAsync(RunA, Ct)).Data.Metrics.Single(m => m.Key == "acc").Value);
            var created = await store.CreateExperimentAsync("after-upgrade", cancellationToken: Ct);
            Assert.DoesNotContain(created, (string[])["0", "7"]);
        }

        var expected = Migrations.All.Select(m => (long)m.Version).ToList();
        Assert.Equal(expected, SchemaVersions(DatabasePath));

        // Opening an up-to-date database again changes nothing.
        using (var again = await OpenAsync())
            Assert.Equal(0.8, (await again.Tracking.GetRunAsync(RunA, Ct)).Data.Metrics.Single(m => m.Key == "acc").Value);
        Assert.Equal(expected, SchemaVersions(DatabasePath));
    }

    /// <summary>A database exactly as schema version 6 left it (before the prediction log), with data in every part.</summary>
    private void CreateVersion6Database()
    {
        using var c = Open(DatabasePath);
        Execute(c, "CREATE TABLE schema_version (version INTEGER NOT NULL, description TEXT NOT NULL, applied_time BIGINT NOT NULL)");
        foreach (var migration in Migrations.All.Where(m => m.Version <= 6))
        {
            Execute(c, migration.Sql(SqlFlavor.Sqlite));
            Execute(c, "INSERT INTO schema_version (version, description, applied_time) VALUES ($v, $d, 1)", ("$v", migration.Version), ("$d", migration.Description));
        }
        Execute(c, """
            INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES
                (0, 'Default', '/old/artifacts/0', 'active', 1, 1),
                (7, 'legacy', '/old/artifacts/7', 'active', 2, 3);
            INSERT INTO registered_models (name, creation_time, last_updated_time, next_version) VALUES ('churn', 1, 1, 2);
            INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source, storage_location, status)
                VALUES ('churn', 1, 1, 1, 'None', '/m', '/m', 'READY');
            INSERT INTO registered_model_aliases (name, alias, version) VALUES ('churn', 'champion', 1);
            INSERT INTO users (id, username, password_hash, is_admin, creation_time) VALUES (1, 'alice', 'h', 0, 1);
            INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES (7, 1, 'EDIT');
            """);
    }

    [Fact]
    public async Task Version_6_database_gains_the_prediction_log_and_keeps_its_data()
    {
        CreateVersion6Database();

        using (var stores = await OpenAsync())
        {
            Assert.Equal(Migrations.Latest, await stores.Database!.GetSchemaVersionAsync(Ct));
            Assert.Equal("ok", await ((SqliteDatabase)stores.Database).CheckIntegrityAsync(Ct));
            Assert.Equal("legacy", (await stores.Tracking.GetExperimentAsync("7", Ct)).Name);
            Assert.Equal("1", (await stores.Registry.GetModelVersionByAliasAsync("churn", "champion", Ct)).Version);
            Assert.Equal(Cairn.Access.Permission.Edit, await stores.Permissions!.GetExperimentGrantAsync(1, "7", Ct));

            var time = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
            await stores.Predictions!.AppendAsync([new("req-1", "churn", "churn", "1", time, 2, 2,
                [new("x", new[] { 1.0, 2.0 })], [new("y", new[] { true, false })])], Ct);
            await stores.Predictions.RecordFeedbackAsync("churn", "req-1", null, ["true", "true"], Ct);
            var page = await stores.Predictions.ReadPageAsync("churn", "1", time, time.AddHours(1), 10, cancellationToken: Ct);
            Assert.Equal(["req-1", "req-1"], page.Rows.Single().RequestIds);
            Assert.Equal(2, (await stores.Predictions.ReadFeedbackAsync("churn", time, time.AddHours(1), Ct)).Count);
        }
        Assert.Contains(7L, SchemaVersions(DatabasePath));
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions(DatabasePath));
    }

    [Fact]
    public async Task Database_from_a_newer_Cairn_is_refused_and_left_alone()
    {
        using (var stores = await OpenAsync())
            await stores.Tracking.CreateExperimentAsync("written-by-future", cancellationToken: Ct);
        var future = Migrations.Latest + 1;
        using (var c = Open(DatabasePath))
            Execute(c, "INSERT INTO schema_version (version, description, applied_time) VALUES ($v, 'from the future', 1)", ("$v", future));

        var ex = await Assert.ThrowsAnyAsync<CairnException>(() => OpenAsync());
        Assert.Contains($"version {future}", ex.Message);
        Assert.Contains("newer than this Cairn", ex.Message);
        Assert.Contains($"({Migrations.Latest})", ex.Message);

        Assert.Equal(future, SchemaVersions(DatabasePath).Max());
        using var check = Open(DatabasePath);
        using var command = check.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM experiments WHERE name = 'written-by-future'";
        Assert.Equal(1L, command.ExecuteScalar());
    }
}

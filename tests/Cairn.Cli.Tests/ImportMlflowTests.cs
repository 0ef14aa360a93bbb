using System.Data.Common;
using System.Text.Json;
using Cairn.Client;
using Cairn.Storage;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Tests;

/// <summary>
/// <c>cairn import mlflow</c> against a database shaped as MLflow 2.11 leaves it (its alembic head, acf3f17fdcc7: the tables and
/// columns of mlflow/store/tracking/dbmodels and mlflow/store/model_registry/dbmodels) and an artifacts folder laid out as MLflow's
/// artifact proxy and local store lay it out. Everything arrives with its ids; a second import changes nothing; an import killed
/// after its first run resumes. The PostgreSQL variant runs when CAIRN_TEST_POSTGRES is set.
/// </summary>
public sealed class ImportMlflowTests : IDisposable
{
    private const string R1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    private const string R2 = "1b2c3d4e5f60718293a4b5c6d7e8f90a";
    private const string R3 = "2c3d4e5f60718293a4b5c6d7e8f90a1b";
    private const string R4 = "3d4e5f60718293a4b5c6d7e8f90a1b2c";
    private const string DatasetUuid = "5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b";
    private const int LossPoints = 12_000;

    private static readonly string? Postgres = Environment.GetEnvironmentVariable("CAIRN_TEST_POSTGRES");
    private static readonly byte[] Png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0, 0xFF, 0xFE];

    private readonly TempDirectory _dir = new();
    private readonly List<string> _schemas = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        if (_schemas.Count > 0 && Postgres is not null)
        {
            using var dataSource = NpgsqlDataSource.Create(Postgres);
            foreach (var schema in _schemas)
            {
                using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                drop.ExecuteNonQuery();
            }
        }
        _dir.Dispose();
    }

    /// <summary>MLflow 2.11's tables at its final migration, in the dialect of <paramref name="postgres"/> or SQLite.</summary>
    private static string MlflowSchema(bool postgres)
    {
        var boolean = postgres ? "BOOLEAN" : "BOOLEAN CHECK (is_nan IN (0, 1))";
        return $"""
            CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
            CREATE TABLE experiments (
                experiment_id INTEGER NOT NULL, name VARCHAR(256) NOT NULL, artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32),
                creation_time BIGINT, last_update_time BIGINT,
                CONSTRAINT experiment_pk PRIMARY KEY (experiment_id), UNIQUE (name));
            CREATE TABLE experiment_tags (
                key VARCHAR(250) NOT NULL, value VARCHAR(5000), experiment_id INTEGER NOT NULL,
                CONSTRAINT experiment_tag_pk PRIMARY KEY (key, experiment_id), FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id));
            CREATE TABLE runs (
                run_uuid VARCHAR(32) NOT NULL, name VARCHAR(250), source_type VARCHAR(20), source_name VARCHAR(500), entry_point_name VARCHAR(50),
                user_id VARCHAR(256), status VARCHAR(9), start_time BIGINT, end_time BIGINT, source_version VARCHAR(50), lifecycle_stage VARCHAR(20),
                artifact_uri VARCHAR(200), experiment_id INTEGER, deleted_time BIGINT,
                CONSTRAINT run_pk PRIMARY KEY (run_uuid), FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id));
            CREATE TABLE tags (
                key VARCHAR(250) NOT NULL, value VARCHAR(5000), run_uuid VARCHAR(32) NOT NULL,
                CONSTRAINT tag_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
            CREATE INDEX index_tags_run_uuid ON tags (run_uuid);
            CREATE TABLE params (
                key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, run_uuid VARCHAR(32) NOT NULL,
                CONSTRAINT param_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
            CREATE INDEX index_params_run_uuid ON params (run_uuid);
            CREATE TABLE metrics (
                key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL, run_uuid VARCHAR(32) NOT NULL,
                step BIGINT DEFAULT '0' NOT NULL, is_nan {boolean} DEFAULT '0' NOT NULL,
                CONSTRAINT metric_pk PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
            CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);
            CREATE TABLE latest_metrics (
                key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT, step BIGINT NOT NULL, is_nan {boolean} NOT NULL, run_uuid VARCHAR(32) NOT NULL,
                CONSTRAINT latest_metric_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
            CREATE INDEX index_latest_metrics_run_uuid ON latest_metrics (run_uuid);
            CREATE TABLE datasets (
                dataset_uuid VARCHAR(36) NOT NULL, experiment_id INTEGER NOT NULL, name VARCHAR(500) NOT NULL, digest VARCHAR(36) NOT NULL,
                dataset_source_type VARCHAR(36) NOT NULL, dataset_source TEXT NOT NULL, dataset_schema TEXT, dataset_profile TEXT,
                CONSTRAINT dataset_pk PRIMARY KEY (experiment_id, name, digest), FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id));
            CREATE INDEX index_datasets_dataset_uuid ON datasets (dataset_uuid);
            CREATE TABLE inputs (
                input_uuid VARCHAR(36) NOT NULL, source_type VARCHAR(36) NOT NULL, source_id VARCHAR(36) NOT NULL,
                destination_type VARCHAR(36) NOT NULL, destination_id VARCHAR(36) NOT NULL,
                CONSTRAINT inputs_pk PRIMARY KEY (source_type, source_id, destination_type, destination_id));
            CREATE INDEX index_inputs_input_uuid ON inputs (input_uuid);
            CREATE TABLE input_tags (
                input_uuid VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, value VARCHAR(500) NOT NULL,
                CONSTRAINT input_tags_pk PRIMARY KEY (input_uuid, name));
            CREATE TABLE registered_models (
                name VARCHAR(256) NOT NULL, creation_time BIGINT, last_updated_time BIGINT, description VARCHAR(5000),
                CONSTRAINT registered_model_pk PRIMARY KEY (name));
            CREATE TABLE registered_model_tags (
                key VARCHAR(250) NOT NULL, value VARCHAR(5000), name VARCHAR(256) NOT NULL,
                CONSTRAINT registered_model_tag_pk PRIMARY KEY (key, name), FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE);
            CREATE TABLE model_versions (
                name VARCHAR(256) NOT NULL, version INTEGER NOT NULL, creation_time BIGINT, last_updated_time BIGINT, description VARCHAR(5000),
                user_id VARCHAR(256), current_stage VARCHAR(20), source VARCHAR(500), run_id VARCHAR(32), status VARCHAR(20), status_message VARCHAR(500),
                run_link VARCHAR(500), storage_location VARCHAR(500),
                CONSTRAINT model_version_pk PRIMARY KEY (name, version), FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE);
            CREATE TABLE model_version_tags (
                key VARCHAR(250) NOT NULL, value VARCHAR(5000), name VARCHAR(256) NOT NULL, version INTEGER NOT NULL,
                CONSTRAINT model_version_tag_pk PRIMARY KEY (key, name, version),
                FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE);
            CREATE TABLE registered_model_aliases (
                alias VARCHAR(256) NOT NULL, version INTEGER NOT NULL, name VARCHAR(256) NOT NULL,
                CONSTRAINT registered_model_alias_pk PRIMARY KEY (name, alias),
                CONSTRAINT registered_model_alias_name_fkey FOREIGN KEY (name) REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE);
            """;
    }

    /// <summary>Fills an MLflow database and its artifacts folder as a team's history would look.</summary>
    private async Task FillAsync(DbConnection c, string artifacts)
    {
        await c.ExecuteAsync(MlflowSchema(c is NpgsqlConnection));
        await c.ExecuteAsync("INSERT INTO alembic_version (version_num) VALUES ('acf3f17fdcc7')");
        await c.ExecuteAsync(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (@Id, @Name, @Loc, @Stage, @T, @U)",
            new[]
            {
                new { Id = 0, Name = "Default", Loc = "mlflow-artifacts:/0", Stage = "active", T = 1_700_000_000_000L, U = 1_700_000_000_000L },
                new { Id = 1, Name = "churn", Loc = "mlflow-artifacts:/1", Stage = "active", T = 1_700_000_100_000L, U = 1_700_000_100_000L },
                new { Id = 7, Name = "old", Loc = new Uri(Path.Combine(artifacts, "7")).AbsoluteUri, Stage = "deleted", T = 1_700_000_200_000L, U = 1_700_000_900_000L },
            });
        await c.ExecuteAsync("INSERT INTO experiment_tags (key, value, experiment_id) VALUES ('mlflow.note.content', 'churn models', 1), ('owner', NULL, 1)");
        var runs = new[]
        {
            new { Id = R1, Exp = 1, Name = "baseline", Status = "FINISHED", Start = 1_700_000_300_000L, End = (long?)1_700_000_400_000L, Stage = "active", Deleted = (long?)null, Uri = $"mlflow-artifacts:/1/{R1}/artifacts" },
            // A hostile location: it climbs out of the artifacts root, so nothing of it may be read.
            new { Id = R2, Exp = 1, Name = "tuned", Status = "FAILED", Start = 1_700_000_500_000L, End = (long?)1_700_000_600_000L, Stage = "deleted", Deleted = (long?)1_700_000_700_000L, Uri = "mlflow-artifacts:/../outside" },
            new { Id = R3, Exp = 7, Name = "legacy", Status = "FINISHED", Start = 1_700_000_250_000L, End = (long?)null, Stage = "active", Deleted = (long?)null, Uri = new Uri(Path.Combine(artifacts, "7", R3, "artifacts")).AbsoluteUri },
            // Artifacts outside --artifacts-root: the run is imported, its artifacts are not, and the import says so.
            new { Id = R4, Exp = 0, Name = "elsewhere", Status = "RUNNING", Start = 1_700_000_800_000L, End = (long?)null, Stage = "active", Deleted = (long?)null, Uri = _dir.Combine("elsewhere", R4, "artifacts") },
        };
        await c.ExecuteAsync(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) " +
            "VALUES (@Id, @Name, 'LOCAL', 'train.py', '', 'ann', @Status, @Start, @End, '', @Stage, @Uri, @Exp, @Deleted)", runs);
        await c.ExecuteAsync("INSERT INTO params (key, value, run_uuid) VALUES (@K, @V, @R)",
            new[] { new { K = "lr", V = "0.1", R = R1 }, new { K = "epochs", V = "3", R = R1 }, new { K = "lr", V = "0.5", R = R2 } });
        await c.ExecuteAsync("INSERT INTO tags (key, value, run_uuid) VALUES (@K, @V, @R)",
            new[] { new { K = "mlflow.runName", V = (string?)"baseline", R = R1 }, new { K = "mlflow.user", V = (string?)"ann", R = R1 }, new { K = "empty", V = (string?)null, R = R3 } });
        var points = Enumerable.Range(0, LossPoints).Select(i => new { K = "loss", V = 1.0 / (i + 1), T = 1_700_000_300_000L + i, S = (long)i, N = false, R = R1 })
            .Append(new { K = "loss", V = 0.5, T = 1_700_000_300_000L, S = 0L, N = false, R = R1 }) // a second point at step 0
            .Append(new { K = "grad", V = 0.0, T = 1_700_000_300_001L, S = 0L, N = true, R = R1 })  // NaN, stored as MLflow stores it
            .Append(new { K = "acc", V = 0.75, T = 1_700_000_250_000L, S = 0L, N = false, R = R3 });
        await using (var tx = await c.BeginTransactionAsync(Ct))
        {
            await c.ExecuteAsync("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (@K, @V, @T, @S, @N, @R)", points, tx);
            await tx.CommitAsync(Ct);
        }
        await c.ExecuteAsync("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (@K, @V, @T, @S, @N, @R)",
            new[] { new { K = "loss", V = 1.0 / LossPoints, T = 1_700_000_300_000L + LossPoints - 1, S = (long)LossPoints - 1, N = false, R = R1 } });
        await c.ExecuteAsync(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) " +
            "VALUES (@U, 1, 'train', 'd41d8cd9', 'local', '{\"uri\": \"data/train.csv\"}', '{\"mlflow_colspec\": []}', '{\"num_rows\": 2}')", new { U = DatasetUuid });
        await c.ExecuteAsync("INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES ('in-1', 'DATASET', @U, 'RUN', @R)",
            new { U = DatasetUuid, R = R1 });
        await c.ExecuteAsync("INSERT INTO input_tags (input_uuid, name, value) VALUES ('in-1', 'mlflow.data.context', 'training')");
        await c.ExecuteAsync("INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES ('churn-model', 1700000450000, 1700000460000, 'the churn model'), ('empty-model', 1700000470000, NULL, NULL)");
        await c.ExecuteAsync("INSERT INTO registered_model_tags (key, value, name) VALUES ('owner', 'ann', 'churn-model')");
        await c.ExecuteAsync(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location) " +
            "VALUES ('churn-model', @V, 1700000450000, 1700000450000, NULL, NULL, @Stage, @Source, @Run, 'READY', NULL, NULL, @Storage)",
            new[]
            {
                // As the Python client registers through the artifact proxy.
                new { V = 1, Stage = "None", Source = $"mlflow-artifacts:/1/{R1}/artifacts/model", Run = (string?)R1, Storage = (string?)$"mlflow-artifacts:/1/{R1}/artifacts/model" },
                new { V = 2, Stage = "Production", Source = $"runs:/{R1}/model", Run = (string?)R1, Storage = (string?)$"mlflow-artifacts:/1/{R1}/artifacts/model" },
                // Deleted in MLflow: kept in its table until the model goes, never shown.
                new { V = 3, Stage = "Deleted_Internal", Source = $"runs:/{R1}/model", Run = (string?)R1, Storage = (string?)null },
                new { V = 4, Stage = "Archived", Source = "s3://other-bucket/models/m", Run = (string?)null, Storage = (string?)null },
            });
        await c.ExecuteAsync("INSERT INTO model_version_tags (key, value, name, version) VALUES ('validated', 'yes', 'churn-model', 1)");
        await c.ExecuteAsync("INSERT INTO registered_model_aliases (alias, version, name) VALUES ('champion', 2, 'churn-model')");

        var model = Path.Combine(artifacts, "1", R1, "artifacts", "model");
        Directory.CreateDirectory(model);
        await File.WriteAllTextAsync(Path.Combine(model, "MLmodel"), "flavors: {onnx: {onnx_model: model.onnx}}\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(model, "model.onnx"), "graph", Ct);
        Directory.CreateDirectory(Path.Combine(artifacts, "1", R1, "artifacts", "plots"));
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "1", R1, "artifacts", "plots", "loss.png"), Png, Ct);
        Directory.CreateDirectory(Path.Combine(artifacts, "7", R3, "artifacts"));
        await File.WriteAllTextAsync(Path.Combine(artifacts, "7", R3, "artifacts", "notes.txt"), "legacy notes", Ct);
        Directory.CreateDirectory(_dir.Combine("outside"));
        await File.WriteAllTextAsync(_dir.Combine("outside", "secret.txt"), "do not copy", Ct);
    }

    private async Task<CliResult> ImportAsync(string backend, string artifacts, string target, bool json = false)
    {
        using var cli = new CliHarness();
        var args = new List<string> { "import", "mlflow", "--backend-store-uri", backend, "--artifacts-root", artifacts, "--tracking-uri", target };
        if (json) args.Add("--json");
        return await cli.RunAsync([.. args]);
    }

    /// <summary>Row counts of every Cairn table the import writes, to show a second import changes nothing.</summary>
    private static async Task<string> SnapshotAsync(CairnClient client)
    {
        var parts = new List<string>();
        foreach (var experiment in (await client.Store.SearchExperimentsAsync(new ExperimentSearch(ViewType: ViewType.ALL), Ct)).Items)
            parts.Add($"{experiment.ExperimentId}:{experiment.Name}:{experiment.LifecycleStage}:{experiment.Tags.Count}");
        foreach (var id in new[] { R1, R2, R3, R4 })
        {
            var run = await client.Store.GetRunAsync(id, Ct);
            parts.Add($"{id}:{run.Info.LifecycleStage}:{run.Data.Params.Count}:{run.Data.Tags.Count}:{run.Data.Metrics.Count}:{run.Inputs.Count}");
        }
        parts.Add(string.Join(',', (await client.Store.GetMetricHistoryAsync(R1, "loss", cancellationToken: Ct)).Items.Select(m => m.Step)).GetHashCode(StringComparison.Ordinal).ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var version in (await client.Registry.SearchModelVersionsAsync(new Cairn.Registry.ModelVersionSearch(), Ct)).Items)
            parts.Add($"{version.Name}/{version.Version}:{version.CurrentStage}:{version.Source}:{version.Tags.Count}:{string.Join('|', version.Aliases)}");
        return string.Join('\n', parts);
    }

    [Fact]
    public async Task An_mlflow_sqlite_store_imports_with_its_ids_artifacts_and_registry_and_a_second_import_changes_nothing()
    {
        var artifacts = _dir.Combine("mlartifacts");
        var database = _dir.Combine("mlflow.db");
        await using (var c = new SqliteConnection($"Data Source={database}"))
        {
            await c.OpenAsync(Ct);
            await FillAsync(c, artifacts);
        }
        SqliteConnection.ClearAllPools();
        await ImportAndCheckAsync("sqlite:///" + database, artifacts, _dir.Combine("cairn"));
    }

    [Fact]
    public async Task An_mlflow_postgresql_store_imports_into_a_cairn_postgresql_store()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(Postgres), "CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent.");
        var source = "mlflow_src_" + Guid.NewGuid().ToString("N")[..12];
        var target = "cairn_dst_" + Guid.NewGuid().ToString("N")[..12];
        _schemas.AddRange([source, target]);
        var artifacts = _dir.Combine("mlartifacts");
        await using (var c = new NpgsqlConnection(Postgres))
        {
            await c.OpenAsync(Ct);
            await c.ExecuteAsync($"CREATE SCHEMA \"{source}\"; SET search_path TO \"{source}\"");
            await FillAsync(c, artifacts);
        }
        var csb = new NpgsqlConnectionStringBuilder(Postgres);
        string Uri(string schema) =>
            $"postgresql://{System.Uri.EscapeDataString(csb.Username!)}:{System.Uri.EscapeDataString(csb.Password ?? "")}@{csb.Host}:{csb.Port}/{csb.Database}?schema={schema}";
        await ImportAndCheckAsync(Uri(source), artifacts, Uri(target));
    }

    private async Task ImportAndCheckAsync(string backend, string artifacts, string target)
    {
        // Killed after its first run: the next import picks up from there.
        using (var killer = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        using (var partial = await CairnClient.OpenAsync(target, cancellationToken: Ct))
        {
            var progress = new Inline(p => { if (p.RunsDone == 1) killer.Cancel(); });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => MlflowImporter.RunAsync(partial, backend, artifacts, progress: progress, cancellationToken: killer.Token));
            Assert.Single((await partial.Store.SearchRunsAsync(new RunSearch(["0", "1", "7"], ViewType: ViewType.ALL), Ct)).Items);
        }

        var first = (await ImportAsync(backend, artifacts, target)).Ok();
        Assert.Contains("│ runs", first.Out);
        Assert.Contains($"warning: run {R2}: artifacts not copied: ", first.Err);
        Assert.Contains($"warning: run {R4}: artifacts not copied: ", first.Err);
        Assert.Contains("is not under --artifacts-root", first.Err);

        string before;
        using (var client = await CairnClient.OpenAsync(target, cancellationToken: Ct))
        {
            var store = client.Store;
            var churn = await store.GetExperimentAsync("1", Ct);
            var old = await store.GetExperimentAsync("7", Ct);
            Assert.Equal(("churn", LifecycleStage.Active), (churn.Name, churn.LifecycleStage));
            Assert.Equal(("old", LifecycleStage.Deleted), (old.Name, old.LifecycleStage));
            Assert.Contains(churn.Tags, t => t is { Key: "mlflow.note.content", Value: "churn models" });
            Assert.Contains(churn.Tags, t => t is { Key: "owner", Value: "" });
            // New experiments go on after the imported ids.
            Assert.True(long.Parse(await store.CreateExperimentAsync("after-import", cancellationToken: Ct), System.Globalization.CultureInfo.InvariantCulture) > 7);

            var r1 = await store.GetRunAsync(R1, Ct);
            Assert.Equal(("baseline", "1", RunStatus.FINISHED, 1_700_000_300_000L), (r1.Info.RunName, r1.Info.ExperimentId, r1.Info.Status, r1.Info.StartTime));
            Assert.Equal($"{churn.ArtifactLocation}/{R1}/artifacts", r1.Info.ArtifactUri);
            Assert.Equal(["epochs=3", "lr=0.1"], r1.Data.Params.Select(p => $"{p.Key}={p.Value}").Order(StringComparer.Ordinal));
            Assert.Contains(r1.Data.Tags, t => t is { Key: "mlflow.user", Value: "ann" });
            var history = await store.GetMetricHistoryAsync(R1, "loss", cancellationToken: Ct);
            Assert.Equal(LossPoints + 1, history.Items.Count);
            Assert.Equal(1.0 / LossPoints, r1.Data.Metrics.Single(m => m.Key == "loss").Value);
            Assert.True(double.IsNaN(r1.Data.Metrics.Single(m => m.Key == "grad").Value));
            var input = Assert.Single(r1.Inputs);
            Assert.Equal(("train", "d41d8cd9", "local"), (input.Dataset.Name, input.Dataset.Digest, input.Dataset.SourceType));
            Assert.Contains(input.Tags, t => t is { Key: "mlflow.data.context", Value: "training" });
            var r2 = await store.GetRunAsync(R2, Ct);
            Assert.Equal((LifecycleStage.Deleted, RunStatus.FAILED), (r2.Info.LifecycleStage, r2.Info.Status));
            Assert.Equal(0.75, (await store.GetRunAsync(R3, Ct)).Data.Metrics.Single().Value);

            // Artifacts sit in Cairn's artifact root, and the registry's sources point there.
            var files = await client.ListArtifactsAsync(R1, "plots", Ct);
            Assert.Equal("plots/loss.png", Assert.Single(files.Files).Path);
            var copy = _dir.Combine("copy-" + Guid.NewGuid().ToString("N")[..6]);
            await client.DownloadArtifactsAsync(R1, "plots/loss.png", copy, Ct);
            Assert.Equal(Png, await File.ReadAllBytesAsync(Path.Combine(copy, "plots", "loss.png"), Ct));
            await client.DownloadArtifactsAsync(R3, null, copy, Ct);
            Assert.Equal("legacy notes", await File.ReadAllTextAsync(Path.Combine(copy, "notes.txt"), Ct));
            Assert.Empty((await client.ListArtifactsAsync(R2, null, Ct)).Files);
            Assert.False(Directory.EnumerateFiles(_dir.Path, "secret.txt", SearchOption.AllDirectories).Skip(1).Any());

            var registry = client.Registry;
            var v1 = await registry.GetModelVersionAsync("churn-model", "1", Ct);
            Assert.Equal($"{r1.Info.ArtifactUri}/model", v1.Source);
            Assert.Contains(v1.Tags, t => t is { Key: "validated", Value: "yes" });
            var champion = await registry.GetModelVersionByAliasAsync("churn-model", "champion", Ct);
            Assert.Equal(("2", Cairn.Registry.ModelStage.Production, $"runs:/{R1}/model"), (champion.Version, champion.CurrentStage, champion.Source));
            // The audit trail says where the alias came from.
            var audit = Assert.Single(await registry.GetAuditTrailAsync("churn-model", cancellationToken: Ct));
            Assert.Equal((Cairn.Registry.RegistryAction.AliasSet, "champion", (string?)null, "2", "cairn import mlflow"),
                (audit.Action, audit.Alias, audit.FromVersion, audit.ToVersion, audit.User));
            await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => registry.GetModelVersionAsync("churn-model", "3", Ct));
            Assert.Equal("s3://other-bucket/models/m", (await registry.GetModelVersionAsync("churn-model", "4", Ct)).Source);
            var model = await registry.GetRegisteredModelAsync("churn-model", Ct);
            Assert.Equal("the churn model", model.Description);
            Assert.Contains(model.Tags, t => t is { Key: "owner", Value: "ann" });
            await registry.GetRegisteredModelAsync("empty-model", Ct);
            var package = await client.DownloadModelAsync("models:/churn-model@champion", _dir.Combine("package-" + Guid.NewGuid().ToString("N")[..6]), Ct);
            Assert.Equal("graph", await File.ReadAllTextAsync(Path.Combine(package.Folder, "model.onnx"), Ct));
            Assert.Equal(R1, package.RunId);
            await store.DeleteExperimentAsync((await store.FindExperimentByNameAsync("after-import", Ct))!.ExperimentId, Ct);
            before = await SnapshotAsync(client);
        }

        var second = (await ImportAsync(backend, artifacts, target, json: true)).Ok();
        using (var summary = JsonDocument.Parse(second.Out))
        {
            foreach (var kind in summary.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Object))
                Assert.True(kind.Value.GetProperty("imported").GetInt64() == 0, $"{kind.Name} imported again: {second.Out}");
            Assert.Equal(4, summary.RootElement.GetProperty("runs").GetProperty("found").GetInt64());
            Assert.Equal(LossPoints + 3, summary.RootElement.GetProperty("metric_points").GetProperty("found").GetInt64());
        }
        using (var client = await CairnClient.OpenAsync(target, cancellationToken: Ct))
        {
            Assert.Equal(before, await SnapshotAsync(client));
            Assert.Single(await client.Registry.GetAuditTrailAsync("churn-model", cancellationToken: Ct)); // not audited twice
            // The next version number continues after MLflow's, deleted ones included.
            var next = await client.Registry.CreateModelVersionAsync(new Cairn.Registry.CreateModelVersionRequest("churn-model", $"runs:/{R1}/model"), Ct);
            Assert.Equal("5", next.Version);
        }
    }

    [Fact]
    public async Task A_database_that_is_not_mlflows_and_an_experiment_id_taken_by_another_name_are_refused_with_one_line()
    {
        var notMlflow = _dir.Combine("other.db");
        await using (var c = new SqliteConnection($"Data Source={notMlflow}"))
        {
            await c.OpenAsync(Ct);
            await c.ExecuteAsync("CREATE TABLE experiments (experiment_id INTEGER)");
        }
        SqliteConnection.ClearAllPools();
        Directory.CreateDirectory(_dir.Combine("art"));

        var wrong = await ImportAsync("sqlite:///" + notMlflow, _dir.Combine("art"), _dir.Combine("cairn"));
        var missing = await ImportAsync("sqlite:///" + _dir.Combine("nope.db"), _dir.Combine("art"), _dir.Combine("cairn"));
        var scheme = await ImportAsync("mysql://u@h/db", _dir.Combine("art"), _dir.Combine("cairn"));
        var noRoot = await ImportAsync("sqlite:///" + notMlflow, _dir.Combine("no-such-folder"), _dir.Combine("cairn"));

        Assert.Contains("is not an MLflow 2.x tracking database (no table 'alembic_version')", wrong.FailedWith(2));
        Assert.Contains("does not exist", missing.FailedWith(3));
        Assert.Contains("'--backend-store-uri'", scheme.FailedWith(2));
        Assert.Contains("'--artifacts-root'", noRoot.FailedWith(3));

        // Ids are kept, so an id Cairn uses for another experiment stops the import before anything is written.
        var database = _dir.Combine("mlflow.db");
        await using (var c = new SqliteConnection($"Data Source={database}"))
        {
            await c.OpenAsync(Ct);
            await FillAsync(c, _dir.Combine("mlartifacts"));
        }
        SqliteConnection.ClearAllPools();
        var target = _dir.Combine("taken");
        using (var client = await CairnClient.OpenAsync(target, cancellationToken: Ct))
            Assert.Equal("1", await client.Store.CreateExperimentAsync("someone-else", cancellationToken: Ct));
        var taken = await ImportAsync("sqlite:///" + database, _dir.Combine("mlartifacts"), target);
        var line = taken.FailedWith(4);
        Assert.Contains("Cairn's experiment 1 is 'someone-else'", line);
        using (var client = await CairnClient.OpenAsync(target, cancellationToken: Ct))
        {
            Assert.Null(await client.Store.FindExperimentByNameAsync("old", Ct));
            Assert.Empty((await client.Registry.SearchRegisteredModelsAsync(new Cairn.Registry.RegisteredModelSearch(), Ct)).Items);
        }
    }

    private sealed class Inline(Action<MlflowImportProgress> report) : IProgress<MlflowImportProgress>
    {
        public void Report(MlflowImportProgress value) => report(value);
    }
}

using Cairn.Monitoring.Alerts;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.Data.Sqlite;
using static Cairn.Tests.OldSchema;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>Migration 10 on a database written at schema version 8, with data in it.</summary>
public sealed class AlertMigrationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private string DatabasePath => _dir.Combine("version-8.db");

    private List<long> SchemaVersions() => OldSchema.SchemaVersions(DatabasePath);

    [Fact]
    public async Task A_version_8_database_gains_the_alert_tables_and_keeps_its_deployments()
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
                INSERT INTO deployments (name, description, routes, revision, creation_time, last_updated_time)
                    VALUES ('churn-api', NULL, '[{"model_uri":"models:/churn/1","weight":100,"role":"primary"}]', 1, 1, 1);
                """);
        }
        Assert.DoesNotContain(10L, SchemaVersions());

        using (var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct))
        {
            Assert.Equal("churn-api", Assert.Single(await stores.Deployments.ListDeploymentsAsync(Ct)).Name);
            var store = new SqlAlertStore(stores.Database!);
            var state = new AlertState("r", "churn-api", "churn", "1") { TrueStreak = 1, LastWindowEndMs = 1000 };
            var id = await store.SaveAsync(state, new NewIncident("churn", "1", "rows > 1", DateTimeOffset.FromUnixTimeMilliseconds(0),
                DateTimeOffset.FromUnixTimeMilliseconds(1000), new() { ["rows"] = 5 }), null, null, Ct);
            Assert.NotNull(id);
            Assert.Equal(id, Assert.Single(await store.LoadStatesAsync(Ct)).IncidentId);
        }
        Assert.Contains(10L, SchemaVersions());
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());

        using var again = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var incident = Assert.Single(await new SqlAlertStore(again.Database!).ListIncidentsAsync(null, true, 10, Ct));
        Assert.Equal(("r", "churn-api", 5.0), (incident.Rule, incident.Deployment, incident.Values["rows"]));
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
    }
}

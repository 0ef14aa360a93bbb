using Cairn.Registry;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.Data.Sqlite;
using static Cairn.Tests.OldSchema;

namespace Cairn.Tests.Serving;

/// <summary>Migration 8 on a database written before deployments existed.</summary>
public sealed class DeploymentMigrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath => _directory.Combine("before-deployments.db");

    public void Dispose() => _directory.Dispose();

    private List<long> SchemaVersions() => OldSchema.SchemaVersions(DatabasePath);

    /// <summary>A database as schema version 6 left it, with a registered model, a version, an alias, a user and a grant.</summary>
    private void CreateVersion6Database()
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        c.Open();
        ApplyMigrations(c, v => v <= 6);
        Execute(c, """
            INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', '/a/0', 'active', 1, 1);
            INSERT INTO registered_models (name, creation_time, last_updated_time, next_version) VALUES ('churn', 1, 1, 2);
            INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source, storage_location, status)
                VALUES ('churn', 1, 1, 1, 'None', 's3://b/1', 's3://b/1', 'READY');
            INSERT INTO registered_model_aliases (name, alias, version) VALUES ('churn', 'champion', 1);
            INSERT INTO users (username, password_hash, is_admin, creation_time) VALUES ('ann', 'h', 0, 1);
            INSERT INTO registered_model_permissions (name, user_id, permission) VALUES ('churn', 1, 'EDIT');
            """);
    }

    [Fact]
    public async Task A_version_6_database_gains_the_deployment_tables_and_keeps_its_data()
    {
        CreateVersion6Database();
        using (var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct))
        {
            Assert.Equal("1", (await stores.Registry.GetModelVersionByAliasAsync("churn", "champion", Ct)).Version);
            Assert.Equal(Cairn.Access.Permission.Edit, await stores.Permissions!.GetRegisteredModelGrantAsync(1, "churn", Ct));

            var created = await stores.Deployments.CreateDeploymentAsync(
                new DeploymentSpec("churn-api", [DeploymentRoute.Primary("models:/churn@champion", 100)]), "ann", Ct);
            Assert.Equal(1, created.Revision);
            await stores.Permissions.GrantDeploymentAsync("churn-api", 1, Cairn.Access.Permission.Manage, Ct);
            Assert.Equal(Cairn.Access.Permission.Manage, await stores.Permissions.GetDeploymentGrantAsync(1, "churn-api", Ct));
        }
        Assert.Contains(8L, SchemaVersions());
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());

        // Opened again: nothing is applied twice, the deployment is there.
        using var again = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);
        Assert.Equal("churn-api", Assert.Single(await again.Deployments.ListDeploymentsAsync(Ct)).Name);
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
    }

    [Fact]
    public async Task A_version_8_deployment_gains_a_log_sample_rate_that_follows_the_server_until_set()
    {
        CreateVersion6Database();
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            c.Open();
            ApplyMigrations(c, v => v is 7 or 8);
            Execute(c, """
                INSERT INTO deployments (name, description, routes, revision, creation_time, created_by, last_updated_time, updated_by)
                    VALUES ('churn-api', 'old', '[{"model_uri":"models:/churn/1","weight":100}]', 1, 1, 'ann', 1, 'ann');
                INSERT INTO deployment_revisions (name, revision, action, routes, user_id, timestamp)
                    VALUES ('churn-api', 1, 'create', '[{"model_uri":"models:/churn/1","weight":100}]', 'ann', 1);
                """);
        }
        using (var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct))
        {
            var old = await stores.Deployments.GetDeploymentAsync("churn-api", Ct);
            Assert.Equal(("old", "models:/churn/1", (double?)null), (old.Description, old.Routes.Single().ModelUri, old.LogSampleRate));
            var set = await stores.Deployments.UpdateDeploymentAsync("churn-api", new DeploymentUpdate(LogSampleRate: 0.25), "ann", Ct);
            Assert.Equal((0.25, 2L), (set.LogSampleRate, set.Revision));
        }
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
        using var again = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);
        Assert.Equal(0.25, (await again.Deployments.GetDeploymentAsync("churn-api", Ct)).LogSampleRate);
    }

    [Fact]
    public async Task A_migration_missing_below_an_applied_one_is_applied_and_the_applied_one_is_not_repeated()
    {
        // Migration numbers are reserved per branch, so a database may have 8 before 6 (or 7) exists in its Cairn.
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            c.Open();
            ApplyMigrations(c, v => v is <= 5 or 8);
        }
        using (var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct))
        {
            await stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
            var user = await stores.Users.CreateUserAsync("ann", "hash", cancellationToken: Ct);
            await stores.Permissions!.GrantRegisteredModelAsync("m", user.Id, Cairn.Access.Permission.Read, Ct); // migration 6's table
            Assert.Empty(await stores.Deployments.ListDeploymentsAsync(Ct));
        }
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), SchemaVersions());
    }
}

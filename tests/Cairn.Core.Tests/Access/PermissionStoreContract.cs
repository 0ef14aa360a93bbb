using Cairn.Access;
using Cairn.Registry;
using Cairn.Storage;
using Cairn.Tracking;
using Dapper;
using Npgsql;

namespace Cairn.Tests.Access;

/// <summary>
/// The permission store on every SQL backend: MLflow's permission API semantics (errors by user name, one grant per user
/// and resource), creator grants that upsert, and grants that go with their user, experiment or model (or follow a rename).
/// </summary>
public abstract class PermissionStoreContract : IAsyncDisposable
{
    protected abstract Task<CairnStores> CreateStoresAsync();

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private static Task<long> AddUserAsync(CairnStores stores, string username) =>
        stores.Database!.WriteAsync((c, tx) => c.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO users (username, password_hash, is_admin, creation_time) VALUES (@username, 'x', FALSE, 0) RETURNING id",
            new { username }, tx, cancellationToken: Ct)), Ct);

    [Fact]
    public async Task GrantsAreCreatedReadUpdatedAndDeletedByUserName()
    {
        using var stores = await CreateStoresAsync();
        var permissions = stores.Permissions!;
        var alice = await AddUserAsync(stores, "alice");
        var experiment = await stores.Tracking.CreateExperimentAsync("e", cancellationToken: Ct);

        Assert.Null(await permissions.GetExperimentGrantAsync(alice, experiment, Ct));
        var created = await permissions.CreateExperimentPermissionAsync(experiment, "alice", Permission.Edit, Ct);
        Assert.Equal(new ExperimentPermissionGrant(experiment, alice, Permission.Edit), created);
        Assert.Equal(Permission.Edit, await permissions.GetExperimentGrantAsync(alice, experiment, Ct));
        var twice = await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => permissions.CreateExperimentPermissionAsync(experiment, "alice", Permission.Read, Ct));
        Assert.Contains($"experiment_id={experiment}, username=alice", twice.Message, StringComparison.Ordinal);

        await permissions.UpdateExperimentPermissionAsync(experiment, "alice", Permission.NoPermissions, Ct);
        Assert.Equal(Permission.NoPermissions, (await permissions.GetExperimentPermissionAsync(experiment, "alice", Ct)).Permission);
        await permissions.DeleteExperimentPermissionAsync(experiment, "alice", Ct);
        var gone = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.GetExperimentPermissionAsync(experiment, "alice", Ct));
        Assert.Contains("username=alice not found", gone.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.UpdateExperimentPermissionAsync(experiment, "alice", Permission.Read, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.DeleteExperimentPermissionAsync(experiment, "alice", Ct));

        var nobody = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.CreateExperimentPermissionAsync(experiment, "bob", Permission.Read, Ct));
        Assert.Equal("User with username=bob not found", nobody.Message);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.CreateExperimentPermissionAsync("424242", "alice", Permission.Read, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.CreateExperimentPermissionAsync("not-a-number", "alice", Permission.Read, Ct));
        Assert.Null(await permissions.GetExperimentGrantAsync(alice, "not-a-number", Ct));
    }

    [Fact]
    public async Task CreatorGrantsUpsertAndGrantsGoWithTheirUserExperimentAndModel()
    {
        using var stores = await CreateStoresAsync();
        var permissions = stores.Permissions!;
        var alice = await AddUserAsync(stores, "alice");
        var bob = await AddUserAsync(stores, "bob");
        var experiment = await stores.Tracking.CreateExperimentAsync("e", cancellationToken: Ct);
        var run = (await stores.Tracking.CreateRunAsync(new CreateRunRequest(experiment), Ct)).Info.RunId;
        await stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);

        await permissions.GrantExperimentAsync(experiment, alice, Permission.Read, Ct);
        await permissions.GrantExperimentAsync(experiment, alice, Permission.Manage, Ct);
        await permissions.GrantExperimentAsync(experiment, bob, Permission.Edit, Ct);
        await permissions.GrantRegisteredModelAsync("m", alice, Permission.Manage, Ct);
        Assert.Equal(Permission.Manage, await permissions.GetExperimentGrantAsync(alice, experiment, Ct));
        Assert.Equal(experiment, await permissions.GetExperimentOfRunAsync(run, Ct));
        Assert.Null(await permissions.GetExperimentOfRunAsync("no-such-run", Ct));
        Assert.Equal(Permission.Manage, (await permissions.GetExperimentGrantsAsync(alice, Ct))[experiment]);

        // A renamed model keeps its grants; a deleted one takes them along.
        await stores.Registry.RenameRegisteredModelAsync("m", "m2", Ct);
        Assert.Equal(Permission.Manage, await permissions.GetRegisteredModelGrantAsync(alice, "m2", Ct));
        Assert.Equal(["m2"], (await permissions.ListRegisteredModelGrantsAsync(alice, Ct)).Select(g => g.Name));
        await stores.Registry.DeleteRegisteredModelAsync("m2", Ct);
        Assert.Empty(await permissions.ListRegisteredModelGrantsAsync(alice, Ct));

        // A deleted user's grants go too.
        await stores.Database!.WriteAsync((c, tx) => c.ExecuteAsync(new CommandDefinition("DELETE FROM users WHERE id = @bob", new { bob }, tx, cancellationToken: Ct)), Ct);
        Assert.Empty(await permissions.ListExperimentGrantsAsync(bob, Ct));
        Assert.Single(await permissions.ListExperimentGrantsAsync(alice, Ct));
    }

    [Fact]
    public async Task RegisteredModelGrantsFollowMlflowsApi()
    {
        using var stores = await CreateStoresAsync();
        var permissions = stores.Permissions!;
        var alice = await AddUserAsync(stores, "alice");
        await stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);

        Assert.Equal(new RegisteredModelPermissionGrant("m", alice, Permission.Read),
            await permissions.CreateRegisteredModelPermissionAsync("m", "alice", Permission.Read, Ct));
        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => permissions.CreateRegisteredModelPermissionAsync("m", "alice", Permission.Edit, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.CreateRegisteredModelPermissionAsync("nope", "alice", Permission.Edit, Ct));
        await permissions.UpdateRegisteredModelPermissionAsync("m", "alice", Permission.Manage, Ct);
        Assert.Equal(Permission.Manage, (await permissions.GetRegisteredModelPermissionAsync("m", "alice", Ct)).Permission);
        await permissions.DeleteRegisteredModelPermissionAsync("m", "alice", Ct);
        var gone = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => permissions.GetRegisteredModelPermissionAsync("m", "alice", Ct));
        Assert.Equal("Registered model permission with name=m and username=alice not found", gone.Message);
    }

    [Fact]
    public void PermissionNamesAreMlflows()
    {
        Assert.Equal(Permission.Manage, Permissions.Parse("MANAGE"));
        Assert.Equal("NO_PERMISSIONS", Permission.NoPermissions.Name());
        var e = Assert.Throws<InvalidParameterValueException>(() => Permissions.Parse("read"));
        Assert.Contains("'permission'", e.Message, StringComparison.Ordinal);
        Assert.Contains("READ, EDIT, MANAGE, NO_PERMISSIONS", e.Message, StringComparison.Ordinal);
        Assert.True(Permission.Read < Permission.Edit && Permission.Edit < Permission.Manage && Permission.NoPermissions < Permission.Read);
    }
}

/// <summary>The permission store over a real SQLite file.</summary>
public sealed class SqlitePermissionStoreTests : PermissionStoreContract
{
    private readonly TempDirectory _directory = new();
    private int _count;

    protected override Task<CairnStores> CreateStoresAsync() =>
        CairnStores.OpenAsync(_directory.Combine($"permissions-{_count++}.db"), new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts") }, Ct);

    public override async ValueTask DisposeAsync()
    {
        _directory.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>The permission store over PostgreSQL when CAIRN_TEST_POSTGRES is set; each test gets its own schema, dropped afterwards.</summary>
public sealed class PostgresPermissionStoreTests : PermissionStoreContract
{
    private static readonly string? ConnectionString = Environment.GetEnvironmentVariable("CAIRN_TEST_POSTGRES");
    private readonly List<string> _schemas = [];

    protected override Task<CairnStores> CreateStoresAsync()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(ConnectionString),
            "CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent: set it to an Npgsql connection string (e.g. from .ci/postgres.sh start).");
        var schema = "cairn_perm_" + Guid.NewGuid().ToString("N")[..16];
        _schemas.Add(schema);
        var connectionString = new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ToString();
        return CairnStores.OpenAsync(connectionString, new CairnStoreOptions { DefaultArtifactRoot = "s3://cairn-test/artifacts" }, Ct);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_schemas.Count > 0 && ConnectionString is not null)
        {
            await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
            foreach (var schema in _schemas)
            {
                await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        await base.DisposeAsync();
    }
}

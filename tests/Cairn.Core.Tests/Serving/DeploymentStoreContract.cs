using Cairn.Registry;
using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Storage;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Cairn.Tests.Serving;

/// <summary>What every <see cref="IDeploymentStore"/> backend must do: create, change, canary, promote, roll back, history, delete.</summary>
public abstract class DeploymentStoreContract : IAsyncDisposable
{
    /// <summary>New, empty stores of the backend under test, writing times from <see cref="Time"/>.</summary>
    protected abstract Task<CairnStores> CreateStoresAsync();

    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Stores with registered models <c>churn</c> (versions 1..3) and <c>other</c> (version 1).</summary>
    private async Task<CairnStores> SeededAsync()
    {
        var stores = await CreateStoresAsync();
        await stores.Registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        for (var i = 1; i <= 3; i++) await stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", $"s3://b/churn/{i}"), Ct);
        await stores.Registry.CreateRegisteredModelAsync("other", cancellationToken: Ct);
        await stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("other", "s3://b/other/1"), Ct);
        return stores;
    }

    private static async Task<ErrorCode> ErrorOfAsync(Func<Task> action) => (await Assert.ThrowsAnyAsync<CairnException>(action)).ErrorCode;

    [Fact]
    public async Task A_deployment_is_created_read_listed_and_deleted()
    {
        var store = (await SeededAsync()).Deployments;
        var created = await store.CreateDeploymentAsync(new DeploymentSpec("churn-api",
            [DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/churn/2")], StickyKey.Header("X-User-Id"), "the churn model"),
            "ann", Ct);
        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal(new Deployment("churn-api", "the churn model", created.Routes, StickyKey.Header("X-User-Id"), 1, now, "ann", now, "ann"), created);
        Assert.Equal([DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/churn/2")], created.Routes);

        var read = await store.GetDeploymentAsync("churn-api", Ct);
        Assert.Equal(created with { Routes = read.Routes }, read);
        Assert.Equal(created.Routes, read.Routes);

        await store.CreateDeploymentAsync(new DeploymentSpec("a-first", [DeploymentRoute.Primary("models:/other/1", 100)], StickyKey.Field("user_id")), cancellationToken: Ct);
        var listed = await store.ListDeploymentsAsync(Ct);
        Assert.Equal(["a-first", "churn-api"], listed.Select(d => d.Name));
        Assert.Equal(StickyKey.Field("user_id"), listed[0].Sticky);
        Assert.Equal(RegistryLimits.UnknownUser, listed[0].CreatedBy);

        Assert.Equal(ErrorCode.RESOURCE_ALREADY_EXISTS, await ErrorOfAsync(() =>
            store.CreateDeploymentAsync(new DeploymentSpec("churn-api", [DeploymentRoute.Primary("models:/other/1", 100)]), cancellationToken: Ct)));

        await store.DeleteDeploymentAsync("churn-api", Ct);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => store.GetDeploymentAsync("churn-api", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => store.GetHistoryAsync("churn-api", cancellationToken: Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => store.DeleteDeploymentAsync("churn-api", Ct)));
        Assert.Equal(["a-first"], (await store.ListDeploymentsAsync(Ct)).Select(d => d.Name));

        // The name is free again, and its history starts anew.
        var again = await store.CreateDeploymentAsync(new DeploymentSpec("churn-api", [DeploymentRoute.Primary("models:/churn/1", 100)]), cancellationToken: Ct);
        Assert.Equal(1, again.Revision);
        Assert.Single(await store.GetHistoryAsync("churn-api", cancellationToken: Ct));
    }

    [Fact]
    public async Task A_route_naming_a_missing_model_or_version_is_refused_naming_it_and_nothing_is_written()
    {
        var store = (await SeededAsync()).Deployments;
        var missing = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.CreateDeploymentAsync(new DeploymentSpec("d",
            [DeploymentRoute.Primary("models:/churn/1", 50), DeploymentRoute.Primary("models:/ghost@champion", 50)]), cancellationToken: Ct));
        Assert.Contains("'ghost'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("routes[1].model_uri", missing.Message, StringComparison.Ordinal);
        Assert.Empty(await store.ListDeploymentsAsync(Ct));

        var version = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.CreateDeploymentAsync(new DeploymentSpec("d",
            [DeploymentRoute.Primary("models:/churn/9", 100)]), cancellationToken: Ct));
        Assert.Contains("version 9", version.Message, StringComparison.Ordinal);

        await store.CreateDeploymentAsync(new DeploymentSpec("d", [DeploymentRoute.Primary("models:/churn/1", 100)]), cancellationToken: Ct);
        var update = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() =>
            store.UpdateDeploymentAsync("d", new DeploymentUpdate([DeploymentRoute.Primary("models:/ghost/1", 100)]), cancellationToken: Ct));
        Assert.Contains("'ghost'", update.Message, StringComparison.Ordinal);
        var canary = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.CanaryAsync("d", "models:/ghost@challenger", 10, cancellationToken: Ct));
        Assert.Contains("'ghost'", canary.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await store.GetDeploymentAsync("d", Ct)).Revision);
    }

    [Fact]
    public async Task Canary_then_promote_moves_the_traffic_step_by_step_and_every_change_is_a_revision()
    {
        var store = (await SeededAsync()).Deployments;
        await store.CreateDeploymentAsync(new DeploymentSpec("churn-api",
            [DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/other/1")]), "ann", Ct);

        Time.Advance(TimeSpan.FromSeconds(1));
        var ten = await store.CanaryAsync("churn-api", "models:/churn@challenger", 10, "bob", Ct);
        Assert.Equal(2, ten.Revision);
        Assert.Equal([
            DeploymentRoute.Primary("models:/churn@champion", 90),
            new DeploymentRoute("models:/churn@challenger", 10, RouteRole.Primary, Canary: true),
            DeploymentRoute.Shadow("models:/other/1")], ten.Routes);
        Assert.Equal("bob", ten.UpdatedBy);
        Assert.Equal("ann", ten.CreatedBy);
        Assert.Equal(Time.GetUtcNow().ToUnixTimeMilliseconds(), ten.LastUpdatedTime);

        // The same candidate takes a bigger step; another candidate waits for this one to end.
        var half = await store.CanaryAsync("churn-api", "models:/churn@challenger", 50, "bob", Ct);
        Assert.Equal([50, 50], half.PrimaryRoutes.Select(r => r.Weight!.Value));
        Assert.Equal(ErrorCode.INVALID_STATE, await ErrorOfAsync(() => store.CanaryAsync("churn-api", "models:/churn/3", 10, cancellationToken: Ct)));

        var promoted = await store.PromoteAsync("churn-api", "cat", Ct);
        Assert.Equal([DeploymentRoute.Primary("models:/churn@challenger", 100), DeploymentRoute.Shadow("models:/other/1")], promoted.Routes);
        Assert.Equal(4, promoted.Revision);
        Assert.Equal(ErrorCode.INVALID_STATE, await ErrorOfAsync(() => store.PromoteAsync("churn-api", cancellationToken: Ct)));

        var history = await store.GetHistoryAsync("churn-api", cancellationToken: Ct);
        Assert.Equal([4L, 3, 2, 1], history.Select(r => r.Revision));
        Assert.Equal([DeploymentAction.Promote, DeploymentAction.Canary, DeploymentAction.Canary, DeploymentAction.Create], history.Select(r => r.Action));
        Assert.Equal(["cat", "bob", "bob", "ann"], history.Select(r => r.User));
        Assert.Equal(promoted.Routes, history[0].Routes);
        Assert.Equal(ten.Routes, history[2].Routes);
        Assert.Equal(2, (await store.GetHistoryAsync("churn-api", 2, Ct)).Count);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => store.GetHistoryAsync("churn-api", 0, Ct)));
    }

    [Fact]
    public async Task Rollback_restores_the_previous_routing_as_a_new_revision_and_walks_further_back_when_repeated()
    {
        var store = (await SeededAsync()).Deployments;
        var first = await store.CreateDeploymentAsync(new DeploymentSpec("d", [DeploymentRoute.Primary("models:/churn/1", 100)], StickyKey.Header("X-User")), cancellationToken: Ct);
        Assert.Equal(ErrorCode.INVALID_STATE, await ErrorOfAsync(() => store.RollbackAsync("d", cancellationToken: Ct)));

        var second = await store.UpdateDeploymentAsync("d", new DeploymentUpdate([DeploymentRoute.Primary("models:/churn/2", 100)], ClearSticky: true), cancellationToken: Ct);
        Assert.Null(second.Sticky);
        await store.UpdateDeploymentAsync("d", new DeploymentUpdate([DeploymentRoute.Primary("models:/churn/3", 100)], "now three"), cancellationToken: Ct);

        var back = await store.RollbackAsync("d", "ops", Ct);
        Assert.Equal(4L, back.Revision);
        Assert.Equal(second.Routes, back.Routes);
        Assert.Equal("now three", back.Description); // the routing goes back, not the description
        var further = await store.RollbackAsync("d", "ops", Ct);
        Assert.Equal((5L, first.Sticky), (further.Revision, further.Sticky));
        Assert.Equal(first.Routes, further.Routes);
        Assert.Equal(ErrorCode.INVALID_STATE, await ErrorOfAsync(() => store.RollbackAsync("d", cancellationToken: Ct)));

        var history = await store.GetHistoryAsync("d", cancellationToken: Ct);
        Assert.Equal([(DeploymentAction.Rollback, (long?)1), (DeploymentAction.Rollback, 2)], history.Take(2).Select(r => (r.Action, r.RestoredRevision)));
        Assert.Equal("ops", history[0].User);

        // A canary rolled back: the old primary answers everything again.
        await store.CanaryAsync("d", "models:/churn/2", 20, cancellationToken: Ct);
        Assert.Equal(first.Routes, (await store.RollbackAsync("d", cancellationToken: Ct)).Routes);
    }

    [Fact]
    public async Task Updates_replace_only_what_they_set_and_are_checked()
    {
        var store = (await SeededAsync()).Deployments;
        await store.CreateDeploymentAsync(new DeploymentSpec("d", [DeploymentRoute.Primary("models:/churn/1", 100)], StickyKey.Header("X-User"), "first"), cancellationToken: Ct);
        var described = await store.UpdateDeploymentAsync("d", new DeploymentUpdate(Description: "second"), cancellationToken: Ct);
        Assert.Equal(("second", StickyKey.Header("X-User")), (described.Description, described.Sticky));
        Assert.Equal([DeploymentRoute.Primary("models:/churn/1", 100)], described.Routes);
        var field = await store.UpdateDeploymentAsync("d", new DeploymentUpdate(Sticky: StickyKey.Field("customer")), cancellationToken: Ct);
        Assert.Equal(StickyKey.Field("customer"), field.Sticky);

        var bad = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.UpdateDeploymentAsync("d",
            new DeploymentUpdate([DeploymentRoute.Primary("models:/churn/1", 60), DeploymentRoute.Primary("models:/churn/2", 30)]), cancellationToken: Ct));
        Assert.Contains("sum to 90", bad.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() =>
            store.UpdateDeploymentAsync("nope", new DeploymentUpdate(Description: "x"), cancellationToken: Ct)));
        Assert.Equal(3, (await store.GetDeploymentAsync("d", Ct)).Revision);
    }

    [Fact]
    public async Task A_log_sample_rate_is_kept_by_routing_changes_and_rollbacks_until_an_update_sets_or_clears_it()
    {
        var store = (await SeededAsync()).Deployments;
        var created = await store.CreateDeploymentAsync(new DeploymentSpec("d", [DeploymentRoute.Primary("models:/churn/1", 100)], LogSampleRate: 0.5), cancellationToken: Ct);
        Assert.Equal(0.5, created.LogSampleRate);
        Assert.Equal(0.5, (await store.GetDeploymentAsync("d", Ct)).LogSampleRate);

        // Routing changes and a rollback move routes, never the logging setting.
        await store.CanaryAsync("d", "models:/churn/2", 10, cancellationToken: Ct);
        Assert.Equal(0.5, (await store.RollbackAsync("d", cancellationToken: Ct)).LogSampleRate);
        var off = await store.UpdateDeploymentAsync("d", new DeploymentUpdate(LogSampleRate: 0), cancellationToken: Ct);
        Assert.Equal((0.0, "models:/churn/1"), (off.LogSampleRate, off.Routes.Single().ModelUri));
        Assert.Null((await store.UpdateDeploymentAsync("d", new DeploymentUpdate(ClearLogSampleRate: true), cancellationToken: Ct)).LogSampleRate);
        Assert.Null((Assert.Single(await store.ListDeploymentsAsync(Ct))).LogSampleRate);

        foreach (var rate in new[] { -0.1, 1.5, double.NaN })
        {
            var bad = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.UpdateDeploymentAsync("d", new DeploymentUpdate(LogSampleRate: rate), cancellationToken: Ct));
            Assert.Contains("'log_sample_rate'", bad.Message, StringComparison.Ordinal);
        }
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.CreateDeploymentAsync(
            new DeploymentSpec("e", [DeploymentRoute.Primary("models:/churn/1", 100)], LogSampleRate: 2), cancellationToken: Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.UpdateDeploymentAsync("d",
            new DeploymentUpdate(LogSampleRate: 0.5, ClearLogSampleRate: true), cancellationToken: Ct));
        Assert.Equal(5, (await store.GetDeploymentAsync("d", Ct)).Revision);
    }

    [Fact]
    public async Task Concurrent_changes_take_turns_and_revision_numbers_never_collide()
    {
        var store = (await SeededAsync()).Deployments;
        for (var round = 0; round < Race.Rounds; round++)
        {
            var name = $"race-{round}";
            await store.CreateDeploymentAsync(new DeploymentSpec(name, [DeploymentRoute.Primary("models:/churn/1", 100)]), cancellationToken: Ct);
            var outcomes = await Race.RunAsync(
                () => store.UpdateDeploymentAsync(name, new DeploymentUpdate([DeploymentRoute.Primary("models:/churn/2", 100)]), "ann", Ct),
                () => store.UpdateDeploymentAsync(name, new DeploymentUpdate([DeploymentRoute.Primary("models:/churn/3", 100)]), "bob", Ct),
                () => store.CanaryAsync(name, "models:/other/1", 10, "cat", Ct));
            // The canary may meet either state; it only ever fails for the documented reason.
            Assert.All(outcomes.Take(2), Assert.Null);
            var history = await store.GetHistoryAsync(name, cancellationToken: Ct);
            var expected = outcomes[2] is null ? 4 : 3;
            Assert.Equal(Enumerable.Range(1, expected).Reverse().Select(i => (long)i), history.Select(r => r.Revision));
            Assert.Equal(expected, (await store.GetDeploymentAsync(name, Ct)).Revision);
            Assert.Equal(history[0].Routes, (await store.GetDeploymentAsync(name, Ct)).Routes);
        }
    }
}

public sealed class SqliteDeploymentStoreTests : DeploymentStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("deployments");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The deployment store contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; each store gets its own schema, dropped afterwards.</summary>
public sealed class PostgresDeploymentStoreTests : DeploymentStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_deploy_", "deployment store contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

using Cairn.Access;
using Cairn.Storage;

namespace Cairn.Tests.Auth;

/// <summary>
/// The permission check caches grants and run experiments (so logging to one's own run costs no query per request); a change
/// of a grant must still hold from the very next request, whichever way it is made.
/// </summary>
public sealed class GrantCacheTests
{
    [Fact]
    public async Task ALoweredOrDeletedGrantHoldsFromTheNextRequest()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        await server.CreateUserAsync("owner");
        await server.CreateUserAsync("member");
        var experimentId = (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/experiments/create", new { name = "cached" }))
            .Body.GetProperty("experiment_id").GetString();
        var runId = (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/runs/create", new { experiment_id = experimentId }))
            .Body.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString();
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/experiments/permissions/create",
            new { experiment_id = experimentId, username = "member", permission = "EDIT" })).Status);

        async Task<int> LogAsync(int step) => (await server.SendAsync("member", HttpMethod.Post, "api/2.0/mlflow/runs/log-metric",
            new { run_id = runId, key = "loss", value = 0.5, timestamp = 1_700_000_000_000L, step })).Status;

        // Twice: the second answer comes from the cache.
        Assert.Equal(200, await LogAsync(1));
        Assert.Equal(200, await LogAsync(2));

        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Patch, "api/2.0/mlflow/experiments/permissions/update",
            new { experiment_id = experimentId, username = "member", permission = "READ" })).Status);
        Assert.Equal(403, await LogAsync(3));

        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Patch, "api/2.0/mlflow/experiments/permissions/update",
            new { experiment_id = experimentId, username = "member", permission = "EDIT" })).Status);
        Assert.Equal(200, await LogAsync(4));

        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Delete, "api/2.0/mlflow/experiments/permissions/delete",
            new { experiment_id = experimentId, username = "member" })).Status);
        Assert.Equal(403, await LogAsync(5)); // back to the default, READ
    }

    [Fact]
    public async Task AGrantFollowsARenamedModelEvenWhenTheNewNameWasCheckedBefore()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        await server.CreateUserAsync("owner");
        await server.CreateUserAsync("member");
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/create", new { name = "first" })).Status);
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/permissions/create",
            new { name = "first", username = "member", permission = "EDIT" })).Status);

        // The member asks about "second" before it exists: no grant (the default), remembered by the check.
        Assert.Equal(403, (await server.SendAsync("member", HttpMethod.Patch, "api/2.0/mlflow/registered-models/update",
            new { name = "second", description = "not yet" })).Status);

        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/rename",
            new { name = "first", new_name = "second" })).Status);
        var updated = await server.SendAsync("member", HttpMethod.Patch, "api/2.0/mlflow/registered-models/update",
            new { name = "second", description = "renamed, still mine to edit" });
        Assert.True(updated.Status == 200, $"update after rename answered {updated.Status}: {updated.Body}");
    }

    [Fact]
    public async Task AModelDeletedAndCreatedAgainUnderItsNameKeepsNoOldGrant()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        await server.CreateUserAsync("owner");
        await server.CreateUserAsync("member");
        await server.CreateUserAsync("newcomer");
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/create", new { name = "reused" })).Status);
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/permissions/create",
            new { name = "reused", username = "member", permission = "EDIT" })).Status);
        Assert.Equal(200, (await server.SendAsync("member", HttpMethod.Patch, "api/2.0/mlflow/registered-models/update",
            new { name = "reused", description = "member was here" })).Status);

        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Delete, "api/2.0/mlflow/registered-models/delete", new { name = "reused" })).Status);
        Assert.Equal(200, (await server.SendAsync("newcomer", HttpMethod.Post, "api/2.0/mlflow/registered-models/create", new { name = "reused" })).Status);
        Assert.Equal(403, (await server.SendAsync("member", HttpMethod.Patch, "api/2.0/mlflow/registered-models/update",
            new { name = "reused", description = "not any more" })).Status);
    }

    [Fact]
    public void AReadThatBeganBeforeAChangeIsNotRemembered()
    {
        var cache = new GrantCache();
        var before = cache.Generation;
        cache.Invalidate(); // a grant changed while the read was under way
        cache.AddExperiment(1, 7, Permission.Manage, before);
        Assert.False(cache.TryGetExperiment(1, 7, out _));

        cache.AddExperiment(1, 7, Permission.Read, cache.Generation);
        Assert.True(cache.TryGetExperiment(1, 7, out var grant));
        Assert.Equal(Permission.Read, grant);
        cache.AddNamed("registered_model", 1, "m", null, cache.Generation);
        Assert.True(cache.TryGetNamed("registered_model", 1, "m", out var none));
        Assert.False(cache.TryGetNamed("deployment", 1, "m", out _)); // a deployment of the same name is another resource
        Assert.Null(none);
        cache.Invalidate();
        Assert.False(cache.TryGetExperiment(1, 7, out _));
        Assert.False(cache.TryGetNamed("registered_model", 1, "m", out _));
    }
}

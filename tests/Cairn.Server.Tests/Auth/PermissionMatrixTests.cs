using System.Text.Json;
using Cairn.Access;
using Cairn.Registry;
using Cairn.Server.Auth;
using Cairn.Serving;
using Cairn.Tracking;
using Microsoft.AspNetCore.Routing;

namespace Cairn.Tests.Auth;

/// <summary>
/// Authorization over a real server with access control on: every API route declares a permission (read from the route
/// table, so a new endpoint without one fails here), and every role meets every targeted route with the answer its
/// permission calls for, on targets that exist and on targets that do not.
/// </summary>
public sealed class PermissionMatrixTests
{
    private const string MissingRun = "00000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The users of the matrix: a grant of each level on the target, and an admin with none.</summary>
    private static readonly (string User, Permission? Grant)[] Roles =
    [
        ("u-none", Permission.NoPermissions),
        ("u-read", Permission.Read),
        ("u-edit", Permission.Edit),
        ("u-manage", Permission.Manage),
        ("root", null),
    ];

    private static readonly CairnTarget[] Targeted =
        [CairnTarget.ExperimentId, CairnTarget.RunId, CairnTarget.ModelName, CairnTarget.ArtifactPath, CairnTarget.ModelUri, CairnTarget.DeploymentName];

    [Fact]
    public async Task EveryApiRouteDeclaresAPermission()
    {
        await using var server = await AuthzServer.StartAsync();
        var api = server.Routes.Where(r => IsApi(r.RoutePattern.RawText)).ToList();
        Assert.True(api.Count > 100, $"only {api.Count} API routes found");
        var undeclared = api.Where(r => r.Metadata.GetMetadata<CairnPermissionMetadata>() is null)
            .Select(r => $"{string.Join(",", Methods(r))} {r.RoutePattern.RawText}").ToList();
        Assert.True(undeclared.Count == 0, "API routes without a permission declaration: " + string.Join("; ", undeclared));

        // On experiments and models, reading never needs more than READ; deleting and changing permissions need MANAGE.
        foreach (var route in api)
        {
            var required = route.Metadata.GetMetadata<CairnPermissionMetadata>()!;
            var text = route.RoutePattern.RawText!;
            if (required.Resource == CairnResource.None) continue; // users, tokens: their handlers check who may act
            if (text.Contains("/permissions/", StringComparison.Ordinal) || (text.EndsWith("/delete", StringComparison.Ordinal) && !text.Contains("-tag", StringComparison.Ordinal)))
                Assert.True(required.Level == Permission.Manage, $"{text} needs {required.Level}");
            if (Methods(route).All(m => m == "GET") && Targeted.Contains(required.From) && !text.Contains("/permissions/", StringComparison.Ordinal))
                Assert.True(required.Level == Permission.Read, $"{text} needs {required.Level}");
        }
    }

    [Fact]
    public async Task EveryRoleMeetsEveryTargetedRouteWithTheAnswerItsPermissionCallsFor()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        var ids = new Dictionary<string, long>();
        foreach (var (user, grant) in Roles) ids[user] = await server.CreateUserAsync(user, admin: grant is null);

        var routes = server.Routes
            .Where(r => r.RoutePattern.RawText!.StartsWith("/api/", StringComparison.Ordinal))
            .Select(r => (Route: r, Required: r.Metadata.GetMetadata<CairnPermissionMetadata>()!))
            .Where(r => Targeted.Contains(r.Required.From))
            .ToList();
        Assert.True(routes.Count >= 55, $"only {routes.Count} targeted routes");

        var checkedCases = 0;
        foreach (var (route, required) in routes)
        {
            foreach (var method in Methods(route))
            {
                foreach (var (user, grant) in Roles)
                {
                    // Fresh targets per case: an allowed delete or rename must not change what the next role meets.
                    var target = await NewTargetAsync(server, ids[user], grant);
                    var allowed = grant is null || grant >= required.Level;
                    var (status, body) = await SendAsync(server, user, method, route.RoutePattern.RawText!, target);
                    var what = $"{user} {method} {route.RoutePattern.RawText} (needs {required.Level}) answered {status}: {body}";
                    // The targets' model versions have no package: scoring through a deployment passes the permission check and
                    // then answers 503 TEMPORARILY_UNAVAILABLE (its models cannot load); any other 5xx is a failure.
                    var unloadable = status == 503 && route.RoutePattern.RawText!.EndsWith("/invocations", StringComparison.Ordinal)
                        && body.GetProperty("error_code").GetString() == "TEMPORARILY_UNAVAILABLE";
                    if (allowed) Assert.True(status is not (401 or 403) && (status < 500 || unloadable), what);
                    else
                    {
                        Assert.True(status == 403, what);
                        Assert.Equal("PERMISSION_DENIED", body.GetProperty("error_code").GetString());
                    }

                    // The same request about targets that do not exist: someone the default does not allow learns nothing.
                    if (grant is not null && required.Level > Permission.Read)
                    {
                        var missing = target with { ExperimentId = "987654321", RunId = MissingRun, Model = "missing-" + target.Model };
                        var (missingStatus, missingBody) = await SendAsync(server, user, method, route.RoutePattern.RawText!, missing);
                        Assert.True(missingStatus == 403, $"{user} {method} {route.RoutePattern.RawText} on a missing target answered {missingStatus}: {missingBody}");
                        if (!allowed) Assert.Equal(body.GetProperty("message").GetString(), missingBody.GetProperty("message").GetString());
                    }
                    checkedCases++;
                }
            }
        }
        Assert.True(checkedCases >= routes.Count * Roles.Length);
    }

    [Fact]
    public async Task WithNoDefaultPermissionAReaderIsDeniedAlikeOnExistingAndMissingTargets()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "NO_PERMISSIONS");
        await server.CreateUserAsync("stranger");
        var experiment = await server.Stores.Tracking.CreateExperimentAsync("secret", cancellationToken: Ct);
        var run = (await server.Stores.Tracking.CreateRunAsync(new CreateRunRequest(experiment), Ct)).Info.RunId;
        await server.Stores.Registry.CreateRegisteredModelAsync("secret-model", cancellationToken: Ct);

        foreach (var (existing, missing) in new[]
        {
            ($"api/2.0/mlflow/experiments/get?experiment_id={experiment}", "api/2.0/mlflow/experiments/get?experiment_id=424242"),
            ($"api/2.0/mlflow/runs/get?run_id={run}", $"api/2.0/mlflow/runs/get?run_id={MissingRun}"),
            ("api/2.0/mlflow/registered-models/get?name=secret-model", "api/2.0/mlflow/registered-models/get?name=no-such-model"),
            ($"api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/x.txt", "api/2.0/mlflow-artifacts/artifacts/424242/r/artifacts/x.txt"),
        })
        {
            var a = await server.SendAsync("stranger", HttpMethod.Get, existing);
            var b = await server.SendAsync("stranger", HttpMethod.Get, missing);
            Assert.Equal((403, "PERMISSION_DENIED"), (a.Status, a.Body.GetProperty("error_code").GetString()));
            Assert.Equal((403, a.Body.GetRawText()), (b.Status, b.Body.GetRawText()));
        }

        // The artifact root itself and folders not named by an experiment id belong to no experiment: only admins use them.
        var root = await server.SendAsync("stranger", HttpMethod.Get, "api/2.0/mlflow-artifacts/artifacts");
        Assert.Equal(403, root.Status);
        await server.Permissions.GrantExperimentAsync(experiment, await StrangerIdAsync(server), Permission.Manage, Ct);
        Assert.NotEqual(403, (await server.SendAsync("stranger", HttpMethod.Get, $"api/2.0/mlflow-artifacts/artifacts?path={experiment}")).Status);
        foreach (var folder in new[] { "0" + experiment, "models" })
        {
            var put = await server.SendAsync("stranger", HttpMethod.Put, $"api/2.0/mlflow-artifacts/artifacts/{folder}/x/artifacts/f.txt", "{}");
            Assert.True(put.Status == 403, $"upload into '{folder}' answered {put.Status}: {put.Body}");
        }
    }

    [Fact]
    public async Task SearchesReturnOnlyWhatTheCallerMayRead()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        var userId = await server.CreateUserAsync("analyst");
        var tracking = server.Stores.Tracking;
        var registry = server.Stores.Registry;
        var open = await tracking.CreateExperimentAsync("open", cancellationToken: Ct);
        var hidden = await tracking.CreateExperimentAsync("hidden", cancellationToken: Ct);
        await server.Permissions.GrantExperimentAsync(hidden, userId, Permission.NoPermissions, Ct);
        var openRun = (await tracking.CreateRunAsync(new CreateRunRequest(open), Ct)).Info.RunId;
        await tracking.CreateRunAsync(new CreateRunRequest(hidden), Ct);
        await registry.CreateRegisteredModelAsync("open-model", cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("hidden-model", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("open-model", "s3://b/open"), Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("hidden-model", "s3://b/hidden"), Ct);
        await server.Permissions.GrantRegisteredModelAsync("hidden-model", userId, Permission.NoPermissions, Ct);

        var experiments = await server.SendAsync("analyst", HttpMethod.Post, "api/2.0/mlflow/experiments/search", new { max_results = 100 });
        Assert.Equal(["Default", "open"], Names(experiments.Body, "experiments", "name").Order(StringComparer.Ordinal));
        var listed = await server.SendAsync("analyst", HttpMethod.Get, "api/2.0/mlflow/experiments/list");
        Assert.DoesNotContain("hidden", Names(listed.Body, "experiments", "name"));
        var byName = await server.SendAsync("analyst", HttpMethod.Get, "api/2.0/mlflow/experiments/get-by-name?experiment_name=hidden");
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (byName.Status, byName.Body.GetProperty("error_code").GetString()));

        var runs = await server.SendAsync("analyst", HttpMethod.Post, "api/2.0/mlflow/runs/search", new { experiment_ids = new[] { open, hidden } });
        Assert.Equal([openRun], runs.Body.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("info").GetProperty("run_id").GetString()));
        var onlyHidden = await server.SendAsync("analyst", HttpMethod.Post, "api/2.0/mlflow/runs/search", new { experiment_ids = new[] { hidden, "00" + hidden } });
        Assert.Equal(200, onlyHidden.Status);
        Assert.False(onlyHidden.Body.TryGetProperty("runs", out _));

        var models = await server.SendAsync("analyst", HttpMethod.Get, "api/2.0/mlflow/registered-models/search");
        Assert.Equal(["open-model"], Names(models.Body, "registered_models", "name"));
        var versions = await server.SendAsync("analyst", HttpMethod.Get, "api/2.0/mlflow/model-versions/search");
        Assert.Equal(["open-model"], Names(versions.Body, "model_versions", "name"));

        // The admin sees everything.
        await server.CreateUserAsync("root", admin: true);
        var all = await server.SendAsync("root", HttpMethod.Get, "api/2.0/mlflow/registered-models/search");
        Assert.Equal(2, Names(all.Body, "registered_models", "name").Count);
    }

    [Fact]
    public async Task TheCreatorGetsManageAndOthersTheDefault()
    {
        await using var server = await AuthzServer.StartAsync(defaultPermission: "READ");
        await server.CreateUserAsync("owner");
        await server.CreateUserAsync("other");

        var created = await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/experiments/create", new { name = "mine" });
        Assert.Equal(200, created.Status);
        var experimentId = created.Body.GetProperty("experiment_id").GetString();
        var grant = await server.SendAsync("owner", HttpMethod.Get, $"api/2.0/mlflow/experiments/permissions/get?experiment_id={experimentId}&username=owner");
        Assert.Equal(200, grant.Status);
        Assert.Equal("MANAGE", grant.Body.GetProperty("experiment_permission").GetProperty("permission").GetString());

        var model = await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/create", new { name = "my-model" });
        Assert.Equal(200, model.Status);
        var modelGrant = await server.SendAsync("owner", HttpMethod.Get, "api/2.0/mlflow/registered-models/permissions/get?name=my-model&username=owner");
        Assert.Equal("MANAGE", modelGrant.Body.GetProperty("registered_model_permission").GetProperty("permission").GetString());

        // Another user reads (the default) but may neither log nor delete.
        Assert.Equal(200, (await server.SendAsync("other", HttpMethod.Get, $"api/2.0/mlflow/experiments/get?experiment_id={experimentId}")).Status);
        Assert.Equal(403, (await server.SendAsync("other", HttpMethod.Post, "api/2.0/mlflow/runs/create", new { experiment_id = experimentId })).Status);
        Assert.Equal(403, (await server.SendAsync("other", HttpMethod.Delete, "api/2.0/mlflow/registered-models/delete", new { name = "my-model" })).Status);

        // The owner gives the other EDIT: now they log, still cannot delete.
        var given = await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/experiments/permissions/create",
            new { experiment_id = experimentId, username = "other", permission = "EDIT" });
        Assert.Equal(200, given.Status);
        Assert.Equal(200, (await server.SendAsync("other", HttpMethod.Post, "api/2.0/mlflow/runs/create", new { experiment_id = experimentId })).Status);
        Assert.Equal(403, (await server.SendAsync("other", HttpMethod.Post, "api/2.0/mlflow/experiments/delete", new { experiment_id = experimentId })).Status);
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/experiments/delete", new { experiment_id = experimentId })).Status);

        // The grant follows a renamed model.
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/registered-models/rename", new { name = "my-model", new_name = "our-model" })).Status);
        Assert.Equal(200, (await server.SendAsync("owner", HttpMethod.Delete, "api/2.0/mlflow/registered-models/delete", new { name = "our-model" })).Status);
    }

    [Fact]
    public async Task ThePermissionApiAnswersAsMlflowDoes()
    {
        await using var server = await AuthzServer.StartAsync();
        await server.CreateUserAsync("root", admin: true);
        await server.CreateUserAsync("alice");
        var experiment = await server.Stores.Tracking.CreateExperimentAsync("e", cancellationToken: Ct);
        await server.Stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        const string api = "api/2.0/mlflow/";

        var created = await server.SendAsync("root", HttpMethod.Post, api + "experiments/permissions/create", new { experiment_id = experiment, username = "alice", permission = "EDIT" });
        Assert.True(created.Status == 200, created.Body.ToString());
        var message = created.Body.GetProperty("experiment_permission");
        Assert.Equal(experiment, message.GetProperty("experiment_id").GetString());
        Assert.Equal("EDIT", message.GetProperty("permission").GetString());
        Assert.True(message.GetProperty("user_id").GetInt64() > 0);

        var again = await server.SendAsync("root", HttpMethod.Post, api + "experiments/permissions/create", new { experiment_id = experiment, username = "alice", permission = "READ" });
        Assert.Equal((400, "RESOURCE_ALREADY_EXISTS"), (again.Status, again.Body.GetProperty("error_code").GetString()));
        var bad = await server.SendAsync("root", HttpMethod.Patch, api + "experiments/permissions/update", new { experiment_id = experiment, username = "alice", permission = "OWNER" });
        Assert.Equal((400, "INVALID_PARAMETER_VALUE"), (bad.Status, bad.Body.GetProperty("error_code").GetString()));
        Assert.Contains("'permission'", bad.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        var nobody = await server.SendAsync("root", HttpMethod.Post, api + "experiments/permissions/create", new { experiment_id = experiment, username = "nobody", permission = "READ" });
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (nobody.Status, nobody.Body.GetProperty("error_code").GetString()));

        Assert.Equal(200, (await server.SendAsync("root", HttpMethod.Patch, api + "experiments/permissions/update", new { experiment_id = experiment, username = "alice", permission = "MANAGE" })).Status);
        var got = await server.SendAsync("root", HttpMethod.Get, api + $"experiments/permissions/get?experiment_id={experiment}&username=alice");
        Assert.Equal("MANAGE", got.Body.GetProperty("experiment_permission").GetProperty("permission").GetString());
        Assert.Equal(200, (await server.SendAsync("root", HttpMethod.Delete, api + "experiments/permissions/delete", new { experiment_id = experiment, username = "alice" })).Status);
        var gone = await server.SendAsync("root", HttpMethod.Get, api + $"experiments/permissions/get?experiment_id={experiment}&username=alice");
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (gone.Status, gone.Body.GetProperty("error_code").GetString()));

        var modelGrant = await server.SendAsync("root", HttpMethod.Post, api + "registered-models/permissions/create", new { name = "m", username = "alice", permission = "READ" });
        Assert.Equal("m", modelGrant.Body.GetProperty("registered_model_permission").GetProperty("name").GetString());
        Assert.Equal(200, (await server.SendAsync("root", HttpMethod.Patch, api + "registered-models/permissions/update", new { name = "m", username = "alice", permission = "EDIT" })).Status);
        Assert.Equal("EDIT", (await server.SendAsync("root", HttpMethod.Get, api + "registered-models/permissions/get?name=m&username=alice"))
            .Body.GetProperty("registered_model_permission").GetProperty("permission").GetString());
        // EDIT on the model does not let alice hand out permissions on it.
        var selfService = await server.SendAsync("alice", HttpMethod.Patch, api + "registered-models/permissions/update", new { name = "m", username = "alice", permission = "MANAGE" });
        Assert.Equal((403, "PERMISSION_DENIED"), (selfService.Status, selfService.Body.GetProperty("error_code").GetString()));
        // users/get lists a user's grants as MLflow's does.
        var alice = await server.SendAsync("alice", HttpMethod.Get, api + "users/get?username=alice");
        Assert.Equal(200, alice.Status);
        var listed = alice.Body.GetProperty("user").GetProperty("registered_model_permissions").EnumerateArray().Single();
        Assert.Equal(("m", "EDIT"), (listed.GetProperty("name").GetString(), listed.GetProperty("permission").GetString()));
        Assert.Empty(alice.Body.GetProperty("user").GetProperty("experiment_permissions").EnumerateArray());

        Assert.Equal(200, (await server.SendAsync("root", HttpMethod.Delete, api + "registered-models/permissions/delete", new { name = "m", username = "alice" })).Status);
    }

    [Fact]
    public async Task AnAnonymousCallerIsAskedToAuthenticate()
    {
        await using var server = await AuthzServer.StartAsync();
        var (status, body) = await server.SendAsync(null, HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0");
        Assert.Equal((401, "UNAUTHENTICATED"), (status, body.GetProperty("error_code").GetString()));
        var search = await server.SendAsync(null, HttpMethod.Post, "api/2.0/mlflow/experiments/search", new { });
        Assert.Equal(401, search.Status);
    }

    [Fact]
    public async Task AnUnknownDefaultPermissionStopsTheServerNamingTheSetting()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(async () => await AuthzServer.StartAsync(defaultPermission: "WRITE"));
        Assert.Contains("Cairn:Auth:DefaultPermission", e.Message, StringComparison.Ordinal);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static async Task<long> StrangerIdAsync(AuthzServer server)
    {
        var (_, body) = await server.SendAsync("stranger", HttpMethod.Get, "api/2.0/mlflow/users/get?username=stranger");
        return body.GetProperty("user").GetProperty("id").GetInt64();
    }

    private sealed record Target(string ExperimentId, string RunId, string Model);

    /// <summary>
    /// An experiment with a run, a registered model with version 1 and a deployment of that version named as the model, the
    /// user granted <paramref name="grant"/> on all three.
    /// </summary>
    private static async Task<Target> NewTargetAsync(AuthzServer server, long userId, Permission? grant)
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var experiment = await server.Stores.Tracking.CreateExperimentAsync("exp-" + tag, cancellationToken: Ct);
        var run = (await server.Stores.Tracking.CreateRunAsync(new CreateRunRequest(experiment), Ct)).Info.RunId;
        var model = "model-" + tag;
        await server.Stores.Registry.CreateRegisteredModelAsync(model, cancellationToken: Ct);
        await server.Stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest(model, $"runs:/{run}/model", run), Ct);
        await server.Stores.Deployments.CreateDeploymentAsync(new DeploymentSpec(model, [DeploymentRoute.Primary($"models:/{model}/1", 100)]), cancellationToken: Ct);
        if (grant is { } level)
        {
            await server.Permissions.GrantExperimentAsync(experiment, userId, level, Ct);
            await server.Permissions.GrantRegisteredModelAsync(model, userId, level, Ct);
            await server.Permissions.GrantDeploymentAsync(model, userId, level, Ct);
        }
        return new Target(experiment, run, model);
    }

    /// <summary>A request to <paramref name="pattern"/> naming the target every way the endpoints read one.</summary>
    private static Task<(int Status, JsonElement Body)> SendAsync(AuthzServer server, string user, string method, string pattern, Target t)
    {
        var path = pattern.Replace("{**path}", $"{t.ExperimentId}/{t.RunId}/artifacts/model/file.txt", StringComparison.Ordinal)
            .Replace("{name}", Uri.EscapeDataString(t.Model), StringComparison.Ordinal);
        if (method == "GET")
        {
            var query = string.Join("&",
                $"experiment_id={t.ExperimentId}", $"run_id={t.RunId}", $"name={Uri.EscapeDataString(t.Model)}", "version=1", "alias=champion",
                $"uri={Uri.EscapeDataString($"models:/{t.Model}/1")}", $"path={t.ExperimentId}/{t.RunId}/artifacts", "metric_key=m", "username=u-edit");
            return server.SendAsync(user, HttpMethod.Get, path + "?" + query);
        }
        var body = new Dictionary<string, object?>
        {
            ["experiment_id"] = t.ExperimentId, ["run_id"] = t.RunId, ["name"] = t.Model, ["version"] = "1", ["key"] = "k", ["value"] = "v",
            ["alias"] = "champion", ["new_name"] = t.Model + "-renamed", ["stage"] = "Staging", ["username"] = "u-edit", ["permission"] = "READ",
            ["description"] = "d", ["source"] = $"runs:/{t.RunId}/model", ["timestamp"] = 1, ["model_json"] = "{}",
        };
        return server.SendAsync(user, new HttpMethod(method), path, body);
    }

    private static bool IsApi(string? pattern) =>
        pattern is not null && (pattern.StartsWith("/api/", StringComparison.Ordinal) || pattern.StartsWith("/ajax-api/", StringComparison.Ordinal));

    private static IReadOnlyList<string> Methods(RouteEndpoint route) =>
        route.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"];

    private static List<string> Names(JsonElement body, string list, string field) =>
        body.TryGetProperty(list, out var items) ? items.EnumerateArray().Select(i => i.GetProperty(field).GetString()!).ToList() : [];
}

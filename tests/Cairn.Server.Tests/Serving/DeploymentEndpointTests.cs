using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cairn.Registry;
using Cairn.Server.Hosting;
using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Serving;

/// <summary>/api/cairn/v1/deployments on a real server: the SDK over HTTP, the wire shape, errors, and access control.</summary>
public sealed class DeploymentEndpointTests
{
    private const string Api = "api/cairn/v1/deployments";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CairnStores ServerSide(RunningServer server) => server.Server.Services.GetRequiredService<ServerStores>().Inner;

    private static async Task SeedModelsAsync(IRegistryStore registry)
    {
        await registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        for (var i = 1; i <= 2; i++) await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", $"s3://b/churn/{i}"), Ct);
        await registry.SetRegisteredModelAliasAsync("churn", "champion", "1", cancellationToken: Ct);
        await registry.SetRegisteredModelAliasAsync("churn", "challenger", "2", cancellationToken: Ct);
    }

    private static async Task<(int Status, JsonElement Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? json = null, string? user = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (user is not null) request.Headers.Add("X-Cairn-User", user);
        using var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task The_sdk_over_http_creates_changes_rolls_back_and_deletes_as_the_database_store_does()
    {
        await using var server = await RunningServer.StartAsync();
        await SeedModelsAsync(ServerSide(server).Registry);
        using var client = await CairnStores.OpenAsync(server.BaseAddress.ToString(), cancellationToken: Ct);
        var store = client.Deployments;
        Assert.IsType<HttpDeploymentStore>(store);

        var created = await store.CreateDeploymentAsync(new DeploymentSpec("churn",
            [DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/churn@challenger")], StickyKey.Header("X-User-Id"), "churn model"),
            "ann", Ct);
        Assert.Equal((1L, "ann", "churn model", StickyKey.Header("X-User-Id")), (created.Revision, created.CreatedBy, created.Description, created.Sticky));
        Assert.Equal([DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/churn@challenger")], created.Routes);

        var canary = await store.CanaryAsync("churn", "models:/churn/2", 10, "bob", Ct);
        Assert.Equal([90, 10], canary.PrimaryRoutes.Select(r => r.Weight!.Value));
        Assert.True(canary.Routes[1].Canary);
        var promoted = await store.PromoteAsync("churn", "bob", Ct);
        Assert.Equal("models:/churn/2", Assert.Single(promoted.PrimaryRoutes).ModelUri);
        var rolledBack = await store.RollbackAsync("churn", "cat", Ct);
        Assert.Equal(canary.Routes, rolledBack.Routes);
        var updated = await store.UpdateDeploymentAsync("churn", new DeploymentUpdate(Description: "v2", ClearSticky: true), "dan", Ct);
        Assert.Equal(("v2", (StickyKey?)null, 5L), (updated.Description, updated.Sticky, updated.Revision));

        Assert.Equal(updated with { Routes = updated.Routes }, await store.GetDeploymentAsync("churn", Ct) with { Routes = updated.Routes });
        Assert.Equal(["churn"], (await store.ListDeploymentsAsync(Ct)).Select(d => d.Name));
        var history = await store.GetHistoryAsync("churn", cancellationToken: Ct);
        Assert.Equal(["update", "rollback", "promote", "canary", "create"], history.Select(r => r.Action));
        Assert.Equal(["dan", "cat", "bob", "bob", "ann"], history.Select(r => r.User));
        Assert.Equal(2, history[1].RestoredRevision);
        Assert.Equal(2, (await store.GetHistoryAsync("churn", 2, Ct)).Count);

        // The server's errors come back as the exceptions the database store throws, naming what is wrong.
        var missing = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() =>
            store.CreateDeploymentAsync(new DeploymentSpec("other", [DeploymentRoute.Primary("models:/ghost@champion", 100)]), cancellationToken: Ct));
        Assert.Contains("'ghost'", missing.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() =>
            store.CreateDeploymentAsync(new DeploymentSpec("churn", [DeploymentRoute.Primary("models:/churn/1", 100)]), cancellationToken: Ct));
        // The rollback brought the canary of version 2 back: another candidate waits for it.
        await Assert.ThrowsAsync<InvalidStateException>(() => store.CanaryAsync("churn", "models:/churn@challenger", 5, cancellationToken: Ct));

        await store.DeleteDeploymentAsync("churn", Ct);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetDeploymentAsync("churn", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteDeploymentAsync("churn", Ct));
    }

    [Fact]
    public async Task The_wire_is_snake_case_and_bad_input_is_one_mlflow_error_naming_the_field()
    {
        await using var server = await RunningServer.StartAsync();
        await SeedModelsAsync(ServerSide(server).Registry);
        var http = server.Http;

        var (status, body) = await SendAsync(http, HttpMethod.Post, Api, """
            {"name": "churn", "routes": [{"model_uri": "models:/churn@champion", "weight": 100}, {"model_uri": "models:/churn/2", "role": "shadow"}],
             "sticky_field": "customer_id"}
            """, user: "ann");
        Assert.True(status == 200, body.ToString());
        var deployment = body.GetProperty("deployment");
        Assert.Equal("churn", deployment.GetProperty("name").GetString());
        Assert.Equal("customer_id", deployment.GetProperty("sticky_field").GetString());
        Assert.Equal(1, deployment.GetProperty("revision").GetInt64());
        Assert.Equal("ann", deployment.GetProperty("created_by").GetString());
        Assert.True(deployment.GetProperty("creation_timestamp").GetInt64() > 0);
        var routes = deployment.GetProperty("routes").EnumerateArray().ToList();
        Assert.Equal(("primary", 100), (routes[0].GetProperty("role").GetString(), routes[0].GetProperty("weight").GetInt32()));
        Assert.Equal("shadow", routes[1].GetProperty("role").GetString());
        Assert.False(routes[1].TryGetProperty("weight", out _));

        var canary = await SendAsync(http, HttpMethod.Post, Api + "/churn/canary", """{"model_uri": "models:/churn@challenger", "percent": 25}""", "bob");
        Assert.Equal(200, canary.Status);
        Assert.True(canary.Body.GetProperty("deployment").GetProperty("routes")[1].GetProperty("canary").GetBoolean());
        var history = await SendAsync(http, HttpMethod.Get, Api + "/churn/history");
        Assert.Equal(["bob", "ann"], history.Body.GetProperty("revisions").EnumerateArray().Select(r => r.GetProperty("user_id").GetString()));

        foreach (var (method, path, json, code, expected) in new (HttpMethod, string, string?, string, string)[]
        {
            (HttpMethod.Post, Api, """{"routes": [{"model_uri": "models:/churn/1", "weight": 100}]}""", "INVALID_PARAMETER_VALUE", "'name'"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "models:/churn/1", "weight": 60}]}""", "INVALID_PARAMETER_VALUE", "sum to 60"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "runs:/0123456789abcdef0123456789abcdef/m", "weight": 100}]}""", "INVALID_PARAMETER_VALUE", "routes[0].model_uri"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "models:/churn/1", "weight": 100, "role": "mirror"}]}""", "INVALID_PARAMETER_VALUE", "routes[0].role"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "models:/churn/1", "weight": "all"}]}""", "INVALID_PARAMETER_VALUE", "'routes'"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "models:/churn/1", "weight": 100}], "sticky_header": "X-A", "sticky_field": "b"}""", "INVALID_PARAMETER_VALUE", "not both"),
            (HttpMethod.Post, Api, """{"name": "x", "routes": [{"model_uri": "models:/ghost/1", "weight": 100}]}""", "RESOURCE_DOES_NOT_EXIST", "'ghost'"),
            (HttpMethod.Post, Api, "{not json", "MALFORMED_REQUEST", "Malformed JSON"),
            (HttpMethod.Post, Api + "/churn/canary", """{"model_uri": "models:/churn/1"}""", "INVALID_PARAMETER_VALUE", "'percent'"),
            (HttpMethod.Post, Api + "/churn/canary", """{"model_uri": "models:/churn/1", "percent": 100}""", "INVALID_PARAMETER_VALUE", "outside 1..99"),
            (HttpMethod.Post, Api + "/churn/canary", """{"model_uri": "models:/churn/1", "percent": 10}""", "INVALID_STATE", "is running"),
            (HttpMethod.Patch, Api + "/churn", """{"name": "renamed", "description": "d"}""", "INVALID_PARAMETER_VALUE", "cannot be renamed"),
            (HttpMethod.Patch, Api + "/churn", "{}", "INVALID_PARAMETER_VALUE", "sets nothing"),
            (HttpMethod.Get, Api + "/nope", null, "RESOURCE_DOES_NOT_EXIST", "'nope'"),
            (HttpMethod.Post, Api + "/nope/rollback", "{}", "RESOURCE_DOES_NOT_EXIST", "'nope'"),
            (HttpMethod.Get, Api + "/churn/history?max_results=0", null, "INVALID_PARAMETER_VALUE", "'max_results'"),
            (HttpMethod.Delete, Api + "/nope", null, "RESOURCE_DOES_NOT_EXIST", "'nope'"),
        })
        {
            var (errorStatus, error) = await SendAsync(http, method, path, json);
            var what = $"{method} {path} {json} answered {errorStatus}: {error}";
            Assert.True(errorStatus == (code == "RESOURCE_DOES_NOT_EXIST" ? 404 : 400), what);
            Assert.True(error.GetProperty("error_code").GetString() == code, what);
            Assert.True(error.GetProperty("message").GetString()!.Contains(expected, StringComparison.Ordinal), what);
        }
        // Nothing refused was written.
        var list = await SendAsync(http, HttpMethod.Get, Api);
        Assert.Equal(["churn"], list.Body.GetProperty("deployments").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        Assert.Equal(2, (await SendAsync(http, HttpMethod.Get, Api + "/churn")).Body.GetProperty("deployment").GetProperty("revision").GetInt64());
    }

    [Fact]
    public async Task Access_control_reads_with_read_changes_with_edit_deletes_with_manage_and_the_creator_manages()
    {
        await using var authz = await AuthzServer.StartAsync(defaultPermission: "READ");
        await authz.CreateUserAsync("owner");
        var readerId = await authz.CreateUserAsync("reader");
        await authz.CreateUserAsync("hidden");
        await SeedModelsAsync(authz.Stores.Registry);
        await authz.Stores.Registry.CreateRegisteredModelAsync("secret", cancellationToken: Ct);
        await authz.Stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("secret", "s3://b/secret/1"), Ct);
        await authz.Permissions.GrantRegisteredModelAsync("secret", readerId, Cairn.Access.Permission.NoPermissions, Ct);

        var create = new { name = "churn", routes = new[] { new { model_uri = "models:/churn@champion", weight = 100 } } };
        var created = await authz.SendAsync("owner", HttpMethod.Post, Api, create);
        Assert.True(created.Status == 200, created.Body.ToString());
        Assert.Equal("owner", created.Body.GetProperty("deployment").GetProperty("created_by").GetString());
        var grant = await authz.SendAsync("owner", HttpMethod.Get, "api/2.0/mlflow/deployments/permissions/get?name=churn&username=owner");
        Assert.Equal("MANAGE", grant.Body.GetProperty("deployment_permission").GetProperty("permission").GetString());

        // A reader (the default) reads, and may not change or delete.
        Assert.Equal(200, (await authz.SendAsync("reader", HttpMethod.Get, Api + "/churn")).Status);
        Assert.Equal(200, (await authz.SendAsync("reader", HttpMethod.Get, Api + "/churn/history")).Status);
        var patch = new { routes = new[] { new { model_uri = "models:/churn/2", weight = 100 } } };
        foreach (var (method, path, body) in new (HttpMethod, string, object)[]
        {
            (HttpMethod.Patch, Api + "/churn", patch),
            (HttpMethod.Post, Api + "/churn/canary", new { model_uri = "models:/churn/2", percent = 10 }),
            (HttpMethod.Post, Api + "/churn/promote", new { }),
            (HttpMethod.Post, Api + "/churn/rollback", new { }),
            (HttpMethod.Delete, Api + "/churn", new { }),
        })
        {
            var denied = await authz.SendAsync("reader", method, path, body);
            Assert.True(denied.Status == 403, $"{method} {path}: {denied.Status} {denied.Body}");
            Assert.Equal("PERMISSION_DENIED", denied.Body.GetProperty("error_code").GetString());
            Assert.Contains("on the deployment", denied.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // The owner hands out EDIT: the reader changes routes (recorded under their name, not a header's), still cannot delete.
        var given = await authz.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/deployments/permissions/create", new { name = "churn", username = "reader", permission = "EDIT" });
        Assert.True(given.Status == 200, given.Body.ToString());
        Assert.Equal(("churn", "EDIT"), (given.Body.GetProperty("deployment_permission").GetProperty("name").GetString(),
            given.Body.GetProperty("deployment_permission").GetProperty("permission").GetString()));
        // users/get lists the grant beside MLflow's two lists.
        var listed = (await authz.SendAsync("reader", HttpMethod.Get, "api/2.0/mlflow/users/get?username=reader")).Body.GetProperty("user");
        var deploymentGrant = listed.GetProperty("deployment_permissions").EnumerateArray().Single();
        Assert.Equal(("churn", "EDIT"), (deploymentGrant.GetProperty("name").GetString(), deploymentGrant.GetProperty("permission").GetString()));
        var changed = await authz.SendAsync("reader", HttpMethod.Patch, Api + "/churn", patch);
        Assert.True(changed.Status == 200, changed.Body.ToString());
        Assert.Equal("reader", changed.Body.GetProperty("deployment").GetProperty("updated_by").GetString());
        Assert.Equal(403, (await authz.SendAsync("reader", HttpMethod.Delete, Api + "/churn", new { })).Status);
        Assert.Equal(403, (await authz.SendAsync("reader", HttpMethod.Patch, "api/2.0/mlflow/deployments/permissions/update",
            new { name = "churn", username = "reader", permission = "MANAGE" })).Status);

        // A route to a model the caller may not read is refused, whether or not the model exists.
        var toSecret = await authz.SendAsync("reader", HttpMethod.Post, Api + "/churn/canary", new { model_uri = "models:/secret/1", percent = 10 });
        Assert.Equal((403, "PERMISSION_DENIED"), (toSecret.Status, toSecret.Body.GetProperty("error_code").GetString()));
        var ownSecret = await authz.SendAsync("reader", HttpMethod.Post, Api, new { name = "mine", routes = new[] { new { model_uri = "models:/secret@x", weight = 100 } } });
        Assert.Equal(403, ownSecret.Status);

        // The list leaves out what a caller may not read.
        await authz.SendAsync("owner", HttpMethod.Post, "api/2.0/mlflow/deployments/permissions/create", new { name = "churn", username = "hidden", permission = "NO_PERMISSIONS" });
        var hiddenList = await authz.SendAsync("hidden", HttpMethod.Get, Api);
        Assert.Empty(hiddenList.Body.GetProperty("deployments").EnumerateArray());
        Assert.Equal(403, (await authz.SendAsync("hidden", HttpMethod.Get, Api + "/churn")).Status);
        Assert.Single((await authz.SendAsync("reader", HttpMethod.Get, Api)).Body.GetProperty("deployments").EnumerateArray());

        // The permission API answers as the registered model one does; the owner deletes.
        Assert.Equal(200, (await authz.SendAsync("owner", HttpMethod.Delete, "api/2.0/mlflow/deployments/permissions/delete", new { name = "churn", username = "reader" })).Status);
        var gone = await authz.SendAsync("owner", HttpMethod.Get, "api/2.0/mlflow/deployments/permissions/get?name=churn&username=reader");
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (gone.Status, gone.Body.GetProperty("error_code").GetString()));
        Assert.Equal(200, (await authz.SendAsync("owner", HttpMethod.Delete, Api + "/churn", new { })).Status);
        Assert.Equal(404, (await authz.SendAsync("owner", HttpMethod.Get, Api + "/churn")).Status);
    }
}

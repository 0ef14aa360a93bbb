using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cairn.Contracts;

namespace Cairn.Tests;

/// <summary>The registry REST endpoints over real HTTP, with request bodies exactly as MLflow's Python client sends them.</summary>
public sealed class RegistryEndpointTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await RunningServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Sends raw JSON with any method (the client sends bodies on DELETE and PATCH too).</summary>
    private async Task<(int Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json, string? user = null)
    {
        using var request = new HttpRequestMessage(method, path.StartsWith("api/", StringComparison.Ordinal) ? path : "api/2.0/mlflow/" + path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (user is not null) request.Headers.Add("X-Cairn-User", user);
        using var response = await _server.Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<JsonElement> OkAsync(HttpMethod method, string path, string? json, string? user = null)
    {
        var (status, body) = await SendAsync(method, path, json, user);
        Assert.True(status == 200, $"{method} {path} answered {status}: {body}");
        return body;
    }

    private async Task<string> RunAsync()
    {
        var experiment = await _server.CreateExperimentAsync("reg-" + Guid.NewGuid().ToString("N")[..8]);
        return await _server.CreateRunAsync(experiment);
    }

    [Fact]
    public async Task Registered_model_lifecycle_with_python_client_bodies()
    {
        var created = await OkAsync(HttpMethod.Post, "registered-models/create",
            """{"name": "m1", "tags": [{"key": "team", "value": "compat"}, {"key": "k", "value": "v"}], "description": "first model"}""");
        var rm = created.GetProperty("registered_model");
        Assert.Equal("first model", rm.GetProperty("description").GetString());
        Assert.Equal(rm.GetProperty("creation_timestamp").GetInt64(), rm.GetProperty("last_updated_timestamp").GetInt64());
        Assert.False(rm.TryGetProperty("latest_versions", out _), "empty lists are omitted");
        Assert.False(rm.TryGetProperty("aliases", out _), "empty lists are omitted");

        var (dupStatus, dup) = await SendAsync(HttpMethod.Post, "registered-models/create", """{"name": "m1"}""");
        Assert.Equal((400, "RESOURCE_ALREADY_EXISTS"), (dupStatus, dup.GetProperty("error_code").GetString()));
        var (unknownStatus, unknown) = await SendAsync(HttpMethod.Get, "registered-models/get?name=nope", null);
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (unknownStatus, unknown.GetProperty("error_code").GetString()));

        await OkAsync(HttpMethod.Patch, "registered-models/update", """{"name": "m1", "description": "updated description"}""");
        Assert.Empty((await OkAsync(HttpMethod.Post, "registered-models/set-tag", """{"name": "m1", "key": "extra", "value": "1"}""")).EnumerateObject());
        await OkAsync(HttpMethod.Delete, "registered-models/delete-tag", """{"name": "m1", "key": "extra"}""");
        var got = (await OkAsync(HttpMethod.Get, "registered-models/get?name=m1", null)).GetProperty("registered_model");
        Assert.Equal("updated description", got.GetProperty("description").GetString());
        Assert.Equal(["k", "team"], got.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("key").GetString()));

        var renamed = await OkAsync(HttpMethod.Post, "registered-models/rename", """{"name": "m1", "new_name": "m1-renamed"}""");
        Assert.Equal("m1-renamed", renamed.GetProperty("registered_model").GetProperty("name").GetString());

        var search = await OkAsync(HttpMethod.Get, "registered-models/search?filter=name+LIKE+%27m1-%25%27&max_results=100&order_by=name+DESC", null);
        Assert.Equal(["m1-renamed"], search.GetProperty("registered_models").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        Assert.Empty((await OkAsync(HttpMethod.Get, "registered-models/search?filter=name+%3D+%27none%27&max_results=100", null)).EnumerateObject());

        await OkAsync(HttpMethod.Delete, "registered-models/delete", """{"name": "m1-renamed"}""");
        Assert.Equal(404, (await SendAsync(HttpMethod.Get, "registered-models/get?name=m1-renamed", null)).Status);
    }

    [Fact]
    public async Task Versions_stages_aliases_and_download_uri_with_python_client_bodies()
    {
        var runId = await RunAsync();
        await OkAsync(HttpMethod.Post, "registered-models/create", """{"name": "m2"}""");
        var v1 = (await OkAsync(HttpMethod.Post, "model-versions/create",
            $$"""{"name": "m2", "source": "runs:/{{runId}}/model", "run_id": "{{runId}}", "tags": [{"key": "vt", "value": "1"}], "description": "v1 desc"}""")).GetProperty("model_version");
        Assert.Equal(("1", "READY", "None", $"runs:/{runId}/model", runId, ""),
            (v1.GetProperty("version").GetString(), v1.GetProperty("status").GetString(), v1.GetProperty("current_stage").GetString(),
             v1.GetProperty("source").GetString(), v1.GetProperty("run_id").GetString(), v1.GetProperty("run_link").GetString()));
        await OkAsync(HttpMethod.Post, "model-versions/create", """{"name": "m2", "source": "mlflow-artifacts:/1/abc/artifacts/model", "run_id": "abc"}""");

        Assert.Equal($"runs:/{runId}/model", (await OkAsync(HttpMethod.Get, "model-versions/get-download-uri?name=m2&version=1", null)).GetProperty("artifact_uri").GetString());
        await OkAsync(HttpMethod.Patch, "model-versions/update", """{"name": "m2", "version": "1", "description": "new v1 desc"}""");
        await OkAsync(HttpMethod.Post, "model-versions/set-tag", """{"name": "m2", "version": "1", "key": "stage_note", "value": "ok"}""");
        await OkAsync(HttpMethod.Delete, "model-versions/delete-tag", """{"name": "m2", "version": "1", "key": "stage_note"}""");

        await OkAsync(HttpMethod.Post, "model-versions/transition-stage", """{"name": "m2", "version": "1", "stage": "Production", "archive_existing_versions": false}""", "alice");
        var moved = await OkAsync(HttpMethod.Post, "model-versions/transition-stage", """{"name": "m2", "version": "2", "stage": "production", "archive_existing_versions": true}""");
        Assert.Equal("Production", moved.GetProperty("model_version").GetProperty("current_stage").GetString());
        var (badStatus, bad) = await SendAsync(HttpMethod.Post, "model-versions/transition-stage", """{"name": "m2", "version": "1", "stage": "Bogus", "archive_existing_versions": false}""");
        Assert.Equal((400, "INVALID_PARAMETER_VALUE"), (badStatus, bad.GetProperty("error_code").GetString()));

        var latest = await OkAsync(HttpMethod.Post, "registered-models/get-latest-versions", """{"name": "m2", "stages": ["Production"]}""");
        Assert.Equal(["2"], latest.GetProperty("model_versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        var latestGet = await OkAsync(HttpMethod.Get, "registered-models/get-latest-versions?name=m2", null);
        Assert.Equal(2, latestGet.GetProperty("model_versions").GetArrayLength());

        await OkAsync(HttpMethod.Post, "registered-models/alias", """{"name": "m2", "alias": "champion", "version": "1"}""", "bob");
        var byAlias = (await OkAsync(HttpMethod.Get, "registered-models/alias?name=m2&alias=champion", null)).GetProperty("model_version");
        Assert.Equal(["champion"], byAlias.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        var model = (await OkAsync(HttpMethod.Get, "registered-models/get?name=m2", null)).GetProperty("registered_model");
        Assert.Equal("""[{"alias":"champion","version":"1"}]""", model.GetProperty("aliases").GetRawText());
        var (unknownAliasStatus, unknownAlias) = await SendAsync(HttpMethod.Get, "registered-models/alias?name=m2&alias=nobody", null);
        Assert.Equal((400, "INVALID_PARAMETER_VALUE"), (unknownAliasStatus, unknownAlias.GetProperty("error_code").GetString()));
        var (reservedStatus, _) = await SendAsync(HttpMethod.Post, "registered-models/alias", """{"name": "m2", "alias": "v1", "version": "1"}""");
        Assert.Equal(400, reservedStatus);

        var search = await OkAsync(HttpMethod.Get, "model-versions/search?filter=name%3D%27m2%27&max_results=10000", null);
        var versions = search.GetProperty("model_versions").EnumerateArray().ToList();
        Assert.Equal(["2", "1"], versions.Select(v => v.GetProperty("version").GetString()));
        Assert.All(versions, v => Assert.False(v.TryGetProperty("aliases", out _), "MLflow leaves aliases out of search results"));
        var byRun = await OkAsync(HttpMethod.Get, $"model-versions/search?filter=run_id+IN+%28%27{runId}%27%29&max_results=10000", null);
        Assert.Equal(1, byRun.GetProperty("model_versions").GetArrayLength());

        await OkAsync(HttpMethod.Delete, "registered-models/alias", """{"name": "m2", "alias": "champion"}""", "carol");
        var audit = await OkAsync(HttpMethod.Get, "api/cairn/v1/registry/audit?name=m2", null);
        Assert.Equal(["alias_deleted/carol", "alias_set/bob", "stage_transitioned/unknown", "stage_transitioned/alice"],
            audit.GetProperty("entries").EnumerateArray().Select(e => $"{e.GetProperty("action").GetString()}/{e.GetProperty("user").GetString()}"));

        await OkAsync(HttpMethod.Delete, "model-versions/delete", """{"name": "m2", "version": "2"}""");
        var (goneStatus, gone) = await SendAsync(HttpMethod.Get, "model-versions/get?name=m2&version=2", null);
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (goneStatus, gone.GetProperty("error_code").GetString()));
        var v3 = await OkAsync(HttpMethod.Post, "model-versions/create", $$"""{"name": "m2", "source": "runs:/{{runId}}/model", "run_id": "{{runId}}"}""");
        Assert.Equal("3", v3.GetProperty("model_version").GetProperty("version").GetString());
        var (noModelStatus, noModel) = await SendAsync(HttpMethod.Post, "model-versions/create", """{"name": "nope", "source": "runs:/abc/model"}""");
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (noModelStatus, noModel.GetProperty("error_code").GetString()));
    }

    [Fact]
    public async Task Cairn_promote_refuses_then_passes_rollback_moves_back_and_resolve_follows_the_alias()
    {
        var weak = await RunAsync();
        var strong = await RunAsync();
        await _server.OkAsync("runs/log-metric", new { run_id = weak, key = "auc", value = 0.7, timestamp = 1, step = 0 });
        await _server.OkAsync("runs/log-metric", new { run_id = strong, key = "auc", value = 0.9, timestamp = 1, step = 0 });
        await OkAsync(HttpMethod.Post, "registered-models/create", """{"name": "m3"}""");
        await OkAsync(HttpMethod.Post, "model-versions/create", $$"""{"name": "m3", "source": "runs:/{{strong}}/model"}""");
        await OkAsync(HttpMethod.Post, "model-versions/create", $$"""{"name": "m3", "source": "runs:/{{weak}}/model"}""");
        await OkAsync(HttpMethod.Post, "registered-models/alias", """{"name": "m3", "alias": "champion", "version": "1"}""");

        var (refusedStatus, refused) = await SendAsync(HttpMethod.Post, "api/cairn/v1/registry/promote",
            """{"name": "m3", "version": "2", "alias": "champion", "requirements": ["metrics.auc >= champion"]}""");
        Assert.Equal((400, "INVALID_STATE"), (refusedStatus, refused.GetProperty("error_code").GetString()));
        Assert.Contains("metrics.auc >= champion", refused.GetProperty("message").GetString());
        Assert.Equal(("PROMOTION_REFUSED", "metrics.auc >= champion"),
            (refused.GetProperty("cairn_reason").GetString(), refused.GetProperty("cairn_rule").GetString()));
        var promoted = await OkAsync(HttpMethod.Post, "api/cairn/v1/registry/promote",
            """{"name": "m3", "version": "2", "alias": "champion", "requirements": ["metrics.auc >= 0.5"]}""", "erin");
        Assert.Equal("2", promoted.GetProperty("model_version").GetProperty("version").GetString());

        var weakUri = (await _server.GetAsync($"runs/get?run_id={weak}")).Body.GetProperty("run").GetProperty("info").GetProperty("artifact_uri").GetString();
        Assert.Equal($"{weakUri}/model", (await OkAsync(HttpMethod.Get, "api/cairn/v1/registry/resolve?uri=models:/m3@champion", null)).GetProperty("artifact_uri").GetString());

        var back = await OkAsync(HttpMethod.Post, "api/cairn/v1/registry/rollback", """{"name": "m3", "alias": "champion"}""");
        Assert.Equal("1", back.GetProperty("model_version").GetProperty("version").GetString());
        var (unresolvedStatus, unresolved) = await SendAsync(HttpMethod.Get, "api/cairn/v1/registry/resolve?uri=models:/m3/9", null);
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (unresolvedStatus, unresolved.GetProperty("error_code").GetString()));
        Assert.Contains("models:/m3/9", unresolved.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Http_registry_store_maps_error_bodies_back_to_the_embedded_exceptions()
    {
        using var store = new Cairn.Client.HttpRegistryStore(_server.Server.Address);
        await store.CreateRegisteredModelAsync("h", [new("k", "v")], "d", Ct);
        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => store.CreateRegisteredModelAsync("h", cancellationToken: Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetRegisteredModelAsync("nope", Ct));
        await store.CreateModelVersionAsync(new("h", "s3://b/1"), Ct);
        await store.CreateModelVersionAsync(new("h", "s3://b/2"), Ct);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.GetModelVersionByAliasAsync("h", "nobody", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SetRegisteredModelAliasAsync("h", "latest", "1", cancellationToken: Ct));
        await store.SetRegisteredModelAliasAsync("h", "champion", "1", "gina", Ct);
        await store.PromoteAsync("h", "2", "champion", user: "gina", cancellationToken: Ct);
        Assert.Equal("1", (await store.RollbackAliasAsync("h", "champion", "gina", Ct)).Version);
        // A refused gate travels as INVALID_STATE with Cairn's reason and rule, and comes back as the same exception.
        var refused = await Assert.ThrowsAsync<PromotionRefusedException>(() => store.PromoteAsync("h", "2", "champion", ["metrics.auc >= 0.5"], cancellationToken: Ct));
        Assert.Equal("metrics.auc >= 0.5", refused.Rule);
        var page = await store.SearchModelVersionsAsync(new Cairn.Registry.ModelVersionSearch("name = 'h'", 1, ["version_number ASC"]), Ct);
        Assert.Equal("1", Assert.Single(page.Items).Version);
        Assert.NotNull(page.NextPageToken);
        Assert.Equal(["alias_rolled_back", "alias_promoted", "alias_set"],
            (await store.GetAuditTrailAsync("h", cancellationToken: Ct)).Select(e => e.ToWire().Action));
        Assert.Equal(["v"], (await store.GetRegisteredModelAsync("h", Ct)).Tags.Select(t => t.Value));
    }
}

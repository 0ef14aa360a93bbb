using System.Net;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Cairn.Registry;
using Cairn.Server.Hosting;
using Cairn.Server.Scoring;
using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Auth;
using Cairn.Tests.Scoring;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Serving;

/// <summary>
/// Scoring through deployments on a real <c>cairn server</c>: registered versions whose sources are real packages (a FastTree
/// classifier trained here, an ONNX graph) in the server's folder, routed by weight, sticky key, shadow, alias and rollback.
/// </summary>
public sealed class DeploymentScoringTests
{
    private const string Body = """{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[0.9, 0.8, 0.1], [0.1, 0.2, 1.9]]}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string?> s_fastRefresh = new() { [DeploymentRuntimeOptions.Section + ":RefreshSeconds"] = "0.1" };

    private static CairnStores Stores(RunningServer server) => server.Server.Services.GetRequiredService<ServerStores>().Inner;

    /// <summary>
    /// Registers <c>churn</c> versions 1..<paramref name="versions"/> (each a classifier package of its own under the server's
    /// folder), <c>champion</c> on 1 and <c>challenger</c> on 2, and <c>broken</c> version 1: an ONNX graph whose tensor input
    /// of width 5 no dataframe of a, b, c fits, so scoring with it always fails.
    /// </summary>
    private static async Task SeedAsync(RunningServer server, int versions = 2)
    {
        var registry = Stores(server).Registry;
        await registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        var package = ScoringModelsForTests.TrainClassifier(Path.Combine(server.Home, "packages", "churn"));
        for (var i = 1; i <= versions; i++)
        {
            var copy = Path.Combine(server.Home, "packages", $"churn-{i}");
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(package)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", copy), Ct);
        }
        await registry.SetRegisteredModelAliasAsync("churn", "champion", "1", cancellationToken: Ct);
        await registry.SetRegisteredModelAliasAsync("churn", "challenger", "2", cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("broken", cancellationToken: Ct);
        var onnx = ScoringModelsForTests.WriteMlflowOnnx(Path.Combine(server.Home, "packages", "broken"), new float[5, 1], [0f]);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("broken", onnx), Ct);
    }

    private static Task<Deployment> CreateAsync(RunningServer server, string name, StickyKey? sticky, params DeploymentRoute[] routes) =>
        Stores(server).Deployments.CreateDeploymentAsync(new DeploymentSpec(name, routes, sticky), "test", Ct);

    private static async Task<(int Status, string? Version, JsonElement Body, HttpResponseMessage Response)> ScoreAsync(HttpClient http, string deployment,
        string? stickyHeader = null, string? stickyValue = null, string body = Body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/cairn/v1/deployments/{deployment}/invocations")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (stickyHeader is not null) request.Headers.Add(stickyHeader, stickyValue);
        var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        var version = response.Headers.TryGetValues("X-Cairn-Model-Version", out var values) ? values.Single() : null;
        return ((int)response.StatusCode, version, json, response);
    }

    [Fact]
    public async Task A_70_30_split_answers_in_proportion_and_every_answer_names_deployment_model_version_and_request()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server);
        await CreateAsync(server, "ab", null, DeploymentRoute.Primary("models:/churn/1", 70), DeploymentRoute.Primary("models:/churn/2", 30));

        var first = await ScoreAsync(server.Http, "ab");
        Assert.True(first.Status == 200, first.Body.ToString());
        Assert.Equal("ab", first.Response.Headers.GetValues("X-Cairn-Deployment").Single());
        Assert.Equal("churn", first.Response.Headers.GetValues("X-Cairn-Model-Name").Single());
        // The body names the model and version too (beside MLflow's "predictions"), for callers that see no headers.
        Assert.Equal(("churn", first.Version), (first.Body.GetProperty("model_name").GetString(), first.Body.GetProperty("model_version").GetString()));
        Assert.Matches("^[0-9a-f]{32}$", first.Response.Headers.GetValues("X-Request-Id").Single());
        var predictions = first.Body.GetProperty("predictions").EnumerateArray().ToList();
        Assert.True(predictions[0].GetProperty("PredictedLabel").GetBoolean());
        Assert.False(predictions[1].GetProperty("PredictedLabel").GetBoolean());

        var counts = new ConcurrentDictionary<string, int>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (_, _) =>
        {
            var (status, version, body, response) = await ScoreAsync(server.Http, "ab");
            response.Dispose();
            Assert.True(status == 200, body.ToString());
            counts.AddOrUpdate(version!, 1, (_, n) => n + 1);
        });
        // 2,000 draws at p = 0.7: the standard deviation is about 20; 100 is five of them.
        Assert.Equal(2000, counts.Values.Sum());
        Assert.InRange(counts["1"], 1300, 1500);
        Assert.InRange(counts["2"], 500, 700);

        // The Open Inference Protocol names the deployment as the model.
        using var infer = await server.Http.PostAsync("v2/models/ab/infer", new StringContent(
            """{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [0.9]}, {"name": "b", "shape": [1], "datatype": "FP32", "data": [0.8]}, {"name": "c", "shape": [1], "datatype": "FP32", "data": [0.1]}]}""",
            Encoding.UTF8, "application/json"), Ct);
        Assert.True(infer.IsSuccessStatusCode, await infer.Content.ReadAsStringAsync(Ct));
        Assert.Equal("ab", infer.Headers.GetValues("X-Cairn-Deployment").Single());
        Assert.Contains(infer.Headers.GetValues("X-Cairn-Model-Version").Single(), new[] { "1", "2" });
        using var metadata = await server.Http.GetAsync("v2/models/ab", Ct);
        var meta = JsonDocument.Parse(await metadata.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("ab", meta.GetProperty("name").GetString());
        Assert.Equal(["1", "2"], meta.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        using var ready = await server.Http.GetAsync("v2/models/ab/ready", Ct);
        Assert.Equal(200, (int)ready.StatusCode);

        // An unknown deployment is MLflow's 404.
        var missing = await ScoreAsync(server.Http, "nope");
        Assert.Equal((404, "RESOURCE_DOES_NOT_EXIST"), (missing.Status, missing.Body.GetProperty("error_code").GetString()));
        // Bad input is a 400 naming the column, as on cairn serve.
        var bad = await ScoreAsync(server.Http, "ab", body: """{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}""");
        Assert.Equal(400, bad.Status);
        Assert.Contains("'c'", bad.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sticky_header_or_field_sends_one_key_to_one_version_and_keys_spread_over_both()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server);
        await CreateAsync(server, "sticky", StickyKey.Header("X-User"), DeploymentRoute.Primary("models:/churn/1", 50), DeploymentRoute.Primary("models:/churn/2", 50));

        var seen = new HashSet<string>();
        for (var user = 0; user < 40; user++)
        {
            var key = $"user-{user}";
            var expected = DeploymentRouter.Bucket(key) < 50 ? "1" : "2";
            for (var i = 0; i < 5; i++)
            {
                var (status, version, body, response) = await ScoreAsync(server.Http, "sticky", "X-User", key);
                response.Dispose();
                Assert.True(status == 200, body.ToString());
                Assert.Equal(expected, version);
                seen.Add(version!);
            }
        }
        Assert.Equal(["1", "2"], seen.Order());

        // A field of the body: the same rule on the field's value.
        await Stores(server).Deployments.UpdateDeploymentAsync("sticky", new DeploymentUpdate(Sticky: StickyKey.Field("customer")), "test", Ct);
        await WaitForRevisionAsync(server, "sticky", 2);
        for (var user = 0; user < 20; user++)
        {
            var key = $"c-{user}";
            var body = Body.Insert(1, $"\"customer\": \"{key}\", ");
            var expected = DeploymentRouter.Bucket(key) < 50 ? "1" : "2";
            for (var i = 0; i < 3; i++)
            {
                var answer = await ScoreAsync(server.Http, "sticky", body: body);
                answer.Response.Dispose();
                Assert.True(answer.Status == 200, answer.Body.ToString());
                Assert.Equal(expected, answer.Version);
            }
        }
    }

    /// <summary>Waits until the runtime serves <paramref name="revision"/> of the deployment (it refreshes every 0.1 s here).</summary>
    private static async Task WaitForRevisionAsync(RunningServer server, string name, long revision)
    {
        var runtime = server.Server.Services.GetRequiredService<DeploymentRuntime>();
        for (var i = 0; i < 200; i++)
        {
            var snapshot = await runtime.AcquireAsync(name, Ct);
            var current = snapshot.Deployment.Revision;
            snapshot.Release();
            if (current >= revision) return;
            await Task.Delay(50, Ct);
        }
        Assert.Fail($"Deployment {name} did not reach revision {revision}.");
    }

    /// <summary>The deployment's logged rows of the last hour, read again until <paramref name="shadowRows"/> shadow rows are there (shadows score off the request path).</summary>
    private static async Task<List<PredictionRows>> LoggedRowsAsync(RunningServer server, string deployment, int shadowRows)
    {
        var log = server.Server.Services.GetRequiredService<ServerPredictionLog>();
        var rows = new List<PredictionRows>();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            await log.Log.FlushAsync(Ct);
            rows.Clear();
            await foreach (var part in Stores(server).Predictions!.ReadAsync(deployment, null, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1), cancellationToken: Ct))
                rows.Add(part);
            if (rows.Where(r => r.Shadow).Sum(r => r.Count) >= shadowRows) break;
            await Task.Delay(50, Ct);
        }
        return rows;
    }

    [Fact]
    public async Task A_shadow_that_throws_never_touches_answers_and_a_working_shadow_logs_its_rows_as_shadow()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server);
        await CreateAsync(server, "shadowed", null, DeploymentRoute.Primary("models:/churn@champion", 100),
            DeploymentRoute.Shadow("models:/broken/1"), DeploymentRoute.Shadow("models:/churn@challenger"));
        var runtime = server.Server.Services.GetRequiredService<DeploymentRuntime>();

        var requestIds = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var (status, version, body, response) = await ScoreAsync(server.Http, "shadowed");
            Assert.True(status == 200, body.ToString());
            Assert.Equal("1", version);
            Assert.Equal(2, body.GetProperty("predictions").GetArrayLength());
            requestIds.Add(response.Headers.GetValues("X-Request-Id").Single());
            response.Dispose();
        }
        // One request at a time never fills the 64 shadow slots: every copy is scored, and each one the broken model saw failed.
        for (var i = 0; i < 200 && runtime.ShadowFailures < 30; i++) await Task.Delay(50, Ct);
        Assert.Equal(0, runtime.ShadowsSkipped);
        Assert.Equal(30, runtime.ShadowFailures);

        var rows = await LoggedRowsAsync(server, "shadowed", shadowRows: 60);
        var primary = rows.Where(r => !r.Shadow).ToList();
        var shadow = rows.Where(r => r.Shadow).ToList();
        Assert.Equal(60, primary.Sum(r => r.Count));
        Assert.All(primary, r => Assert.Equal(("churn", "1"), (r.ModelName, r.ModelVersion)));
        Assert.Equal(requestIds.Order(), primary.SelectMany(r => r.RequestIds).Distinct().Order());
        Assert.Equal(60, shadow.Sum(r => r.Count));
        Assert.All(shadow, r => Assert.Equal(("churn", "2"), (r.ModelName, r.ModelVersion)));
        Assert.Equal(requestIds.Order(), shadow.SelectMany(r => r.RequestIds).Distinct().Order());
        Assert.True(shadow.All(r => r.Outputs.Count > 0));
    }

    [Fact]
    public async Task A_deployments_own_log_sample_rate_set_over_rest_decides_which_requests_and_their_shadows_are_logged()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server);
        await CreateAsync(server, "quiet", null, DeploymentRoute.Primary("models:/churn@champion", 100), DeploymentRoute.Shadow("models:/churn@challenger"));

        async Task<HttpResponseMessage> PatchAsync(string body) =>
            await server.Http.PatchAsync("api/cairn/v1/deployments/quiet", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        using (var bad = await PatchAsync("""{"log_sample_rate": 1.5}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var error = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(Ct)).RootElement;
            Assert.Equal("INVALID_PARAMETER_VALUE", error.GetProperty("error_code").GetString());
            Assert.Contains("'log_sample_rate'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var off = await PatchAsync("""{"log_sample_rate": 0}"""))
        {
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
            Assert.Equal(0, JsonDocument.Parse(await off.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("deployment").GetProperty("log_sample_rate").GetDouble());
        }
        var unlogged = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var (status, _, body, response) = await ScoreAsync(server.Http, "quiet");
            Assert.True(status == 200, body.ToString());
            unlogged.Add(response.Headers.GetValues("X-Request-Id").Single());
            response.Dispose();
        }
        using (var on = await PatchAsync("""{"log_sample_rate": 1}""")) Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        var logged = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var (status, _, body, response) = await ScoreAsync(server.Http, "quiet");
            Assert.True(status == 200, body.ToString());
            logged.Add(response.Headers.GetValues("X-Request-Id").Single());
            response.Dispose();
        }

        var rows = await LoggedRowsAsync(server, "quiet", shadowRows: 20);
        var log = server.Server.Services.GetRequiredService<ServerPredictionLog>();
        // Exactly the requests made while the rate was 1, each with its primary and its shadow answer (2 rows each).
        Assert.Equal(logged.Order(), rows.Where(r => !r.Shadow).SelectMany(r => r.RequestIds).Distinct().Order());
        Assert.Equal(logged.Order(), rows.Where(r => r.Shadow).SelectMany(r => r.RequestIds).Distinct().Order());
        Assert.Equal(40, rows.Sum(r => r.Count));
        Assert.Empty(rows.SelectMany(r => r.RequestIds).Intersect(unlogged));
        Assert.Equal(20, log.Log.SampledOut);
    }

    [Fact]
    public async Task Moving_the_champion_alias_under_load_switches_traffic_with_no_failed_request_and_rollback_restores_routing()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server, versions: 3);
        await CreateAsync(server, "live", null, DeploymentRoute.Primary("models:/churn@champion", 100));
        Assert.Equal("1", (await ScoreAsync(server.Http, "live")).Version);

        var failures = new ConcurrentQueue<string>();
        var versions = new ConcurrentDictionary<string, int>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var clients = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, version, body, response) = await ScoreAsync(server.Http, "live");
                response.Dispose();
                if (status != 200) failures.Enqueue($"{status}: {body}");
                else versions.AddOrUpdate(version!, 1, (_, n) => n + 1);
            }
        })).ToArray();

        await Task.Delay(300, Ct);
        await Stores(server).Registry.SetRegisteredModelAliasAsync("churn", "champion", "2", cancellationToken: Ct);
        // Traffic moves to version 2 within a few refreshes, and stays there.
        var moved = false;
        for (var i = 0; i < 100 && !moved; i++)
        {
            await Task.Delay(50, Ct);
            moved = (await ScoreAsync(server.Http, "live")).Version == "2";
        }
        Assert.True(moved, "traffic did not move to version 2");
        // Requests that took the old snapshot just before the swap may still be finishing: let them, then count.
        await Task.Delay(200, Ct);
        versions.Clear();
        await Task.Delay(300, Ct);
        Assert.Equal(["2"], versions.Keys);

        // A route change, then its rollback, under the same load.
        await Stores(server).Deployments.UpdateDeploymentAsync("live", new DeploymentUpdate(Routes: [DeploymentRoute.Primary("models:/churn/3", 100)]), "test", Ct);
        await WaitForVersionAsync(server, "live", "3");
        await Stores(server).Deployments.RollbackAsync("live", "test", Ct);
        await WaitForVersionAsync(server, "live", "2");
        await Task.Delay(200, Ct);
        versions.Clear();
        await Task.Delay(300, Ct);
        Assert.Equal(["2"], versions.Keys);

        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.Empty(failures);
    }

    [Fact]
    public async Task A_version_that_fails_to_load_keeps_the_previous_models_serving_and_shows_in_readiness()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        await SeedAsync(server);
        await CreateAsync(server, "steady", null, DeploymentRoute.Primary("models:/churn@champion", 100));
        Assert.Equal("1", (await ScoreAsync(server.Http, "steady")).Version);

        var missing = Path.Combine(server.Home, "packages", "gone");
        await Stores(server).Registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", missing), Ct);
        // A deployment that cannot load at all answers 503, and tries again on the next request.
        await CreateAsync(server, "never", null, DeploymentRoute.Primary("models:/churn/3", 100));
        for (var i = 0; i < 2; i++)
        {
            var unavailable = await ScoreAsync(server.Http, "never");
            Assert.Equal((503, "TEMPORARILY_UNAVAILABLE"), (unavailable.Status, unavailable.Body.GetProperty("error_code").GetString()));
            Assert.Contains("Deployment 'never' could not load its models", unavailable.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        Assert.Contains("deployment 'never': its models could not load", await ReadinessAsync(server, "never"), StringComparison.Ordinal);
        await Stores(server).Registry.SetRegisteredModelAliasAsync("churn", "champion", "3", cancellationToken: Ct);
        var description = await ReadinessAsync(server, "steady");
        Assert.Contains("deployment 'steady': keeps its previous models", description, StringComparison.Ordinal);
        Assert.Contains("gone", description, StringComparison.Ordinal);
        for (var i = 0; i < 5; i++) Assert.Equal("1", (await ScoreAsync(server.Http, "steady")).Version);

        // The alias back on a loadable version clears the problem.
        await Stores(server).Registry.SetRegisteredModelAliasAsync("churn", "champion", "2", cancellationToken: Ct);
        await WaitForVersionAsync(server, "steady", "2");
        // Deleting the deployment that never loaded clears its problem too.
        using (var deleted = await server.Http.DeleteAsync("api/cairn/v1/deployments/never", Ct))
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync(Ct));
        Assert.Empty(server.Server.Services.GetRequiredService<DeploymentRuntime>().Problems);
    }

    /// <summary>The readiness description of the deployments check once it is degraded and names <paramref name="deployment"/>.</summary>
    private static async Task<string> ReadinessAsync(RunningServer server, string deployment)
    {
        for (var i = 0; i < 100; i++)
        {
            using var ready = await server.Http.GetAsync("health/ready", Ct);
            Assert.Equal(200, (int)ready.StatusCode);
            var check = JsonDocument.Parse(await ready.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("checks").GetProperty("deployments");
            if (check.GetProperty("status").GetString() == "Degraded" && check.GetProperty("description").GetString() is { } text
                && text.Contains($"'{deployment}'", StringComparison.Ordinal))
                return text;
            await Task.Delay(50, Ct);
        }
        Assert.Fail($"Readiness never named deployment '{deployment}'.");
        return "";
    }

    [Fact]
    public async Task A_change_made_through_this_server_serves_from_the_next_request_without_waiting_for_the_refresh()
    {
        // An hour between refreshes: only the change's own re-read can move the traffic.
        await using var server = await RunningServer.StartAsync(settings: new Dictionary<string, string?> { [DeploymentRuntimeOptions.Section + ":RefreshSeconds"] = "3600" });
        await SeedAsync(server);
        await CreateAsync(server, "now", null, DeploymentRoute.Primary("models:/churn/1", 100));
        Assert.Equal("1", (await ScoreAsync(server.Http, "now")).Version);

        async Task PostAsync(string path, string body)
        {
            using var response = await server.Http.PostAsync($"api/cairn/v1/deployments/now/{path}", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        }

        await PostAsync("canary", """{"model_uri": "models:/churn/2", "percent": 50}""");
        var seen = new HashSet<string>();
        for (var i = 0; i < 60; i++) seen.Add((await ScoreAsync(server.Http, "now")).Version!);
        Assert.Equal(["1", "2"], seen.Order());

        await PostAsync("rollback", "{}");
        for (var i = 0; i < 20; i++) Assert.Equal("1", (await ScoreAsync(server.Http, "now")).Version);

        using (var patched = await server.Http.PatchAsync("api/cairn/v1/deployments/now",
            new StringContent("""{"routes": [{"model_uri": "models:/churn/2", "weight": 100}]}""", Encoding.UTF8, "application/json"), Ct))
            Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync(Ct));
        Assert.Equal("2", (await ScoreAsync(server.Http, "now")).Version);

        using (var deleted = await server.Http.DeleteAsync("api/cairn/v1/deployments/now", Ct))
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync(Ct));
        Assert.Equal(404, (await ScoreAsync(server.Http, "now")).Status);
    }

    private static async Task WaitForVersionAsync(RunningServer server, string name, string version)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await ScoreAsync(server.Http, name)).Version == version) return;
            await Task.Delay(50, Ct);
        }
        Assert.Fail($"Deployment {name} did not move to version {version}.");
    }

    [Fact]
    public async Task A_version_logged_through_the_artifact_proxy_is_served_from_the_servers_artifact_root()
    {
        await using var server = await RunningServer.StartAsync(settings: s_fastRefresh);
        var package = ScoringModelsForTests.TrainClassifier(Path.Combine(server.Options.ArtifactsDestination!, "7", "run-1", "artifacts", "model"));
        Assert.True(File.Exists(Path.Combine(package, "MLmodel")));
        var registry = Stores(server).Registry;
        await registry.CreateRegisteredModelAsync("proxied", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("proxied", "mlflow-artifacts:/7/run-1/artifacts/model"), Ct);
        await CreateAsync(server, "proxied", null, DeploymentRoute.Primary("models:/proxied/1", 100));

        var (status, version, body, response) = await ScoreAsync(server.Http, "proxied");
        Assert.True(status == 200, body.ToString());
        Assert.Equal(("proxied", "1"), (response.Headers.GetValues("X-Cairn-Model-Name").Single(), version));
        Assert.True(body.GetProperty("predictions")[0].GetProperty("PredictedLabel").GetBoolean());
    }

    [Fact]
    public async Task With_access_control_scoring_needs_read_on_the_deployment()
    {
        await using var authz = await AuthzServer.StartAsync(defaultPermission: "READ");
        await authz.CreateUserAsync("reader");
        await authz.CreateUserAsync("hidden");
        await SeedAsync(authz.Server);
        var created = await authz.SendAsync("admin", HttpMethod.Post, "api/cairn/v1/deployments",
            new { name = "guarded", routes = new[] { new { model_uri = "models:/churn@champion", weight = 100 } } });
        Assert.True(created.Status == 200, created.Body.ToString());
        var denied = await authz.SendAsync("admin", HttpMethod.Post, "api/2.0/mlflow/deployments/permissions/create",
            new { name = "guarded", username = "hidden", permission = "NO_PERMISSIONS" });
        Assert.True(denied.Status == 200, denied.Body.ToString());

        var read = await authz.SendAsync("reader", HttpMethod.Post, "api/cairn/v1/deployments/guarded/invocations", Body);
        Assert.True(read.Status == 200, read.Body.ToString());
        Assert.Equal(2, read.Body.GetProperty("predictions").GetArrayLength());

        foreach (var path in new[] { "api/cairn/v1/deployments/guarded/invocations", "v2/models/guarded/infer" })
        {
            var refused = await authz.SendAsync("hidden", HttpMethod.Post, path, Body);
            Assert.True(refused.Status == 403, $"{path}: {refused.Status} {refused.Body}");
            Assert.Equal("PERMISSION_DENIED", refused.Body.GetProperty("error_code").GetString());
        }
        Assert.Equal(403, (await authz.SendAsync("hidden", HttpMethod.Get, "v2/models/guarded")).Status);
        Assert.Equal(401, (await authz.SendAsync(null, HttpMethod.Post, "api/cairn/v1/deployments/guarded/invocations", Body)).Status);
    }
}

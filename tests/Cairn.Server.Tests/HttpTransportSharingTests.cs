using System.Diagnostics;
using Cairn.Client;
using Cairn.Storage;
using Microsoft.AspNetCore.Http;

namespace Cairn.Tests;

/// <summary>
/// Tracking and registry over HTTP share one transport: the same retries, the same error mapping, the same
/// (possibly caller-supplied) HttpClient and the same credentials, checked against scripted answers on a real socket.
/// </summary>
public sealed class HttpTransportSharingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string RunJson =
        """{"run":{"info":{"run_id":"abc","run_uuid":"abc","run_name":"r","experiment_id":"1","user_id":"u","status":"RUNNING","start_time":1,"artifact_uri":"mlflow-artifacts:/1/abc/artifacts","lifecycle_stage":"active"},"data":{}}}""";

    private const string ModelJson = """{"registered_model":{"name":"m","creation_timestamp":1,"last_updated_timestamp":2}}""";

    private static HttpTrackingStoreOptions Fast() => new() { MaxRetries = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(5) };

    private static Task AnswerAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body);
    }

    [Fact]
    public async Task Registry_read_is_retried_through_503_and_429_honouring_retry_after()
    {
        await using var server = await FakeMlflowServer.StartAsync((context, n) =>
        {
            if (n == 1) context.Response.Headers.RetryAfter = "1";
            return AnswerAsync(context, n switch { 1 => 503, 2 => 429, _ => 200 },
                n <= 2 ? """{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}""" : ModelJson);
        });
        using var stores = await CairnStores.OpenAsync(server.Address, new CairnStoreOptions { Http = Fast() }, Ct);
        var watch = Stopwatch.StartNew();
        var model = await stores.Registry.GetRegisteredModelAsync("m", Ct);
        Assert.Equal("m", model.Name);
        Assert.Equal(3, server.Requests);
        // The backoff alone is milliseconds here; the server's Retry-After of one second is what the client waited for.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"waited only {watch.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Registry_create_is_not_retried_once_sent()
    {
        await using var server = await FakeMlflowServer.StartAsync((context, _) =>
            AnswerAsync(context, 503, """{"error_code":"TEMPORARILY_UNAVAILABLE","message":"database is locked"}"""));
        using var stores = await CairnStores.OpenAsync(server.Address, new CairnStoreOptions { Http = Fast() }, Ct);
        var error = await Assert.ThrowsAsync<CairnException>(() => stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        Assert.Equal("database is locked", error.Message);
        Assert.Equal(1, server.Requests);
    }

    [Theory]
    [InlineData(401, "<html>login</html>", ErrorCode.UNAUTHENTICATED, typeof(CairnException))]
    [InlineData(403, "forbidden", ErrorCode.PERMISSION_DENIED, typeof(CairnException))]
    [InlineData(404, "not here", ErrorCode.ENDPOINT_NOT_FOUND, typeof(CairnException))]
    [InlineData(404, """{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"gone"}""", ErrorCode.RESOURCE_DOES_NOT_EXIST, typeof(ResourceDoesNotExistException))]
    [InlineData(400, """{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}""", ErrorCode.INVALID_PARAMETER_VALUE, typeof(InvalidParameterValueException))]
    [InlineData(500, "", ErrorCode.INTERNAL_ERROR, typeof(CairnException))]
    public async Task Tracking_and_registry_map_errors_the_same_way(int status, string body, ErrorCode expected, Type type)
    {
        await using var server = await FakeMlflowServer.StartAsync((context, _) => AnswerAsync(context, status, body));
        using var stores = await CairnStores.OpenAsync(server.Address, new CairnStoreOptions { Http = Fast() }, Ct);

        var tracking = await Assert.ThrowsAnyAsync<CairnException>(() => stores.Tracking.GetRunAsync("abc", Ct));
        var registry = await Assert.ThrowsAnyAsync<CairnException>(() => stores.Registry.GetRegisteredModelAsync("m", Ct));

        Assert.Equal(expected, tracking.ErrorCode);
        Assert.Equal(expected, registry.ErrorCode);
        Assert.Equal(type, tracking.GetType());
        Assert.Equal(type, registry.GetType());
    }

    [Fact]
    public async Task Supplied_http_client_carries_tracking_and_registry_calls_and_is_not_disposed()
    {
        var tagged = 0;
        await using var server = await FakeMlflowServer.StartAsync((context, _) =>
        {
            if (context.Request.Headers["X-Test-Handler"] == "yes") Interlocked.Increment(ref tagged);
            return AnswerAsync(context, 200, context.Request.Path.Value!.Contains("registered-models", StringComparison.Ordinal) ? ModelJson : RunJson);
        });
        using var handler = new TaggingHandler(new SocketsHttpHandler());
        using var http = new HttpClient(handler);

        using (var client = await CairnClient.OpenAsync(server.Address, new CairnClientOptions { Http = new HttpTrackingStoreOptions { HttpClient = http } }, Ct))
        {
            await client.Store.GetRunAsync("abc", Ct);
            await client.Registry.GetRegisteredModelAsync("m", Ct);
        }
        using (var store = new HttpTrackingStore(server.Address, http))
            await store.GetRunAsync("abc", Ct);
        using (var registry = new HttpRegistryStore(new Uri(server.Address), http))
            await registry.GetRegisteredModelAsync("m", Ct);

        Assert.Equal(4, handler.Calls);
        Assert.Equal(4, tagged);
        // Disposing the client and the stores left the caller's HttpClient usable.
        using var after = await http.GetAsync(new Uri(new Uri(server.Address), "api/2.0/mlflow/runs/get?run_id=abc"), Ct);
        Assert.True(after.IsSuccessStatusCode);
        Assert.Equal(5, handler.Calls);
    }

    [Fact]
    public async Task Credentials_from_the_environment_reach_tracking_and_registry()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<string?>();
        await using var server = await FakeMlflowServer.StartAsync((context, _) =>
        {
            seen.Add(context.Request.Headers.Authorization);
            return AnswerAsync(context, 200, context.Request.Path.Value!.Contains("registered-models", StringComparison.Ordinal) ? ModelJson : RunJson);
        });
        var environment = new Dictionary<string, string>
        {
            ["MLFLOW_TRACKING_USERNAME"] = "ada",
            ["MLFLOW_TRACKING_PASSWORD"] = "pw",
        };
        using var client = await CairnClient.OpenAsync(server.Address, CairnClientOptions.FromEnvironment(environment.GetValueOrDefault), Ct);
        await client.Store.GetRunAsync("abc", Ct);
        await client.Registry.GetRegisteredModelAsync("m", Ct);

        var basic = "Basic " + Convert.ToBase64String("ada:pw"u8.ToArray());
        Assert.Equal([basic, basic], seen);
    }

    [Fact]
    public void Environment_fills_only_what_code_left_unset()
    {
        var environment = new Dictionary<string, string>
        {
            ["MLFLOW_TRACKING_TOKEN"] = "from-env",
            ["MLFLOW_TRACKING_USERNAME"] = "ada",
            ["MLFLOW_TRACKING_INSECURE_TLS"] = "True",
        };
        var fromEnvironment = HttpTrackingStoreOptions.FromEnvironment(environment.GetValueOrDefault);
        Assert.Equal("from-env", fromEnvironment.Token);
        Assert.Equal("ada", fromEnvironment.UserName);
        Assert.True(fromEnvironment.InsecureTls);

        var explicitToken = new HttpTrackingStoreOptions { Token = "from-code" }.ApplyEnvironment(environment.GetValueOrDefault);
        Assert.Equal("from-code", explicitToken.Token);

        var bad = new Dictionary<string, string> { ["MLFLOW_TRACKING_INSECURE_TLS"] = "maybe" };
        var error = Assert.Throws<InvalidParameterValueException>(() => HttpTrackingStoreOptions.FromEnvironment(bad.GetValueOrDefault));
        Assert.Contains("MLFLOW_TRACKING_INSECURE_TLS", error.Message);
    }

    /// <summary>Stands in for a telemetry or proxy handler: tags and counts every request.</summary>
    private sealed class TaggingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            request.Headers.Add("X-Test-Handler", "yes");
            return base.SendAsync(request, cancellationToken);
        }
    }
}

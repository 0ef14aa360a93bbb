using Cairn.Client;
using Microsoft.AspNetCore.Http;

namespace Cairn.Tests;

/// <summary>Retries and error mapping against scripted answers: what a real server only does when overloaded or proxied.</summary>
public sealed class HttpTransportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string RunJson =
        """{"run":{"info":{"run_id":"abc","run_uuid":"abc","run_name":"r","experiment_id":"1","user_id":"u","status":"RUNNING","start_time":1,"artifact_uri":"mlflow-artifacts:/1/abc/artifacts","lifecycle_stage":"active"},"data":{}}}""";

    private static readonly HttpTrackingStoreOptions Fast = new() { MaxRetries = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(5) };

    [Fact]
    public async Task Idempotent_call_is_retried_through_503_and_429()
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, n) =>
        {
            context.Response.StatusCode = n switch { 1 => 503, 2 => 429, _ => 200 };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(n <= 2 ? """{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}""" : RunJson);
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var run = await store.GetRunAsync("abc", Ct);
        Assert.Equal("abc", run.Info.RunId);
        Assert.Equal(3, server.Requests);
    }

    [Fact]
    public async Task Non_idempotent_call_is_not_retried_on_503()
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            context.Response.StatusCode = 503;
            await context.Response.WriteAsync("""{"error_code":"TEMPORARILY_UNAVAILABLE","message":"database is locked"}""");
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAsync<CairnException>(() => store.CreateExperimentAsync("x", cancellationToken: Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        Assert.Equal("database is locked", error.Message);
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task Retries_stop_after_the_configured_count()
    {
        await using var server = await FakeMlflowServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        Assert.Equal(4, server.Requests);
    }

    [Theory]
    [InlineData(401, "<html>login</html>", ErrorCode.UNAUTHENTICATED)]
    [InlineData(403, "<html>forbidden</html>", ErrorCode.PERMISSION_DENIED)]
    [InlineData(404, "not here", ErrorCode.ENDPOINT_NOT_FOUND)]
    [InlineData(500, "", ErrorCode.INTERNAL_ERROR)]
    public async Task Body_that_is_not_mlflow_maps_by_status(int status, string body, ErrorCode expected)
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsync(body);
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(expected, error.ErrorCode);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Theory]
    [InlineData(404, "RESOURCE_DOES_NOT_EXIST", typeof(ResourceDoesNotExistException))]
    [InlineData(400, "RESOURCE_ALREADY_EXISTS", typeof(ResourceAlreadyExistsException))]
    [InlineData(400, "INVALID_PARAMETER_VALUE", typeof(InvalidParameterValueException))]
    [InlineData(400, "INVALID_STATE", typeof(InvalidStateException))]
    [InlineData(400, "BAD_REQUEST", typeof(CairnException))]
    public async Task Error_code_becomes_the_in_process_exception_type(int status, string code, Type expected)
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsync($$"""{"error_code":"{{code}}","message":"said the server"}""");
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAnyAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(expected, error.GetType());
        Assert.Equal(code, error.ErrorCode.ToString());
        Assert.Equal("said the server", error.Message);
    }

    [Fact]
    public async Task Unknown_mlflow_error_code_keeps_its_name()
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error_code":"CUSTOMER_UNAUTHORIZED","message":"token expired"}""");
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(ErrorCode.UNAUTHENTICATED, error.ErrorCode);
        Assert.Equal("CUSTOMER_UNAUTHORIZED: token expired", error.Message);
    }

    [Fact]
    public async Task Unauthenticated_error_code_is_known()
    {
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error_code":"UNAUTHENTICATED","message":"token expired"}""");
        });
        using var store = new HttpTrackingStore(server.Address, Fast);
        var error = await Assert.ThrowsAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(ErrorCode.UNAUTHENTICATED, error.ErrorCode);
        Assert.Equal("token expired", error.Message);
        Assert.Equal(401, error.HttpStatus);
    }

    [Fact]
    public async Task Bearer_token_is_sent()
    {
        string? seen = null;
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            seen = context.Request.Headers.Authorization;
            await context.Response.WriteAsync(RunJson);
        });
        using var store = new HttpTrackingStore(server.Address, new HttpTrackingStoreOptions { Token = "s3cret" });
        await store.GetRunAsync("abc", Ct);
        Assert.Equal("Bearer s3cret", seen);
    }

    [Fact]
    public async Task Proxied_artifacts_are_listed_and_downloaded_through_mlflow_endpoints()
    {
        // Stands in for the artifact endpoints (built in parallel) with MLflow's documented shapes.
        var files = new Dictionary<string, string> { ["model/MLmodel"] = "flavors: {}", ["model/data/w.bin"] = "0101", ["notes.txt"] = "hi" };
        await using var server = await FakeMlflowServer.StartAsync(async (context, _) =>
        {
            var path = context.Request.Path.Value!;
            context.Response.ContentType = "application/json";
            if (path == "/api/2.0/mlflow/runs/get")
            {
                await context.Response.WriteAsync(RunJson);
            }
            else if (path == "/api/2.0/mlflow/artifacts/list")
            {
                Assert.Equal("abc", context.Request.Query["run_id"]);
                var prefix = context.Request.Query["path"].ToString();
                var entries = files.Keys
                    .Where(k => prefix.Length == 0 || k.StartsWith(prefix + "/", StringComparison.Ordinal))
                    .Select(k => string.Join('/', k.Split('/').Take(prefix.Length == 0 ? 1 : prefix.Split('/').Length + 1)))
                    .Distinct()
                    .Select(p => files.TryGetValue(p, out var content)
                        ? $$"""{"path":"{{p}}","is_dir":false,"file_size":{{content.Length}}}"""
                        : $$"""{"path":"{{p}}","is_dir":true}""");
                await context.Response.WriteAsync($$"""{"root_uri":"mlflow-artifacts:/1/abc/artifacts","files":[{{string.Join(',', entries)}}]}""");
            }
            else if (path.StartsWith("/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/", StringComparison.Ordinal) &&
                     files.TryGetValue(path["/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/".Length..], out var content))
            {
                context.Response.ContentType = "application/octet-stream";
                await context.Response.WriteAsync(content);
            }
            else
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsync("""{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no such artifact"}""");
            }
        });
        using var dir = new TempDirectory();
        using var client = await CairnClient.OpenAsync(server.Address, new CairnClientOptions { Http = Fast }, Ct);

        var top = await client.ListArtifactsAsync("abc", cancellationToken: Ct);
        Assert.Equal("mlflow-artifacts:/1/abc/artifacts", top.RootUri);
        Assert.Equal(["model", "notes.txt"], top.Files.Select(f => f.Path).Order());

        var written = await client.DownloadArtifactsAsync("abc", "model", dir.Path, Ct);
        Assert.Equal(2, written.Count);
        Assert.Equal("flavors: {}", await File.ReadAllTextAsync(dir.Combine("model", "MLmodel"), Ct));
        Assert.Equal("0101", await File.ReadAllTextAsync(dir.Combine("model", "data", "w.bin"), Ct));
        Assert.False(File.Exists(dir.Combine("notes.txt")));

        await client.DownloadArtifactsAsync("abc", "notes.txt", dir.Path, Ct);
        Assert.Equal("hi", await File.ReadAllTextAsync(dir.Combine("notes.txt"), Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => client.DownloadArtifactsAsync("abc", "missing.txt", dir.Path, Ct));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cairn.Tests;

public sealed class ArtifactEndpointTests
{
    private const string Proxy = "/api/2.0/mlflow-artifacts/artifacts";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A URL sent exactly as written: no dot-segment removal or unescaping by System.Uri.</summary>
    private static Uri Raw(RunningServer server, string pathAndQuery) =>
        new(server.BaseAddress.GetLeftPart(UriPartial.Authority) + pathAndQuery,
            new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

    private static async Task PutAsync(RunningServer server, string path, byte[] body)
    {
        using var response = await server.Client.PutAsync($"{Proxy}/{path}", new ByteArrayContent(body), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        Assert.Equal(code, json.RootElement.GetProperty("error_code").GetString());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Upload_download_list_and_delete_round_trip_with_nested_folders()
    {
        await using var server = await RunningServer.StartAsync();
        await PutAsync(server, "a.txt", "abc"u8.ToArray());
        await PutAsync(server, "dir/sub/weights.bin", [1, 2, 3, 4, 5]);
        await PutAsync(server, "dir/MLmodel", "flavors: {}"u8.ToArray());

        using (var download = await server.Client.GetAsync($"{Proxy}/a.txt", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            Assert.Equal("abc", await download.Content.ReadAsStringAsync(Ct));
            Assert.Equal("text/plain", download.Content.Headers.ContentType?.MediaType);
            Assert.Equal(3, download.Content.Headers.ContentLength);
            Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
            Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        }
        using (var binary = await server.Client.GetAsync($"{Proxy}/dir/sub/weights.bin", Ct))
        {
            Assert.Equal([1, 2, 3, 4, 5], await binary.Content.ReadAsByteArrayAsync(Ct));
            Assert.Equal("application/octet-stream", binary.Content.Headers.ContentType?.MediaType);
        }
        using (var mlmodel = await server.Client.GetAsync($"{Proxy}/dir/MLmodel", Ct))
            Assert.Equal("text/plain", mlmodel.Content.Headers.ContentType?.MediaType);

        // Exact wire shape of mlflow.artifacts.ListArtifacts.Response: base names, no file_size on folders.
        Assert.Equal("""{"files":[{"path":"a.txt","is_dir":false,"file_size":3},{"path":"dir","is_dir":true}]}""",
            await server.Client.GetStringAsync($"{Proxy}", Ct));
        Assert.Equal("""{"files":[{"path":"MLmodel","is_dir":false,"file_size":11},{"path":"sub","is_dir":true}]}""",
            await server.Client.GetStringAsync($"{Proxy}?path=dir", Ct));
        Assert.Equal("""{"files":[{"path":"weights.bin","is_dir":false,"file_size":5}]}""",
            await server.Client.GetStringAsync($"{Proxy}?path=dir/sub", Ct));
        Assert.Equal("{}", await server.Client.GetStringAsync($"{Proxy}?path=no/such/dir", Ct));

        using (var delete = await server.Client.DeleteAsync($"{Proxy}/dir", Ct))
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.Options.ArtifactsDestination, "dir")));
        using (var gone = await server.Client.GetAsync($"{Proxy}/dir/sub/weights.bin", Ct))
            await AssertErrorAsync(gone, HttpStatusCode.NotFound, "RESOURCE_DOES_NOT_EXIST");
        Assert.Equal("abc", await File.ReadAllTextAsync(Path.Combine(server.Options.ArtifactsDestination, "a.txt"), Ct));
    }

    [Fact]
    public async Task The_ajax_api_prefix_serves_the_same_artifacts()
    {
        await using var server = await RunningServer.StartAsync();
        await PutAsync(server, "x/y.json", "{}"u8.ToArray());
        Assert.Equal("{}", await server.Client.GetStringAsync("/ajax-api/2.0/mlflow-artifacts/artifacts/x/y.json", Ct));
        Assert.Contains("\"y.json\"", await server.Client.GetStringAsync("/ajax-api/2.0/mlflow-artifacts/artifacts?path=x", Ct));
    }

    [Fact]
    public async Task Missing_artifacts_are_404_and_an_upload_replaces_the_old_content()
    {
        await using var server = await RunningServer.StartAsync();
        using (var missing = await server.Client.GetAsync($"{Proxy}/nope/missing.txt", Ct))
            await AssertErrorAsync(missing, HttpStatusCode.NotFound, "RESOURCE_DOES_NOT_EXIST");
        await PutAsync(server, "f.txt", "one"u8.ToArray());
        await PutAsync(server, "f.txt", "two!"u8.ToArray());
        Assert.Equal("two!", await server.Client.GetStringAsync($"{Proxy}/f.txt", Ct));
        // Deleting nothing succeeds, as in MLflow.
        using var delete = await server.Client.DeleteAsync($"{Proxy}/never/was.txt", Ct);
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
    }

    [Theory]
    [InlineData("../{0}")]
    [InlineData("a/../../{0}")]
    [InlineData("a/../../../../{0}")]
    [InlineData("%2e%2e/{0}")]
    [InlineData("%2e%2e%2f{0}")]
    [InlineData("%2E%2E%2F%2E%2E%2F{0}")]
    [InlineData("a%2F..%2F..%2F{0}")]
    [InlineData("..%5C{0}")]
    [InlineData("/tmp/{0}")]
    [InlineData("%2Ftmp%2F{0}")]
    [InlineData("%252e%252e/{0}")]
    public async Task Traversal_in_the_url_path_is_refused_for_every_method_and_writes_nothing_outside(string template)
    {
        await using var server = await RunningServer.StartAsync();
        var name = $"escape-{Guid.NewGuid():N}.txt";
        var url = Raw(server, $"{Proxy}/{string.Format(template, name)}");

        using (var put = await server.Client.PutAsync(url, new ByteArrayContent("pwned"u8.ToArray()), Ct))
            await AssertErrorAsync(put, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
        using (var get = await server.Client.GetAsync(url, Ct))
            await AssertErrorAsync(get, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
        using (var delete = await server.Client.DeleteAsync(url, Ct))
            await AssertErrorAsync(delete, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");

        Assert.Empty(Directory.GetFiles(server.Root, name, SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), name)));
        Assert.False(File.Exists(Path.Combine("/tmp", name)));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/../..")]
    [InlineData("%2e%2e")]
    [InlineData("%252e%252e")]
    [InlineData("/etc")]
    [InlineData("%2Fetc")]
    public async Task Traversal_in_the_listing_query_is_refused(string path)
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.Client.GetAsync(Raw(server, $"{Proxy}?path={path}"), Ct);
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
    }

    [Fact]
    public async Task An_upload_above_MaxArtifactBytes_is_413_and_leaves_no_file()
    {
        await using var server = await RunningServer.StartAsync(o => o.MaxArtifactBytes = 1024);
        await PutAsync(server, "small.bin", new byte[1024]);

        // With a Content-Length the server refuses before reading. The client waits for that answer
        // (Expect: 100-continue) rather than racing to send a body the server is about to drop.
        using (var request = new HttpRequestMessage(HttpMethod.Put, $"{Proxy}/big.bin") { Content = new ByteArrayContent(new byte[1 << 20]) })
        {
            request.Headers.ExpectContinue = true;
            using var sized = await server.Client.SendAsync(request, Ct);
            await AssertErrorAsync(sized, HttpStatusCode.RequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED");
        }
        // Without a Content-Length the limit trips while streaming into the partial file, which must go too.
        // (Small enough to be sent whole before the answer, so the client is not cut off mid-write.)
        using (var chunked = await server.Client.PutAsync($"{Proxy}/chunked.bin", new ChunkedContent(new byte[1500]), Ct))
            await AssertErrorAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED");

        Assert.Equal(["small.bin"], Directory.GetFileSystemEntries(server.Options.ArtifactsDestination).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Uploads_are_not_bound_by_the_json_body_limit()
    {
        await using var server = await RunningServer.StartAsync(o => o.MaxRequestBodyBytes = 64 * 1024);
        var data = RandomNumberGenerator.GetBytes(8 << 20);
        using (var upload = await server.Client.PutAsync($"{Proxy}/models/big.onnx", new ChunkedContent(data), Ct))
            Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal(data, await server.Client.GetByteArrayAsync($"{Proxy}/models/big.onnx", Ct));

        // The JSON API keeps its own limit.
        var hugeName = new string('x', 100 * 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/2.0/mlflow/experiments/create") { Content = JsonContent.Create(new { name = hugeName }) };
        await request.Content.LoadIntoBufferAsync(Ct); // gives it a Content-Length for the server to refuse up front
        request.Headers.ExpectContinue = true;
        using var json = await server.Client.SendAsync(request, Ct);
        await AssertErrorAsync(json, HttpStatusCode.RequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED");
    }

    [Fact]
    public async Task Artifacts_list_shows_a_runs_artifacts_relative_to_its_root()
    {
        await using var server = await RunningServer.StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/2.0/mlflow/experiments/create", new { name = "artifacts-list" }, Ct);
        var experimentId = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("experiment_id").GetString();
        using var runCreated = await server.Client.PostAsJsonAsync("/api/2.0/mlflow/runs/create", new { experiment_id = experimentId }, Ct);
        var info = (await runCreated.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("run").GetProperty("info");
        var runId = info.GetProperty("run_id").GetString();
        var artifactUri = info.GetProperty("artifact_uri").GetString();
        Assert.Equal($"mlflow-artifacts:/{experimentId}/{runId}/artifacts", artifactUri);

        // What the Python client does for mlflow.log_artifact against a proxied root.
        var runRoot = $"{experimentId}/{runId}/artifacts";
        await PutAsync(server, $"{runRoot}/metrics.txt", "0.93"u8.ToArray());
        await PutAsync(server, $"{runRoot}/model/MLmodel", "flavors: {}"u8.ToArray());
        await PutAsync(server, $"{runRoot}/model/data/model.onnx", new byte[10]);

        foreach (var api in new[] { "/api/2.0/mlflow", "/ajax-api/2.0/mlflow" })
        {
            Assert.Equal(
                $$"""{"root_uri":"{{artifactUri}}","files":[{"path":"metrics.txt","is_dir":false,"file_size":4},{"path":"model","is_dir":true}]}""",
                await server.Client.GetStringAsync($"{api}/artifacts/list?run_id={runId}", Ct));
        }
        Assert.Equal(
            $$"""{"root_uri":"{{artifactUri}}","files":[{"path":"model/MLmodel","is_dir":false,"file_size":11},{"path":"model/data","is_dir":true}]}""",
            await server.Client.GetStringAsync($"/api/2.0/mlflow/artifacts/list?run_id={runId}&path=model", Ct));
        Assert.Equal($$"""{"root_uri":"{{artifactUri}}"}""",
            await server.Client.GetStringAsync($"/api/2.0/mlflow/artifacts/list?run_uuid={runId}&path=empty", Ct));

        using (var traversal = await server.Client.GetAsync($"/api/2.0/mlflow/artifacts/list?run_id={runId}&path=../../..", Ct))
            await AssertErrorAsync(traversal, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
        using (var unknown = await server.Client.GetAsync("/api/2.0/mlflow/artifacts/list?run_id=0123456789abcdef0123456789abcdef", Ct))
            await AssertErrorAsync(unknown, HttpStatusCode.NotFound, "RESOURCE_DOES_NOT_EXIST");
        using (var missing = await server.Client.GetAsync("/api/2.0/mlflow/artifacts/list", Ct))
            await AssertErrorAsync(missing, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
    }

    /// <summary>A body sent with chunked transfer encoding: no Content-Length for the server to check up front.</summary>
    private sealed class ChunkedContent(byte[] data) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (var offset = 0; offset < data.Length; offset += 16 * 1024)
                await stream.WriteAsync(data.AsMemory(offset, Math.Min(16 * 1024, data.Length - offset)));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

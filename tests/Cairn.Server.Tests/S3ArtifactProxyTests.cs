using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Tests.Artifacts;
using Cairn.Tests.Data;

namespace Cairn.Tests;

/// <summary>The artifact proxy of a real server whose destination is <c>s3://bucket/prefix</c> on a real s3rver.</summary>
public sealed class S3ArtifactProxyTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private const string Proxy = "/api/2.0/mlflow-artifacts/artifacts";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<RunningServer> StartAsync()
    {
        if (s3.SkipReason is not null) Assert.Skip(s3.SkipReason);
        var connection = new S3ConnectionOptions { Endpoint = s3.Endpoint, ChunkEncoding = false, AccessKeyId = "S3RVER", SecretAccessKey = "S3RVER" };
        var destination = $"s3://proxy-{Guid.NewGuid().ToString("N")[..10]}/mlflow/artifacts";
        using (var setup = new S3ArtifactStore(destination, connection)) await setup.EnsureBucketAsync(Ct);
        return await RunningServer.StartAsync(o =>
        {
            o.ArtifactsDestination = destination;
            o.S3 = connection;
        });
    }

    [Fact]
    public async Task Upload_download_list_and_delete_go_through_to_s3()
    {
        await using var server = await StartAsync();
        var http = server.Client;

        using (var put = await http.PutAsync($"{Proxy}/1/run/artifacts/model/MLmodel", new StringContent("flavors: {}"), Ct))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using (var put = await http.PutAsync($"{Proxy}/1/run/artifacts/metrics.json", new StringContent("{\"a\":1}"), Ct))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        Assert.Equal("flavors: {}", await http.GetStringAsync($"{Proxy}/1/run/artifacts/model/MLmodel", Ct));

        using (var list = JsonDocument.Parse(await http.GetStringAsync($"{Proxy}?path=1/run/artifacts", Ct)))
        {
            var files = list.RootElement.GetProperty("files").EnumerateArray()
                .Select(f => (f.GetProperty("path").GetString(), f.GetProperty("is_dir").GetBoolean())).ToList();
            Assert.Equal([("metrics.json", false), ("model", true)], files);
        }

        using (var missing = await http.GetAsync($"{Proxy}/1/run/artifacts/nope.txt", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("RESOURCE_DOES_NOT_EXIST", await missing.Content.ReadAsStringAsync(Ct));
        }
        using (var traversal = await http.GetAsync($"{Proxy}?path=1/../../secret", Ct))
            Assert.Equal(HttpStatusCode.BadRequest, traversal.StatusCode);

        using (var delete = await http.DeleteAsync($"{Proxy}/1/run/artifacts/model", Ct))
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        using (var list = JsonDocument.Parse(await http.GetStringAsync($"{Proxy}?path=1/run/artifacts", Ct)))
            Assert.Single(list.RootElement.GetProperty("files").EnumerateArray());

        // The run's artifacts/list resolves mlflow-artifacts:/ into the same S3 store.
        var experiment = await server.CreateExperimentAsync("s3-" + Guid.NewGuid().ToString("N")[..6]);
        var runId = await server.CreateRunAsync(experiment);
        var runInfo = (await server.GetAsync($"runs/get?run_id={runId}")).Body.GetProperty("run").GetProperty("info");
        var artifactUri = runInfo.GetProperty("artifact_uri").GetString()!;
        var runPath = artifactUri["mlflow-artifacts:/".Length..];
        using (var put = await http.PutAsync($"{Proxy}/{runPath}/notes/readme.md", new StringContent("# hi"), Ct))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var (status, body) = await server.GetAsync($"artifacts/list?run_id={runId}&path=notes");
        Assert.Equal(200, status);
        Assert.Equal("notes/readme.md", body.GetProperty("files")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task A_20_MB_streamed_upload_downloads_byte_identical()
    {
        await using var server = await StartAsync();
        const long size = 20_000_000;
        var content = new StreamContent(new GeneratedStream(size)); // no length: sent chunked, stored in parts
        using (var put = await server.Client.PutAsync($"{Proxy}/big/model.onnx", content, Ct))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var get = await server.Client.GetAsync($"{Proxy}/big/model.onnx", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        await using var body = await get.Content.ReadAsStreamAsync(Ct);
        Assert.Equal(await SHA256.HashDataAsync(new GeneratedStream(size), Ct), await SHA256.HashDataAsync(body, Ct));

        var list = await server.Client.GetStringAsync($"{Proxy}?path=big", Ct);
        Assert.Contains("\"file_size\":20000000", list.Replace(" ", ""));
    }
}

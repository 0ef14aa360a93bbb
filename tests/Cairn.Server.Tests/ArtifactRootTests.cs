using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cairn.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cairn.Tests;

/// <summary>
/// The server lists and deletes only inside the artifact roots it manages (issue 11, item 1), and uploads are bounded
/// and leave no partial file behind (item 8).
/// </summary>
public sealed class ArtifactRootTests
{
    private const string Proxy = "/api/2.0/mlflow-artifacts/artifacts";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates an experiment at <paramref name="location"/> (stored as given, as MLflow does) and a run in it.</summary>
    private static async Task<(string RunId, string ArtifactUri)> RunAtAsync(RunningServer server, string name, string location)
    {
        var experiment = (await server.OkAsync("experiments/create", new { name, artifact_location = location })).GetProperty("experiment_id").GetString();
        var info = (await server.OkAsync("runs/create", new { experiment_id = experiment })).GetProperty("run").GetProperty("info");
        return (info.GetProperty("run_id").GetString()!, info.GetProperty("artifact_uri").GetString()!);
    }

    [Theory]
    [InlineData("file:///etc#", HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE")]
    [InlineData("file:///etc", HttpStatusCode.Forbidden, "PERMISSION_DENIED")]
    [InlineData("/etc", HttpStatusCode.Forbidden, "PERMISSION_DENIED")]
    [InlineData("file:///tmp/../etc", HttpStatusCode.Forbidden, "PERMISSION_DENIED")]
    [InlineData("gs://bucket/x", HttpStatusCode.Forbidden, "PERMISSION_DENIED")]
    public async Task Artifacts_list_refuses_a_run_located_outside_the_managed_roots(string location, HttpStatusCode status, string code)
    {
        await using var server = await RunningServer.StartAsync();
        var (runId, _) = await RunAtAsync(server, "outside", location);

        var (actual, body) = await server.GetAsync($"artifacts/list?run_id={runId}");

        Assert.True((int)status == actual, $"Expected {(int)status}, got {actual}: {body}");
        Assert.Equal(code, body.GetProperty("error_code").GetString());
        Assert.False(body.TryGetProperty("files", out _));
    }

    [Fact]
    public async Task A_folder_beside_the_destination_is_not_listed_but_an_allowed_root_is()
    {
        using var outside = new TempDirectory();
        var precious = Directory.CreateDirectory(Path.Combine(outside.Path, "team", "exp")).FullName;
        await using (var server = await RunningServer.StartAsync())
        {
            var (runId, uri) = await RunAtAsync(server, "beside", new Uri(precious).AbsoluteUri);
            Directory.CreateDirectory(new Uri(uri).LocalPath);
            await File.WriteAllTextAsync(Path.Combine(new Uri(uri).LocalPath, "secret.txt"), "x", Ct);
            var (status, body) = await server.GetAsync($"artifacts/list?run_id={runId}");
            Assert.True(status == 403, body.ToString());
            Assert.DoesNotContain("secret.txt", body.ToString());
            Assert.Contains("--allowed-artifact-roots", body.GetProperty("message").GetString());
        }
        await using (var server = await RunningServer.StartAsync(o => o.AllowedArtifactRoots = Path.Combine(outside.Path, "team")))
        {
            var (runId, uri) = await RunAtAsync(server, "allowed", precious);
            Directory.CreateDirectory(new Uri(uri).LocalPath);
            await File.WriteAllTextAsync(Path.Combine(new Uri(uri).LocalPath, "metrics.txt"), "0.9", Ct);
            var (status, body) = await server.GetAsync($"artifacts/list?run_id={runId}");
            Assert.True(status == 200, body.ToString());
            Assert.Equal("metrics.txt", Assert.Single(body.GetProperty("files").EnumerateArray()).GetProperty("path").GetString());
        }
    }

    [Fact]
    public async Task A_symbolic_link_inside_the_destination_does_not_lead_the_listing_out()
    {
        using var outside = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(outside.Path, "secret.txt"), "x", Ct);
        await using var server = await RunningServer.StartAsync();
        Directory.CreateDirectory(server.Options.ArtifactsDestination);
        var link = Path.Combine(server.Options.ArtifactsDestination, "linked");
        Directory.CreateSymbolicLink(link, outside.Path);
        var (runId, _) = await RunAtAsync(server, "linked", link);

        var (status, body) = await server.GetAsync($"artifacts/list?run_id={runId}");

        Assert.True(status == 403, body.ToString());
        Assert.DoesNotContain("secret.txt", body.ToString());
    }

    [Fact]
    public async Task Uploads_are_limited_to_5_GiB_by_default_and_the_limit_can_be_lifted()
    {
        await using (var server = await RunningServer.StartAsync())
            Assert.Equal(5L << 30, server.Server.Services.GetRequiredService<IOptions<CairnLimitsOptions>>().Value.MaxArtifactBytes);
        await using (var unlimited = await RunningServer.StartAsync(o => o.MaxArtifactBytes = null))
            Assert.Null(unlimited.Server.Services.GetRequiredService<IOptions<CairnLimitsOptions>>().Value.MaxArtifactBytes);
    }

    [Fact]
    public async Task An_upload_over_the_limit_without_content_length_is_413_while_it_streams()
    {
        await using var server = await RunningServer.StartAsync(o => o.MaxArtifactBytes = 256 * 1024);
        using var client = new TcpClient();
        await client.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, Ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"PUT {Proxy}/stream.bin HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nTransfer-Encoding: chunked\r\n\r\n"), Ct);
        var chunk = new byte[64 * 1024];
        var header = Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n");
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        var read = stream.ReadAsync(buffer, Ct).AsTask();
        // Keep sending past the limit, as a client that never said how much it has would; the server answers mid-stream.
        for (var i = 0; i < 64 && !read.IsCompleted; i++)
        {
            try
            {
                await stream.WriteAsync(header, Ct);
                await stream.WriteAsync(chunk, Ct);
                await stream.WriteAsync("\r\n"u8.ToArray(), Ct);
            }
            catch (IOException)
            {
                break; // the server closed its side after answering
            }
        }
        var n = await read.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        answer.Append(Encoding.ASCII.GetString(buffer, 0, n));
        Assert.StartsWith("HTTP/1.1 413", answer.ToString());
        await WaitUntilAsync(() => !Directory.EnumerateFiles(server.Options.ArtifactsDestination, "*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public async Task An_aborted_upload_leaves_no_partial_file()
    {
        await using var server = await RunningServer.StartAsync();
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, Ct);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"PUT {Proxy}/1/r/artifacts/model.bin HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nContent-Length: 100000000\r\n\r\n"), Ct);
            await stream.WriteAsync(new byte[256 * 1024], Ct);
            // The upload is in progress: its partial file exists.
            await WaitUntilAsync(() => PartialFiles(server).Any());
            client.Client.LingerState = new LingerOption(true, 0); // a reset, as when the client process is killed
        }

        await WaitUntilAsync(() => !PartialFiles(server).Any());
        Assert.False(File.Exists(Path.Combine(server.Options.ArtifactsDestination, "1", "r", "artifacts", "model.bin")));
    }

    [Fact]
    public async Task Partial_files_left_by_a_killed_server_are_swept_at_start()
    {
        using var dir = new TempDirectory();
        var folder = Directory.CreateDirectory(dir.Combine("artifacts", "1", "r", "artifacts")).FullName;
        var stale = Path.Combine(folder, ".model.bin.0123456789abcdef.cairn-partial");
        var fresh = Path.Combine(folder, ".other.bin.fedcba9876543210.cairn-partial");
        await File.WriteAllBytesAsync(stale, new byte[10], Ct);
        await File.WriteAllBytesAsync(fresh, new byte[10], Ct);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));

        var server = await CairnServer.StartAsync(new CairnServerOptions { Port = 0, BackendStoreUri = dir.Path, ArtifactsDestination = dir.Combine("artifacts") }, Ct);
        await using (server)
        {
            var swept = await server.Services.GetRequiredService<ServerStores>().Sweep.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(1, swept);
        }
        Assert.False(File.Exists(stale));
        // Written to within the hour: maybe an upload another server sharing the folder is still streaming.
        Assert.True(File.Exists(fresh));
    }

    private static IEnumerable<string> PartialFiles(RunningServer server) =>
        Directory.Exists(server.Options.ArtifactsDestination)
            ? Directory.EnumerateFiles(server.Options.ArtifactsDestination, "*.cairn-partial", SearchOption.AllDirectories)
            : [];

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(50, Ct);
        }
    }
}

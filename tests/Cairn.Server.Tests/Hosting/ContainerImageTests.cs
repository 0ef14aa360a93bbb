using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cairn.Tests.Hosting;

/// <summary>
/// The Dockerfile at the repository root. No container engine runs here, so its structure is read, and the publish step it
/// runs is run: the output starts with the image's entrypoint and environment, and its HEALTHCHECK command passes.
/// </summary>
[Trait("Category", "ContainerImage")]
public sealed partial class ContainerImageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void The_Dockerfile_builds_on_the_sdk_runs_on_aspnet_with_pinned_tags_as_a_non_root_user()
    {
        var file = Dockerfile.Read();

        Assert.Equal(2, file.Stages.Count);
        var (build, runtime) = (file.Stages[0], file.Stages[1]);
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/sdk:10\.0\.\d+$", build.Image);
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/aspnet:10\.0\.\d+$", runtime.Image);
        Assert.Contains(runtime.All("COPY"), c => c.StartsWith("--from=" + build.Name + " ", StringComparison.Ordinal));

        var user = Assert.Single(runtime.All("USER"));
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user);
        var port = Assert.Single(runtime.All("EXPOSE"));
        Assert.Equal("5000", port);
        Assert.Equal("5000", runtime.Env["Cairn__Server__Port"]);
        var volume = Assert.Single(runtime.All("VOLUME"));
        Assert.Equal(runtime.Env["CAIRN_HOME"], volume);
        var healthcheck = Assert.Single(runtime.All("HEALTHCHECK"));
        Assert.Contains("/health/live", healthcheck, StringComparison.Ordinal);
        // Listening on every interface, so with access control on (a public bind without it is refused).
        Assert.Equal(["dotnet", "cairn.dll", "server", "--host", "0.0.0.0", "--auth"], runtime.Entrypoint);
    }

    [Fact]
    public async Task The_published_output_starts_with_the_images_entrypoint_and_passes_its_healthcheck()
    {
        var file = Dockerfile.Read();
        var runtime = file.Stages[1];
        using var work = new TempDirectory();

        // The build stage's publish command, with a temp folder for /app. It builds incrementally on the solution's own
        // Release build (CI's `dotnet test` has just made it), which keeps this test near a minute instead of a full rebuild.
        var publish = file.Stages[0].All("RUN").Select(r => r[r.IndexOf("dotnet publish", StringComparison.Ordinal)..]).Single(r => r.StartsWith("dotnet", StringComparison.Ordinal));
        var arguments = publish.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => a == "/app" ? work.Combine("app") : a).ToList();
        Assert.Contains(work.Combine("app"), arguments);
        var (exitCode, output) = await RunAsync("dotnet", arguments, Dockerfile.RepositoryRoot, TimeSpan.FromMinutes(8));
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} exited with {exitCode}:\n{output}");

        var port = FreePort();
        var environment = new Dictionary<string, string>(runtime.Env)
        {
            ["CAIRN_HOME"] = work.Combine("data"),
            ["Cairn__Server__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var entrypoint = runtime.Entrypoint;
        var start = new ProcessStartInfo(entrypoint[0]) { WorkingDirectory = work.Combine("app"), RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in entrypoint.Skip(1)) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var server = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        server.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(5) };
            await WaitForHealthAsync(http, server, log);
            using var live = await http.GetAsync("health/live", Ct);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            using var ready = await http.GetAsync("health/ready", Ct);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.True(File.Exists(Path.Combine(environment["CAIRN_HOME"], "cairn.db")), "the store is not under CAIRN_HOME");

            // Access control is on: the API asks for credentials, and the first admin's one-time password is in CAIRN_HOME.
            using var anonymous = await http.GetAsync("api/2.0/mlflow/experiments/search?max_results=1", Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            var passwordFile = Path.Combine(environment["CAIRN_HOME"], "initial-admin-password");
            Assert.True(File.Exists(passwordFile), $"no one-time admin password file:\n{log}");
            using var login = new HttpRequestMessage(HttpMethod.Get, "api/2.0/mlflow/experiments/search?max_results=1");
            login.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("admin:" + File.ReadAllText(passwordFile).Trim())));
            using var admin = await http.SendAsync(login, Ct);
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);

            // The image's HEALTHCHECK command, run as Docker would (exec form), against this server.
            var check = JsonSerializer.Deserialize<string[]>(Regex.Match(runtime.All("HEALTHCHECK").Single(), @"CMD\s+(\[.*\])$").Groups[1].Value)!;
            var (checkExit, checkOutput) = await RunAsync(check[0], check[1..], work.Path, TimeSpan.FromSeconds(30), environment);
            Assert.True(checkExit == 0, $"HEALTHCHECK exited with {checkExit}: {checkOutput}");
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(Ct);
        }
    }

    private static async Task WaitForHealthAsync(HttpClient http, Process server, System.Text.StringBuilder log)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(server.HasExited, $"the server exited with {(server.HasExited ? server.ExitCode : 0)}:\n{log}");
            try
            {
                if ((await http.GetAsync("health", Ct)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(200, Ct);
        }
        throw new TimeoutException($"the published server did not answer /health in 60 s:\n{log}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string directory, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var result = await ChildProcess.RunAsync(file, arguments, timeout, Ct, directory, environment);
        return (result.ExitCode, result.Output);
    }
}

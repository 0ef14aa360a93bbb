using System.Net;
using System.Net.Http.Json;
using System.Text;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cairn.Tests.Hosting;

public sealed class ServerOptionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Settings(TempDirectory dir) =>
        new CairnServerOptions { Port = 0, BackendStoreUri = dir.Path, ArtifactsDestination = dir.Combine("artifacts"), LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning }.ToSettings();

    [Theory]
    [InlineData("Cairn:Server:Port", "70000", "Invalid value for 'Cairn:Server:Port' (--port, Cairn__Server__Port): it must be between 0 and 65535 (was 70000).")]
    [InlineData("Cairn:Server:Host", "http://x:1", "Invalid value for 'Cairn:Server:Host' (--host, Cairn__Server__Host): 'http://x:1' is not a host name or IP address (no scheme, no port).")]
    [InlineData("Cairn:Limits:MaxRequestBodyBytes", "0", "Invalid value for 'Cairn:Limits:MaxRequestBodyBytes' (--max-request-size, Cairn__Limits__MaxRequestBodyBytes): it must be a positive number of bytes (was 0).")]
    [InlineData("Cairn:Limits:MaxArtifactBytes", "-1", "Invalid value for 'Cairn:Limits:MaxArtifactBytes' (--max-artifact-size, Cairn__Limits__MaxArtifactBytes): it must be a positive number of bytes, or empty for no limit (was -1).")]
    [InlineData("Cairn:Store:AllowedArtifactRoots", "/", "Invalid value for 'Cairn:Store:AllowedArtifactRoots' (--allowed-artifact-roots, Cairn__Store__AllowedArtifactRoots): '/' is a whole file system; name the folder that holds artifacts.")]
    [InlineData("Cairn:Store:AllowedArtifactRoots", "gs://bucket/x", "Invalid value for 'Cairn:Store:AllowedArtifactRoots' (--allowed-artifact-roots, Cairn__Store__AllowedArtifactRoots): 'gs://bucket/x' is not a folder, file:/// or s3://bucket/prefix.")]
    [InlineData("Cairn:Http:AllowedHosts", "http://x.example", "Invalid value for 'Cairn:Http:AllowedHosts' (--allowed-hosts, Cairn__Http__AllowedHosts): 'http://x.example' is not a host name, IP address, *.domain or * (no scheme, no port).")]
    [InlineData("Cairn:Http:CorsAllowedOrigins", "ui.example", "Invalid value for 'Cairn:Http:CorsAllowedOrigins' (--cors-allowed-origins, Cairn__Http__CorsAllowedOrigins): 'ui.example' is not an origin like https://host[:port] (scheme and host, no path) or *.")]
    [InlineData("Cairn:Http:CorsAllowedOrigins", "https://ui.example/app", "'https://ui.example/app' is not an origin")]
    [InlineData("Cairn:Logging:Format", "xml", "Invalid value for 'Cairn:Logging:Format' (--log-format, Cairn__Logging__Format): it must be 'console' or 'json' (was 'xml').")]
    [InlineData("Cairn:Store:BackendStoreUri", "mysql://db/x", "Invalid value for 'Cairn:Store:BackendStoreUri' (--backend-store-uri, Cairn__Store__BackendStoreUri): Invalid backend store URI 'mysql://db/x': the scheme is not supported")]
    public async Task A_bad_option_fails_start_naming_the_key_and_the_rule_before_the_store_is_opened(string key, string value, string message)
    {
        using var dir = new TempDirectory();
        var settings = Settings(dir);
        settings[key] = value;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CairnServer.StartAsync(settings, cancellationToken: Ct));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        // Validation runs before the hosted services: nothing was created on disk.
        Assert.False(File.Exists(dir.Combine("cairn.db")));
    }

    [Fact]
    public async Task Unset_store_locations_fall_back_to_CAIRN_HOME_and_its_artifacts_folder()
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["Cairn:Server:Port"] = "0", ["CAIRN_HOME"] = dir.Path };

        await using (var server = await CairnServer.StartAsync(settings, cancellationToken: Ct))
        {
            var store = server.Services.GetRequiredService<IOptions<ServerStoreOptions>>().Value;
            Assert.Equal(dir.Path, store.BackendStoreUri);
            Assert.Equal(dir.Combine("artifacts"), store.ArtifactsDestination);
            using var http = new HttpClient { BaseAddress = server.Address };
            using var put = await http.PutAsync("api/2.0/mlflow-artifacts/artifacts/a/b.txt", new StringContent("x"), Ct);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        Assert.True(File.Exists(dir.Combine("cairn.db")));
        Assert.Equal("x", File.ReadAllText(dir.Combine("artifacts", "a", "b.txt")));
    }

    [Fact]
    public async Task Another_host_embeds_the_api_next_to_its_own_routes_and_the_store_is_closed_when_it_stops()
    {
        using var dir = new TempDirectory();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cairn:Store:BackendStoreUri"] = dir.Path,
            ["Cairn:Store:ArtifactsDestination"] = dir.Combine("artifacts"),
        });
        builder.Services.AddCairnServer(builder.Configuration);
        var app = builder.Build();
        app.MapGet("/hello", () => "the host's own route");
        app.MapCairnApi();

        await using (app)
        {
            await app.StartAsync(Ct);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            Assert.Equal("the host's own route", await http.GetStringAsync("hello", Ct));
            using var created = await http.PostAsync("api/2.0/mlflow/experiments/create",
                new StringContent("""{"name":"embedded"}""", Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            using var ready = await http.GetAsync("health/ready", Ct);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            await app.StopAsync(Ct);
        }

        // The host closed the store as it stopped: the file opens again and holds the acknowledged write.
        using var reopened = await Cairn.Storage.CairnStores.OpenAsync(dir.Path, new Cairn.Storage.CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }, Ct);
        Assert.NotNull(await reopened.Tracking.FindExperimentByNameAsync("embedded", Ct));
    }
}

/// <summary>Tests that set process environment variables run alone: every server started meanwhile would read them.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

[Collection(nameof(EnvironmentCollection))]
public sealed class EnvironmentConfigurationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_Cairn__variable_configures_the_server_and_a_setting_from_the_command_line_overrides_it()
    {
        using var dir = new TempDirectory();
        // ~3 KB: over the variable's 1 KB, within MLflow's 5000-character tag values.
        var body = JsonContent.Create(new { name = "from-flag", tags = new[] { new { key = "note", value = new string('x', 3000) } } });
        Environment.SetEnvironmentVariable("Cairn__Limits__MaxRequestBodyBytes", "1024");
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Cairn:Server:Port"] = "0",
                ["Cairn:Store:BackendStoreUri"] = dir.Path,
                ["Cairn:Store:ArtifactsDestination"] = dir.Combine("artifacts"),
            };
            await using (var fromEnvironment = await CairnServer.StartAsync(settings, cancellationToken: Ct))
            {
                using var http = new HttpClient { BaseAddress = fromEnvironment.Address };
                using var response = await http.PostAsync("api/2.0/mlflow/experiments/create", body, Ct);
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            }

            settings["Cairn:Limits:MaxRequestBodyBytes"] = "65536"; // what `--max-request-size 65536` passes
            await using (var fromFlag = await CairnServer.StartAsync(settings, cancellationToken: Ct))
            {
                using var http = new HttpClient { BaseAddress = fromFlag.Address };
                using var response = await http.PostAsync("api/2.0/mlflow/experiments/create", body, Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("Cairn__Limits__MaxRequestBodyBytes", null);
        }
    }
}

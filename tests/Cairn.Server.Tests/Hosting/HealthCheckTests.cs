using System.Net;
using System.Text.Json;

namespace Cairn.Tests.Hosting;

public sealed class HealthCheckTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Live_and_ready_answer_200_on_a_sound_store_and_health_keeps_its_text()
    {
        await using var server = await RunningServer.StartAsync();

        using var live = await server.Http.GetAsync("health/live", Ct);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await server.Http.GetAsync("health/ready", Ct);
        var body = await ready.Content.ReadAsStringAsync(Ct);
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal("Healthy", json.GetProperty("status").GetString());
        Assert.Equal("Healthy", json.GetProperty("checks").GetProperty("store").GetProperty("status").GetString());
        Assert.Equal("OK", await server.Http.GetStringAsync("health", Ct));
    }

    [Fact]
    public async Task Ready_answers_503_naming_the_file_when_the_database_folder_is_removed_while_live_stays_200()
    {
        await using var server = await RunningServer.StartAsync(o => o.BackendStoreUri = Path.Combine(o.ArtifactsDestination, "..", "db"));
        var experiment = await server.CreateExperimentAsync("before");
        Assert.False(string.IsNullOrEmpty(experiment));

        // What an operator wiping the volume under a running server does. SQLite in WAL mode would go on committing
        // into the unlinked file, acknowledging writes that no restart will find.
        Directory.Delete(Path.Combine(server.Home, "db"), recursive: true);

        using var ready = await server.Http.GetAsync("health/ready", Ct);
        var body = await ready.Content.ReadAsStringAsync(Ct);
        Assert.True(ready.StatusCode == HttpStatusCode.ServiceUnavailable, $"{ready.StatusCode}: {body}");
        var store = JsonDocument.Parse(body).RootElement.GetProperty("checks").GetProperty("store");
        Assert.Equal("Unhealthy", store.GetProperty("status").GetString());
        Assert.Contains("cairn.db", store.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("gone", store.GetProperty("description").GetString(), StringComparison.Ordinal);

        using var live = await server.Http.GetAsync("health/live", Ct);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }
}

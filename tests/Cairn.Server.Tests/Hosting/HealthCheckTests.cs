using System.Net;
using System.Text.Json;
using Cairn.Server.Hosting;
using Cairn.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

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

    [Fact]
    public async Task Ready_and_writes_answer_503_while_the_sqlite_writer_is_down_after_a_fault_and_both_recover_once_the_cause_is_gone()
    {
        await using var server = await RunningServer.StartAsync();
        var database = Assert.IsType<SqliteDatabase>(server.Server.Services.GetRequiredService<ServerStores>().Inner.Database);

        // A fault of the writer's loop: a group whose transaction a write ended under the others.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = database.Writer.ExecuteAsync(async (c, tx) => { started.SetResult(); await release.Task; return 0; }, Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        var queued = database.Writer.ExecuteAsync<int>((c, tx) => Task.FromResult(0), Ct);
        var breaking = database.Writer.ExecuteAsync<int>((c, tx) => { tx.Rollback(); throw new InvalidOperationException("broken"); }, Ct);
        release.SetResult();
        await blocker.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await Assert.ThrowsAnyAsync<CairnException>(() => queued.WaitAsync(TimeSpan.FromSeconds(20), Ct));
        await Assert.ThrowsAnyAsync<CairnException>(() => breaking.WaitAsync(TimeSpan.FromSeconds(20), Ct));

        // Another process takes the write lock before the writer restarts, so its restart check waits and it stays down.
        using var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database.DatabasePath, Pooling = false }.ToString());
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
        }

        using (var ready = await server.Http.GetAsync("health/ready", Ct))
        {
            var body = await ready.Content.ReadAsStringAsync(Ct);
            Assert.True(ready.StatusCode == HttpStatusCode.ServiceUnavailable, $"{ready.StatusCode}: {body}");
            var store = JsonDocument.Parse(body).RootElement.GetProperty("checks").GetProperty("store");
            Assert.Contains("SQLite writer failed", store.GetProperty("description").GetString(), StringComparison.Ordinal);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, error) = await server.PostAsync("experiments/create", new { name = "while-down" });
        Assert.Equal(503, status);
        Assert.Equal("TEMPORARILY_UNAVAILABLE", error.GetProperty("error_code").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"a write to a writer that is down took {clock.Elapsed}");

        using (var rollback = other.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var ready = await server.Http.GetAsync("health/ready", Ct);
            if (ready.StatusCode == HttpStatusCode.OK) break;
            Assert.True(DateTime.UtcNow < deadline, "readiness did not come back: " + await ready.Content.ReadAsStringAsync(Ct));
            await Task.Delay(100, Ct);
        }
        Assert.False(string.IsNullOrEmpty(await server.CreateExperimentAsync("after")));
    }
}

using Cairn.Monitoring.Alerts;
using Cairn.Storage;
using Cairn.Tests.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>What the alert store does on every backend: state round trip, incidents opened, held and resolved, listing, retention.</summary>
public abstract class AlertStoreContract : IAsyncDisposable
{
    protected abstract Task<CairnStores> CreateStoresAsync();

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private static NewIncident Incident(long endMs, double value = 0.3) => new("churn", "1", "psi(feature=tenure) > 0.2",
        DateTimeOffset.FromUnixTimeMilliseconds(endMs - 1000), DateTimeOffset.FromUnixTimeMilliseconds(endMs),
        new() { ["psi(feature=tenure)"] = value, ["accuracy"] = null, ["wasserstein(feature=x)"] = double.PositiveInfinity });

    [Fact]
    public async Task A_state_and_its_incident_round_trip_through_open_hold_and_resolve()
    {
        var store = new SqlAlertStore((await CreateStoresAsync()).Database!);
        var state = new AlertState("tenure", "churn-api", "churn", "1") { TrueStreak = 2, LastWindowEndMs = 2000 };
        var id = await store.SaveAsync(state, Incident(2000), null, null, Ct);
        Assert.NotNull(id);
        var loaded = Assert.Single(await store.LoadStatesAsync(Ct));
        Assert.Equal(("tenure", "churn-api", "churn", "1", 2, 0, id, 2000L),
            (loaded.Rule, loaded.Deployment, loaded.ModelName, loaded.ModelVersion, loaded.TrueStreak, loaded.FalseStreak, loaded.IncidentId, loaded.LastWindowEndMs));

        state.TrueStreak = 3;
        state.LastWindowEndMs = 3000;
        Assert.Null(await store.SaveAsync(state, null, null, id, Ct));
        var held = await store.FindIncidentAsync(id!.Value, Ct);
        Assert.NotNull(held);
        Assert.Equal((IncidentStatus.Open, 2, 3000L, 2000L), (held.Status, held.Windows, held.LastWindowEnd.ToUnixTimeMilliseconds(), held.WindowEnd.ToUnixTimeMilliseconds()));
        Assert.Equal(0.3, held.Values["psi(feature=tenure)"]);
        Assert.Null(held.Values["accuracy"]);
        Assert.Equal(double.PositiveInfinity, held.Values["wasserstein(feature=x)"]);
        Assert.Equal(Time.GetUtcNow(), held.OpenedAt);

        await store.SetWebhookStatusAsync(id.Value, "delivered (HTTP 200) after 1 attempt", Ct);
        await store.SetRetrainAsync(id.Value, "succeeded", "20260301-120000-abcdef", "train: ran", Ct);
        Time.Advance(TimeSpan.FromMinutes(5));
        state.TrueStreak = 0;
        state.IncidentId = null;
        state.LastWindowEndMs = 4000;
        await store.SaveAsync(state, null, id, null, Ct);
        var resolved = await store.FindIncidentAsync(id.Value, Ct);
        Assert.NotNull(resolved);
        Assert.Equal((IncidentStatus.Resolved, Time.GetUtcNow(), "delivered (HTTP 200) after 1 attempt", "succeeded", "20260301-120000-abcdef", "train: ran"),
            (resolved.Status, resolved.ResolvedAt, resolved.WebhookStatus, resolved.RetrainStatus, resolved.RetrainRunId, resolved.RetrainMessage));
        Assert.Null(Assert.Single(await store.LoadStatesAsync(Ct)).IncidentId);
        Assert.Null(await store.FindIncidentAsync(id.Value + 100, Ct));
    }

    [Fact]
    public async Task Lists_put_open_incidents_first_filter_by_deployment_and_are_bounded()
    {
        var store = new SqlAlertStore((await CreateStoresAsync()).Database!);
        var ids = new List<long>();
        for (int i = 0; i < 4; i++)
        {
            var state = new AlertState($"r{i}", i % 2 == 0 ? "a" : "b", "", "") { LastWindowEndMs = 1000 };
            ids.Add((await store.SaveAsync(state, Incident(1000), null, null, Ct))!.Value);
        }
        await store.SaveAsync(new AlertState("r3", "b", "", "") { LastWindowEndMs = 2000 }, null, ids[3], null, Ct); // newest resolved
        var all = await store.ListIncidentsAsync(null, false, 100, Ct);
        Assert.Equal([ids[2], ids[1], ids[0], ids[3]], all.Select(i => i.Id));
        Assert.Equal([ids[2], ids[1], ids[0]], (await store.ListIncidentsAsync(null, true, 100, Ct)).Select(i => i.Id));
        Assert.Equal([ids[1], ids[3]], (await store.ListIncidentsAsync("b", false, 100, Ct)).Select(i => i.Id));
        Assert.Equal([ids[2], ids[1]], (await store.ListIncidentsAsync(null, false, 2, Ct)).Select(i => i.Id));
        foreach (var bad in new[] { 0, SqlAlertStore.MaxResults + 1 })
            Assert.Contains("'max_results'", (await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.ListIncidentsAsync(null, false, bad, Ct))).Message);
    }

    [Fact]
    public async Task Resolved_incidents_beyond_the_retention_are_deleted_oldest_first_and_open_ones_never()
    {
        var store = new SqlAlertStore((await CreateStoresAsync()).Database!, keepResolved: 3);
        var openId = (await store.SaveAsync(new AlertState("open", "a", "", "") { LastWindowEndMs = 1 }, Incident(1000), null, null, Ct))!.Value;
        var resolved = new List<long>();
        for (int i = 0; i < 6; i++)
        {
            var state = new AlertState("flappy", "a", "", "") { LastWindowEndMs = 10 * i + 1 };
            var id = (await store.SaveAsync(state, Incident(1000 + i), null, null, Ct))!.Value;
            state.IncidentId = null;
            state.LastWindowEndMs += 5;
            await store.SaveAsync(state, null, id, null, Ct);
            resolved.Add(id);
        }
        var left = await store.ListIncidentsAsync(null, false, 100, Ct);
        Assert.Equal([openId, resolved[5], resolved[4], resolved[3]], left.Select(i => i.Id));
    }
}

/// <summary>The alert store contract over a real SQLite file per test.</summary>
public sealed class SqliteAlertStoreTests : AlertStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("alerts");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The alert store contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; a schema per store, dropped afterwards.</summary>
public sealed class PostgresAlertStoreTests : AlertStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_alerts_", "alert store contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

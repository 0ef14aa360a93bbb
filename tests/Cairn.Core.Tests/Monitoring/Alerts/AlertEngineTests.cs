using System.Diagnostics.Metrics;
using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;
using Cairn.Storage;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>Hysteresis on a real SQLite file: one firing per incident, for N windows, unknown windows, resolving, restarts.</summary>
public sealed class AlertEngineTests : IDisposable
{
    private const int Fired = 4101;
    private const int Resolved = 4102;

    private readonly TempDirectory _dir = new();
    private readonly ListLogger _log = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private string DatabasePath => _dir.Combine("cairn.db");

    private IReadOnlyList<AlertRule> Rules(string rules) =>
        AlertRulesFile.Parse("alerts:\n" + rules, "monitoring.yaml", _dir.Path, _ => null);

    /// <summary>An engine over its own store set, as a server holds it; dispose both to "stop the server".</summary>
    private sealed class Running(CairnStores stores, AlertEngine engine, SqlAlertStore store) : IAsyncDisposable
    {
        public AlertEngine Engine { get; } = engine;
        public SqlAlertStore Store { get; } = store;

        public ValueTask Window(MonitorWindow window) => Engine.OnWindowAsync(window, Ct);

        public async ValueTask DisposeAsync()
        {
            await Engine.DisposeAsync();
            stores.Dispose();
        }
    }

    private async Task<Running> StartAsync(IReadOnlyList<AlertRule> rules)
    {
        var stores = await CairnStores.OpenAsync(DatabasePath, new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var store = new SqlAlertStore(stores.Database!);
        return new Running(stores, new AlertEngine(rules, store, new AlertActions(store, _log), _log), store);
    }

    private const string PsiRule = "  - {name: tenure, condition: 'psi(feature=tenure) > 0.2', actions: [log]}\n";

    [Fact]
    public async Task An_incident_fires_once_stays_open_while_the_condition_holds_and_fires_again_only_after_resolving()
    {
        await using var alerts = await StartAsync(Rules(PsiRule));
        await alerts.Window(AlertWindows.Psi(0, 0.05));
        Assert.Equal(0, _log.Count(Fired));
        await alerts.Window(AlertWindows.Psi(1, 0.3));
        await alerts.Window(AlertWindows.Psi(2, 0.4));
        await alerts.Window(AlertWindows.Psi(3, 0.5));
        Assert.Equal(1, _log.Count(Fired));
        var open = Assert.Single(await alerts.Store.ListIncidentsAsync(null, openOnly: true, 100, Ct));
        Assert.Equal(("tenure", "churn-api", "churn", "1", 3), (open.Rule, open.Deployment, open.ModelName, open.ModelVersion, open.Windows));
        Assert.Equal((AlertWindows.Origin.AddHours(1), AlertWindows.Origin.AddHours(2), AlertWindows.Origin.AddHours(4)), (open.WindowStart, open.WindowEnd, open.LastWindowEnd));
        Assert.Equal(0.3, open.Values["psi(feature=tenure)"]);
        Assert.Contains("psi(feature=tenure)=0.3", _log.Entries.Single(e => e.EventId == Fired).Message, StringComparison.Ordinal);
        Assert.True(alerts.Engine.IsFiring("tenure", "churn-api"));

        await alerts.Window(AlertWindows.Psi(4, 0.1)); // false once: resolved (resolve_after defaults to 1)
        Assert.Equal(1, _log.Count(Resolved));
        Assert.Empty(await alerts.Store.ListIncidentsAsync(null, openOnly: true, 100, Ct));
        Assert.False(alerts.Engine.IsFiring("tenure", "churn-api"));

        await alerts.Window(AlertWindows.Psi(5, 0.25)); // a new incident
        Assert.Equal(2, _log.Count(Fired));
        var all = await alerts.Store.ListIncidentsAsync(null, openOnly: false, 100, Ct);
        Assert.Equal([IncidentStatus.Open, IncidentStatus.Resolved], all.Select(i => i.Status));
        Assert.NotNull(all[1].ResolvedAt);
        Assert.True(all[0].Id > all[1].Id);
    }

    [Fact]
    public async Task For_n_windows_needs_n_consecutive_windows_and_a_false_one_starts_over()
    {
        await using var alerts = await StartAsync(Rules("  - {name: tenure, condition: 'psi(feature=tenure) > 0.2 for 3 windows', actions: [log]}\n"));
        await alerts.Window(AlertWindows.Psi(0, 0.3));
        await alerts.Window(AlertWindows.Psi(1, 0.3));
        await alerts.Window(AlertWindows.Psi(2, 0.1)); // breaks the streak
        await alerts.Window(AlertWindows.Psi(3, 0.3));
        await alerts.Window(AlertWindows.Psi(4, 0.3));
        Assert.Equal(0, _log.Count(Fired));
        await alerts.Window(AlertWindows.Psi(5, 0.3)); // third in a row
        Assert.Equal(1, _log.Count(Fired));
        var incident = Assert.Single(await alerts.Store.ListIncidentsAsync(null, true, 10, Ct));
        Assert.Equal(AlertWindows.Origin.AddHours(5), incident.WindowStart); // the window that completed the streak
    }

    [Fact]
    public async Task An_unknown_window_neither_fires_nor_resolves_nor_breaks_a_streak()
    {
        await using var alerts = await StartAsync(Rules(
            "  - {name: accuracy, condition: 'accuracy < 0.8 for 2 windows', actions: [log]}\n"));
        var low = new Dictionary<string, double> { ["accuracy"] = 0.7 };
        var good = new Dictionary<string, double> { ["accuracy"] = 0.9 };
        await alerts.Window(AlertWindows.Window(0, performance: low));
        await alerts.Window(AlertWindows.Window(1)); // no labels yet: unknown
        Assert.Equal(0, _log.Count(Fired));
        await alerts.Window(AlertWindows.Window(2, performance: low));
        Assert.Equal(1, _log.Count(Fired));
        for (int i = 3; i < 6; i++) await alerts.Window(AlertWindows.Window(i)); // unknown while open: stays open
        Assert.Equal(0, _log.Count(Resolved));
        Assert.Single(await alerts.Store.ListIncidentsAsync(null, true, 10, Ct));
        await alerts.Window(AlertWindows.Window(6, performance: good));
        Assert.Equal(1, _log.Count(Resolved));
        Assert.Equal(1, _log.Count(Fired));
    }

    [Fact]
    public async Task Resolve_after_needs_consecutive_false_windows()
    {
        await using var alerts = await StartAsync(Rules(
            "  - {name: tenure, condition: 'psi(feature=tenure) > 0.2', resolve_after: 2, actions: [log]}\n"));
        await alerts.Window(AlertWindows.Psi(0, 0.3));
        await alerts.Window(AlertWindows.Psi(1, 0.1));
        await alerts.Window(AlertWindows.Psi(2, 0.3)); // true again: the false streak starts over
        await alerts.Window(AlertWindows.Psi(3, 0.1));
        Assert.Equal(0, _log.Count(Resolved));
        Assert.Equal(2, Assert.Single(await alerts.Store.ListIncidentsAsync(null, true, 10, Ct)).Windows); // windows 0 and 2 held
        await alerts.Window(AlertWindows.Psi(4, 0.1));
        Assert.Equal(1, _log.Count(Resolved));
        Assert.Equal(1, _log.Count(Fired));
    }

    [Fact]
    public async Task Each_deployment_and_model_version_has_its_own_incident_and_a_deployment_filter_is_obeyed()
    {
        await using var alerts = await StartAsync(Rules(
            PsiRule + "  - {name: only-churn, deployment: churn-api, condition: 'prediction_log.drops > 0', actions: [log]}\n"));
        await alerts.Window(AlertWindows.Psi(0, 0.3, "churn-api"));
        await alerts.Window(AlertWindows.Psi(0, 0.3, "fraud-api"));
        await alerts.Window(AlertWindows.Window(0, "churn-api", version: "2", features: [AlertWindows.Feature("tenure", 0.3)]));
        await alerts.Window(AlertWindows.Window(1, "fraud-api", drops: 5, features: [AlertWindows.Feature("tenure", 0.3)])); // only-churn does not watch it
        var open = await alerts.Store.ListIncidentsAsync(null, true, 10, Ct);
        Assert.Equal(3, open.Count);
        Assert.All(open, i => Assert.Equal("tenure", i.Rule));
        Assert.Equal(["churn-api/1", "churn-api/2", "fraud-api/1"], open.Select(i => $"{i.Deployment}/{i.ModelVersion}").Order(StringComparer.Ordinal));
        Assert.Single(await alerts.Store.ListIncidentsAsync("fraud-api", false, 10, Ct));
        await alerts.Window(AlertWindows.Window(1, "churn-api", drops: 5));
        Assert.Equal("only-churn", (await alerts.Store.ListIncidentsAsync(null, true, 10, Ct))[0].Rule);
    }

    [Fact]
    public async Task A_restart_neither_fires_an_open_incident_again_nor_forgets_it_nor_its_streaks()
    {
        var rules = Rules(PsiRule + "  - {name: slow, condition: 'drift.share >= 0.5 for 2 windows', actions: [log]}\n");
        await using (var first = await StartAsync(rules))
        {
            await first.Window(AlertWindows.Psi(0, 0.3)); // tenure opens; slow has 1 of 2
        }
        Assert.Equal(1, _log.Count(Fired));

        await using (var second = await StartAsync(rules))
        {
            await second.Window(AlertWindows.Psi(0, 0.3)); // the same window delivered again: ignored
            await second.Window(AlertWindows.Psi(1, 0.4)); // tenure: still open, no new firing; slow: 2 of 2, fires
            Assert.Equal(2, _log.Count(Fired));
            Assert.Equal(1, _log.Entries.Count(e => e.EventId == Fired && e.Message.StartsWith("Alert tenure", StringComparison.Ordinal)));
            var tenure = (await second.Store.ListIncidentsAsync(null, true, 10, Ct)).Single(i => i.Rule == "tenure");
            Assert.Equal(2, tenure.Windows);
            Assert.True(second.Engine.IsFiring("tenure", "churn-api"));
        }

        await using var third = await StartAsync(rules);
        await third.Window(AlertWindows.Psi(2, 0.05)); // both resolve after the restart
        Assert.Equal(2, _log.Count(Resolved));
        Assert.Empty(await third.Store.ListIncidentsAsync(null, true, 10, Ct));
    }

    private static int? ReadGauge(string rule, string deployment)
    {
        int? value = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Cairn" && instrument.Name == "cairn.alert.firing") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, measurement, tags, _) =>
        {
            var t = tags.ToArray().ToDictionary(k => k.Key, k => k.Value as string);
            if (t["deployment"] == deployment && t["rule"] == rule) value = measurement;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }

    [Fact]
    public async Task The_firing_gauge_is_one_while_an_incident_is_open_and_zero_after_it_resolved()
    {
        await using var alerts = await StartAsync(Rules(PsiRule));
        var deployment = "gauge-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Null(ReadGauge("tenure", deployment));
        await alerts.Window(AlertWindows.Psi(0, 0.3, deployment));
        Assert.Equal(1, ReadGauge("tenure", deployment));
        await alerts.Window(AlertWindows.Psi(1, 0.1, deployment));
        Assert.Equal(0, ReadGauge("tenure", deployment));
    }

    [Fact]
    public async Task A_rule_taken_out_of_the_file_loses_its_gauge_but_its_incident_stays_listed()
    {
        var deployment = "gauge-" + Guid.NewGuid().ToString("N")[..8];
        await using (var before = await StartAsync(Rules(PsiRule)))
        {
            await before.Window(AlertWindows.Psi(0, 0.3, deployment));
            Assert.Equal(1, ReadGauge("tenure", deployment));
        }
        await using var after = await StartAsync(Rules("  - {name: drops, condition: 'prediction_log.drops > 0', actions: [log]}\n"));
        await after.Engine.LoadAsync(Ct);
        Assert.Null(ReadGauge("tenure", deployment));
        Assert.Equal("tenure", Assert.Single(await after.Store.ListIncidentsAsync(null, true, 10, Ct)).Rule);
    }
}

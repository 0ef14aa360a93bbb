using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Cairn.Diagnostics;
using Cairn.Storage;
using Microsoft.Extensions.Logging;

namespace Cairn.Monitoring.Alerts;

/// <summary>
/// Evaluates the alert rules on every monitoring window and keeps, per rule, deployment and model version, the state that
/// gives alerts hysteresis: an incident opens when the condition has held for the rule's <c>for</c> consecutive windows,
/// fires its actions once, stays open while the condition holds and resolves after <c>resolve_after</c> consecutive false
/// windows; only then can the rule fire again there. A window where a signal of the condition is absent (unknown) changes
/// nothing: it neither counts towards nor breaks a streak. The state is written to the database with each window (one
/// transaction per rule), so a restarted server neither fires an open incident again nor forgets it; a window already seen
/// (its end not after the last one's) is ignored.
/// </summary>
internal sealed class AlertEngine : IMonitorWindowObserver, IAsyncDisposable
{
    private static readonly ConcurrentDictionary<AlertEngine, byte> Live = new();

    /// <summary>
    /// <c>cairn_alert_firing{rule,deployment}</c>: 1 while an incident of the rule is open on the deployment, 0 once it
    /// resolved. One gauge on Cairn's meter for every engine of the process.
    /// </summary>
    private static readonly ObservableGauge<int> FiringGauge = CairnTelemetry.Meter.CreateObservableGauge(
        "cairn.alert.firing", Observe, description: "1 while an incident of the alert rule is open on the deployment, else 0.");

    private readonly IReadOnlyList<AlertRule> _rules;
    private readonly SqlAlertStore _store;
    private readonly AlertActions _actions;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<(string Rule, string Deployment, string ModelName, string ModelVersion), AlertState> _states = new();
    private bool _loaded;

    public AlertEngine(IReadOnlyList<AlertRule> rules, SqlAlertStore store, AlertActions actions, ILogger logger)
    {
        _rules = rules;
        _store = store;
        _actions = actions;
        _logger = logger;
        _ = FiringGauge; // created with the first engine
        Live.TryAdd(this, 0);
    }

    /// <summary>The rules evaluated.</summary>
    public IReadOnlyList<AlertRule> Rules => _rules;

    /// <summary>The actions (and their background work).</summary>
    public AlertActions Actions => _actions;

    /// <summary>Loads the stored state; called by the first window otherwise.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (_loaded) return;
        foreach (var state in await _store.LoadStatesAsync(cancellationToken).ConfigureAwait(false))
            _states[(state.Rule, state.Deployment, state.ModelName, state.ModelVersion)] = state;
        _loaded = true;
    }

    /// <inheritdoc/>
    public async ValueTask OnWindowAsync(MonitorWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        // One window at a time: a rule's state moves in window order.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
            foreach (var rule in _rules)
            {
                if (!rule.Watches(window.Deployment)) continue;
                try
                {
                    await ApplyAsync(rule, window, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One rule's failure (a database hiccup) must not keep the others from their window.
                    AlertLog.RuleFailed(_logger, e, rule.Name, window.Deployment);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ApplyAsync(AlertRule rule, MonitorWindow window, CancellationToken cancellationToken)
    {
        var key = (rule.Name, window.Deployment, window.ModelName ?? "", window.ModelVersion ?? "");
        var endMs = window.End.ToUnixTimeMilliseconds();
        var current = _states.TryGetValue(key, out var known) ? known : new AlertState(key.Item1, key.Item2, key.Item3, key.Item4);
        if (endMs <= current.LastWindowEndMs) return; // seen already (a window delivered again after a restart)

        var next = current with { };
        next.LastWindowEndMs = endMs;
        NewIncident? open = null;
        long? resolved = null, held = null;
        switch (rule.Condition.Evaluate(window))
        {
            case true:
                next.FalseStreak = 0;
                next.TrueStreak = Math.Min(next.TrueStreak + 1, AlertConditionParser.MaxForWindows);
                if (next.IncidentId is { } id) held = id;
                else if (next.TrueStreak >= rule.ForWindows)
                    open = new NewIncident(window.ModelName, window.ModelVersion, rule.ConditionText, window.Start, window.End,
                        new Dictionary<string, double?>(rule.Condition.Values(window), StringComparer.Ordinal));
                break;
            case false:
                next.TrueStreak = 0;
                if (next.IncidentId is { } openId)
                {
                    next.FalseStreak++;
                    if (next.FalseStreak >= rule.ResolveAfter)
                    {
                        resolved = openId;
                        next.IncidentId = null;
                        next.FalseStreak = 0;
                    }
                }
                else next.FalseStreak = 0;
                break;
            default:
                break; // unknown: neither fires nor resolves, and the streaks stay as they were
        }

        var openedId = await _store.SaveAsync(next, open, resolved, held, cancellationToken).ConfigureAwait(false);
        _states[key] = next;
        if (resolved is { } r) AlertLog.Resolved(_logger, rule.Name, window.Deployment, r);
        if (open is not null && openedId is { } incidentId)
        {
            var incident = new AlertIncident
            {
                Id = incidentId,
                Rule = rule.Name,
                Deployment = window.Deployment,
                ModelName = window.ModelName,
                ModelVersion = window.ModelVersion,
                Condition = rule.ConditionText,
                Status = IncidentStatus.Open,
                OpenedAt = DateTimeOffset.FromUnixTimeMilliseconds(_store.Database.NowMs()),
                WindowStart = window.Start,
                WindowEnd = window.End,
                LastWindowEnd = window.End,
                Windows = 1,
                Values = open.Values,
            };
            _actions.Fire(rule, incident);
        }
    }

    /// <summary>Whether an incident of <paramref name="rule"/> is open on <paramref name="deployment"/> (any model version).</summary>
    public bool IsFiring(string rule, string deployment) =>
        _states.Values.Any(s => s.IncidentId is not null && s.Rule == rule && s.Deployment == deployment);

    private static IEnumerable<Measurement<int>> Observe()
    {
        var seen = new Dictionary<(string, string), int>();
        foreach (var engine in Live.Keys)
        {
            var configured = engine._rules.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            // A rule taken out of the file keeps its stored state (and open incident) but no longer has a gauge.
            foreach (var state in engine._states.Values.Where(s => configured.Contains(s.Rule)))
            {
                var k = (state.Rule, state.Deployment);
                seen[k] = Math.Max(seen.GetValueOrDefault(k), state.IncidentId is null ? 0 : 1);
            }
        }
        return seen.Select(p => new Measurement<int>(p.Value,
            new KeyValuePair<string, object?>("rule", p.Key.Item1), new KeyValuePair<string, object?>("deployment", p.Key.Item2)));
    }

    /// <summary>Stops the actions' background work (webhooks queued are given a moment, retrains are cancelled).</summary>
    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        await _actions.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    /// <summary>Describes the values for a log line: <c>psi(feature=tenure)=0.31, accuracy=unknown</c>.</summary>
    internal static string Describe(IReadOnlyDictionary<string, double?> values) =>
        string.Join(", ", values.Select(v => $"{v.Key}={(v.Value is { } d ? d.ToString("G6", CultureInfo.InvariantCulture) : "unknown")}"));
}

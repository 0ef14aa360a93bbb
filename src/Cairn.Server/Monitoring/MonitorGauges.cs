using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Cairn.Diagnostics;
using Cairn.Monitoring;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Monitoring;

/// <summary>
/// The newest window per deployment, model version and route as gauges on Cairn's one meter (<see cref="CairnTelemetry.Meter"/>),
/// so <c>/metrics</c> exports them: rows, labelled rows, drift share, dataset drift, each feature's drift score and verdict,
/// the prediction's drift score and the performance metrics. Label cardinality is bounded: at most
/// <see cref="MaxSeriesPerDeployment"/> versions per deployment, <see cref="MaxDeployments"/> deployments and
/// <see cref="MonitoringOptions.MaxGaugeFeatures"/> features per window (drifted ones first).
/// </summary>
internal sealed class MonitorGauges : IDisposable
{
    public const int MaxSeriesPerDeployment = 20;

    public const int MaxDeployments = 1000;

    // The instruments are the process's (the meter is static); each server's gauges report through them while it runs.
    private static readonly ConcurrentDictionary<MonitorGauges, byte> Live = new();

    private static readonly ObservableGauge<long> Rows = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.window.rows",
        () => Observe<long>(static (w, tags) => [new Measurement<long>(w.Rows, tags)]), description: "Logged rows in the newest monitoring window.");

    private static readonly ObservableGauge<long> LabeledRows = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.window.labeled_rows",
        () => Observe<long>(static (w, tags) => [new Measurement<long>(w.LabeledRows, tags)]), description: "Rows of the newest window whose ground truth has arrived.");

    private static readonly ObservableGauge<double> DriftShare = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.drift.share",
        () => Observe<double>(static (w, tags) => w.InputDrift is { } d ? [new Measurement<double>(d.DriftShare, tags)] : []),
        description: "Share of the features that drifted in the newest window.");

    private static readonly ObservableGauge<int> DatasetDrift = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.drift.dataset",
        () => Observe<int>(static (w, tags) => w.InputDrift is { } d ? [new Measurement<int>(d.DatasetDrift ? 1 : 0, tags)] : []),
        description: "1 when the newest window's dataset drifted, else 0.");

    private static readonly ObservableGauge<double> FeatureScore = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.feature.drift_score",
        () => ObserveFeatures<double>(static (f, tags) => f.Score is { } s && double.IsFinite(s) ? [new Measurement<double>(s, tags)] : []),
        description: "A feature's drift score (its method's p-value or distance) in the newest window.");

    private static readonly ObservableGauge<int> FeatureDrifted = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.feature.drifted",
        () => ObserveFeatures<int>(static (f, tags) => [new Measurement<int>(f.Drifted ? 1 : 0, tags)]), description: "1 when the feature drifted in the newest window.");

    private static readonly ObservableGauge<double> PredictionScore = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.prediction.drift_score",
        () => Observe<double>(static (w, tags) => w.PredictionDrift?.Score is { } s && double.IsFinite(s) ? [new Measurement<double>(s, tags)] : []),
        description: "The prediction's drift score against the reference's label in the newest window.");

    private static readonly ObservableGauge<double> Performance = CairnTelemetry.Meter.CreateObservableGauge("cairn.monitor.performance",
        () => Observe<double>(static (w, tags) => w.Performance.Where(p => double.IsFinite(p.Value)).Select(p =>
        {
            var t = tags;
            t.Add("metric", p.Key);
            return new Measurement<double>(p.Value, t);
        })), description: "A performance metric of the newest window over its labelled rows.");

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<(string Version, string Route), MonitorWindow>> _latest = new(StringComparer.Ordinal);
    private readonly int _maxFeatures;

    public MonitorGauges(IOptions<MonitoringOptions> options)
    {
        _maxFeatures = options.Value.MaxGaugeFeatures;
        Live[this] = 0;
        // Touch the instruments so they exist on the meter before the first scrape.
        GC.KeepAlive((Rows, LabeledRows, DriftShare, DatasetDrift, FeatureScore, FeatureDrifted, PredictionScore, Performance));
    }

    /// <summary>Takes the windows as the newest of their deployment, version and route (an older window never replaces a newer one).</summary>
    public void Record(IEnumerable<MonitorWindow> windows)
    {
        foreach (var w in windows)
        {
            if (!_latest.ContainsKey(w.Deployment) && _latest.Count >= MaxDeployments) continue;
            var series = _latest.GetOrAdd(w.Deployment, _ => new());
            var key = Key(w);
            series.AddOrUpdate(key, w, (_, old) => old.End > w.End ? old : w);
            while (series.Count > MaxSeriesPerDeployment)
            {
                var oldest = series.OrderBy(s => s.Value.EvaluatedAt).First().Key;
                series.TryRemove(oldest, out _);
            }
        }
    }

    public void Dispose() => Live.TryRemove(this, out _);

    private static (string Version, string Route) Key(MonitorWindow w) =>
        (w.ModelVersion ?? "all", w.ModelVersion is null ? "all" : w.Shadow ? "shadow" : "primary");

    private static System.Diagnostics.TagList Tags(MonitorWindow w)
    {
        var (version, route) = Key(w);
        return new System.Diagnostics.TagList { { "deployment", w.Deployment }, { "model_version", version }, { "route", route } };
    }

    private static IEnumerable<Measurement<T>> Observe<T>(Func<MonitorWindow, System.Diagnostics.TagList, IEnumerable<Measurement<T>>> measure) where T : struct =>
        Live.Keys.SelectMany(g => g._latest.Values.SelectMany(s => s.Values)).SelectMany(w => measure(w, Tags(w))).ToList();

    private static IEnumerable<Measurement<T>> ObserveFeatures<T>(Func<FeatureDrift, System.Diagnostics.TagList, IEnumerable<Measurement<T>>> measure) where T : struct =>
        Live.Keys.SelectMany(g => g._latest.Values.SelectMany(s => s.Values).SelectMany(w =>
            (w.InputDrift?.Features ?? []).OrderByDescending(f => f.Drifted).Take(g._maxFeatures).SelectMany(f =>
            {
                var tags = Tags(w);
                tags.Add("feature", f.Name);
                return measure(f, tags);
            }))).ToList();
}

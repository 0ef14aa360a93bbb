using System.Globalization;
using Cairn.Client;
using Cairn.ML.Models;
using Cairn.Monitoring;
using Cairn.Server.Hosting;
using Cairn.Server.Scoring;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Monitoring;

/// <summary>What the monitor learns once about a model version: its task, label and classes (the package's MLmodel), its reference sample, its training metrics.</summary>
internal sealed record ModelFacts(string? Task, string? Label, IReadOnlyList<string>? Classes, IReadOnlyDictionary<string, double> TrainingMetrics, MonitorReference? Sample)
{
    public static ModelFacts None { get; } = new(null, null, null, new Dictionary<string, double>(), null);
}

/// <summary>
/// Resolves model versions for the monitor: the registry's version names its run (whose evaluation metrics are the training
/// performance) and its package, fetched as deployments fetch theirs (<see cref="CairnClient.LocateModelAsync"/>) into a scratch
/// folder that is removed afterwards, read for <c>MLmodel</c> and <c>reference_sample.parquet</c>. Kept per version (at most
/// <see cref="MaxEntries"/>); a version that cannot be resolved is monitored without them.
/// </summary>
internal sealed partial class MonitorModels(ServerStores stores, DeploymentRuntime runtime, MonitoringConfigSource config, ILogger<MonitorModels> logger)
{
    public const string ReferenceSampleFile = "reference_sample.parquet";

    private const int MaxEntries = 64;

    /// <summary>The metric names a window's performance is compared with.</summary>
    private static readonly HashSet<string> Comparable = new(StringComparer.Ordinal)
    {
        "accuracy", "precision", "recall", "f1", "auc", "micro_accuracy", "macro_accuracy", "rmse", "mae", "r2",
    };

    private readonly Dictionary<(string, string), ModelFacts> _cache = [];
    private readonly Lock _lock = new();

    public async Task<ModelFacts> GetAsync(string? name, string? version, CancellationToken cancellationToken)
    {
        if (name is null || version is null) return ModelFacts.None;
        lock (_lock)
            if (_cache.TryGetValue((name, version), out var cached)) return cached;
        var facts = await ResolveAsync(name, version, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (_cache.Count >= MaxEntries) _cache.Clear();
            _cache[(name, version)] = facts;
        }
        return facts;
    }

    private async Task<ModelFacts> ResolveAsync(string name, string version, CancellationToken cancellationToken)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        string? task = null, label = null;
        IReadOnlyList<string>? classes = null;
        MonitorReference? sample = null;
        try
        {
            var modelVersion = await stores.Registry.GetModelVersionAsync(name, version, cancellationToken).ConfigureAwait(false);
            if (modelVersion.RunId is { Length: > 0 } runId)
            {
                var run = await stores.Tracking.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
                foreach (var metric in run.Data.Metrics)
                    if (Comparable.Contains(metric.Key) && double.IsFinite(metric.Value)) metrics[metric.Key] = metric.Value;
            }
            var scratch = Path.Combine(runtime.CacheFolder, "monitor-" + Guid.NewGuid().ToString("N"));
            try
            {
                using var client = CairnClient.OverStores(stores.Inner, runtime.ArtifactsDestination);
                var location = await client.LocateModelAsync($"models:/{name}/{version}", scratch, "model_uri", cancellationToken).ConfigureAwait(false);
                var manifest = ModelManifest.Load(location.Folder);
                task = manifest.Metadata.GetValueOrDefault("cairn_task") as string;
                label = manifest.Metadata.GetValueOrDefault("cairn_label") as string;
                classes = (manifest.Metadata.GetValueOrDefault("cairn_classes") as IEnumerable<object?>)?.Select(c => Convert.ToString(c, CultureInfo.InvariantCulture) ?? "").ToList();
                var samplePath = Path.Combine(location.Folder, ReferenceSampleFile);
                if (File.Exists(samplePath) && config.Reader is { } reader)
                    sample = await reader.ReadAsync(samplePath, $"models:/{name}/{version}", cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                try { if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true); } catch (IOException) { /* a scratch folder left behind is harmless */ }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnresolved(logger, name, version, e.Message);
        }
        return new ModelFacts(task, label, classes, metrics, sample);
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "The monitor could not read model {Name} version {Version} (monitored without its package and training metrics): {Reason}")]
    private static partial void LogUnresolved(ILogger logger, string name, string version, string reason);
}

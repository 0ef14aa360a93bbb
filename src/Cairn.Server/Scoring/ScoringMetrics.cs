using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cairn.Diagnostics;
using Cairn.ML.Models;

namespace Cairn.Server.Scoring;

/// <summary>
/// The scoring instruments, on Cairn's one meter (<see cref="CairnTelemetry.Meter"/>), so <c>/metrics</c> exports them as
/// <c>cairn_scoring_*</c>. Every instrument is tagged with the model's name and version, and the request instruments with
/// the deployment the request came through (under <c>cairn serve</c>, the model's name: the name its predictions are logged under),
/// so a dashboard can filter by either (<c>Export/ScoringDashboard</c> queries exactly these names and labels).
/// </summary>
internal static class ScoringMetrics
{
    public const string ModelTag = "cairn.model.name";
    public const string VersionTag = "cairn.model.version";
    public const string ProtocolTag = "cairn.scoring.protocol";
    public const string OutputTag = "cairn.model.output";
    public const string DeploymentTag = "cairn.deployment";

    /// <summary>A request's values recorded in the prediction histogram at most: evenly spaced rows of a larger batch.</summary>
    public const int MaxValuesPerRequest = 256;

    public static readonly Counter<long> Requests = CairnTelemetry.Meter.CreateCounter<long>(
        "cairn.scoring.requests", "{request}", "Scoring requests answered, by model, version, protocol and HTTP status.");

    public static readonly Counter<long> Errors = CairnTelemetry.Meter.CreateCounter<long>(
        "cairn.scoring.errors", "{request}", "Scoring requests that failed: bad input (4xx) or a failure of the model or server (5xx).");

    public static readonly Histogram<double> Duration = CairnTelemetry.Meter.CreateHistogram<double>(
        "cairn.scoring.request.duration", "s", "Time from reading a scoring request's body to writing its answer.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    public static readonly Histogram<int> BatchSize = CairnTelemetry.Meter.CreateHistogram<int>(
        "cairn.scoring.batch.size", "{row}", "Rows per scoring request.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536] });

    public static readonly Histogram<double> PredictionValues = CairnTelemetry.Meter.CreateHistogram<double>(
        "cairn.scoring.prediction.value", "1", "Values the model answered, per numeric output (a sample of at most 256 rows per request).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [-10, -5, -2, -1, -0.5, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 2, 5, 10, 100] });

    public static readonly Counter<long> ShadowFailures = CairnTelemetry.Meter.CreateCounter<long>(
        "cairn.scoring.shadow.failures", "{request}", "Shadow scorings of a deployment that failed (logged; callers never see them), by deployment, model and version.");

    public static readonly Counter<long> ShadowsSkipped = CairnTelemetry.Meter.CreateCounter<long>(
        "cairn.scoring.shadow.skipped", "{request}", "Shadow scorings skipped because every shadow slot was busy, by deployment.");

    public static readonly Counter<long> InvalidInputs = CairnTelemetry.Meter.CreateCounter<long>(
        "cairn.scoring.invalid_inputs", "{request}", "Scoring requests whose input failed the serving suite (--validate), by deployment, model, version and action (reject or flag).");

    public static TagList InvalidTags(ServedModel model, string deployment, string action) => new()
    {
        { DeploymentTag, deployment },
        { ModelTag, model.Name },
        { VersionTag, model.Version ?? "" },
        { "cairn.validation.action", action },
    };

    public static TagList Tags(ServedModel model, string deployment, string protocol, int status) => new()
    {
        { DeploymentTag, deployment },
        { ModelTag, model.Name },
        { VersionTag, model.Version ?? "" },
        { ProtocolTag, protocol },
        { "http.response.status_code", status },
    };

    /// <summary>Records a scored batch: its size and (a sample of) every numeric scalar output's values.</summary>
    public static void RecordBatch(ServedModel model, string deployment, ColumnBatch outputs, int rows)
    {
        var tags = new TagList { { DeploymentTag, deployment }, { ModelTag, model.Name }, { VersionTag, model.Version ?? "" } };
        BatchSize.Record(rows, tags);
        if (!PredictionValues.Enabled || rows == 0) return;
        var step = Math.Max(1, rows / MaxValuesPerRequest);
        foreach (var (name, column) in outputs)
        {
            var valueTags = new TagList { { DeploymentTag, deployment }, { ModelTag, model.Name }, { VersionTag, model.Version ?? "" }, { OutputTag, name } };
            switch (column)
            {
                case float[] f:
                    for (var r = 0; r < f.Length; r += step)
                        if (float.IsFinite(f[r])) PredictionValues.Record(f[r], valueTags);
                    break;
                case double[] d:
                    for (var r = 0; r < d.Length; r += step)
                        if (double.IsFinite(d[r])) PredictionValues.Record(d[r], valueTags);
                    break;
                case bool[] b:
                    for (var r = 0; r < b.Length; r += step) PredictionValues.Record(b[r] ? 1 : 0, valueTags);
                    break;
                case long[] l:
                    for (var r = 0; r < l.Length; r += step) PredictionValues.Record(l[r], valueTags);
                    break;
            }
        }
    }
}

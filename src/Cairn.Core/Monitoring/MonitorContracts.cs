using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Monitoring;

/// <summary>A statistic and its p-value on the wire.</summary>
internal sealed class TestStatisticMessage
{
    public double? Statistic { get; set; }

    public double? PValue { get; set; }
}

/// <summary>A feature's picture on the wire.</summary>
internal sealed class HistogramMessage
{
    public List<string>? Labels { get; set; }

    public List<double>? Reference { get; set; }

    public List<double>? Current { get; set; }
}

/// <summary>One feature's drift as <c>cairn drift --json</c> writes it, plus its picture.</summary>
internal sealed class FeatureDriftMessage
{
    public string Name { get; set; } = "";

    public string Type { get; set; } = "numeric";

    public int NRef { get; set; }

    public int NCur { get; set; }

    public int MissingRef { get; set; }

    public int MissingCur { get; set; }

    public TestStatisticMessage? Ks { get; set; }

    public double? Wasserstein { get; set; }

    public double? WassersteinNormalized { get; set; }

    public double? Psi { get; set; }

    public double? Js { get; set; }

    public TestStatisticMessage? Chi2 { get; set; }

    public int? UnseenCategories { get; set; }

    public int? UnseenRows { get; set; }

    public string Method { get; set; } = "psi";

    public double Threshold { get; set; }

    public double? Score { get; set; }

    public bool Drifted { get; set; }

    public string? Note { get; set; }

    public HistogramMessage? Histogram { get; set; }
}

/// <summary>The input drift of a window on the wire.</summary>
internal sealed class DriftReportMessage
{
    public List<FeatureDriftMessage>? Features { get; set; }

    public double DriftShare { get; set; }

    public double DriftShareThreshold { get; set; }

    public bool DatasetDrift { get; set; }
}

/// <summary>A monitoring window as <c>/api/cairn/v1/monitoring/...</c> answers it (and as the database stores it).</summary>
internal sealed class MonitorWindowMessage
{
    public long WindowId { get; set; }

    public string Deployment { get; set; } = "";

    public string? ModelName { get; set; }

    public string? ModelVersion { get; set; }

    public bool Shadow { get; set; }

    public string? Reference { get; set; }

    public long StartTime { get; set; }

    public long EndTime { get; set; }

    public long Rows { get; set; }

    public DriftReportMessage? InputDrift { get; set; }

    public FeatureDriftMessage? PredictionDrift { get; set; }

    public long LabeledRows { get; set; }

    public Dictionary<string, double>? Performance { get; set; }

    public Dictionary<string, double>? TrainingPerformance { get; set; }

    public long PredictionLogDrops { get; set; }

    public long EvaluatedTime { get; set; }
}

internal sealed class MonitorWindowResponse
{
    public MonitorWindowMessage? Window { get; set; }
}

internal sealed class MonitorWindowsResponse
{
    public List<MonitorWindowMessage>? Windows { get; set; }

    public string? NextPageToken { get; set; }
}

/// <summary>The body of POST <c>/api/cairn/v1/monitoring/deployments/{name}/windows/run</c>: a time range, or a row count.</summary>
internal sealed class RunWindowRequest
{
    /// <summary>Unix milliseconds or ISO 8601.</summary>
    public JsonElement? Start { get; set; }

    public JsonElement? End { get; set; }

    public int? Rows { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(MonitorWindowMessage))]
[JsonSerializable(typeof(MonitorWindowResponse))]
[JsonSerializable(typeof(MonitorWindowsResponse))]
[JsonSerializable(typeof(RunWindowRequest))]
internal sealed partial class MonitorJson : JsonSerializerContext;

/// <summary>Domain to wire and back; numbers that are not finite travel as null.</summary>
internal static class MonitorWire
{
    public static MonitorWindowMessage ToWire(this MonitorWindow w) => new()
    {
        WindowId = w.Id,
        Deployment = w.Deployment,
        ModelName = w.ModelName,
        ModelVersion = w.ModelVersion,
        Shadow = w.Shadow,
        Reference = w.Reference,
        StartTime = w.Start.ToUnixTimeMilliseconds(),
        EndTime = w.End.ToUnixTimeMilliseconds(),
        Rows = w.Rows,
        InputDrift = w.InputDrift is { } d
            ? new DriftReportMessage { Features = d.Features.Select(ToWire).ToList(), DriftShare = d.DriftShare, DriftShareThreshold = d.DriftShareThreshold, DatasetDrift = d.DatasetDrift }
            : null,
        PredictionDrift = w.PredictionDrift?.ToWire(),
        LabeledRows = w.LabeledRows,
        Performance = Finite(w.Performance),
        TrainingPerformance = Finite(w.TrainingPerformance),
        PredictionLogDrops = w.PredictionLogDrops,
        EvaluatedTime = w.EvaluatedAt.ToUnixTimeMilliseconds(),
    };

    public static MonitorWindow ToDomain(this MonitorWindowMessage m) => new()
    {
        Id = m.WindowId,
        Deployment = m.Deployment,
        ModelName = m.ModelName,
        ModelVersion = m.ModelVersion,
        Shadow = m.Shadow,
        Reference = m.Reference,
        Start = DateTimeOffset.FromUnixTimeMilliseconds(m.StartTime),
        End = DateTimeOffset.FromUnixTimeMilliseconds(m.EndTime),
        Rows = m.Rows,
        InputDrift = m.InputDrift is { } d
            ? new DriftReport((d.Features ?? []).Select(ToDomain).ToList(), d.DriftShare, d.DriftShareThreshold, d.DatasetDrift)
            : null,
        PredictionDrift = m.PredictionDrift?.ToDomain(),
        LabeledRows = m.LabeledRows,
        Performance = m.Performance ?? [],
        TrainingPerformance = m.TrainingPerformance ?? [],
        PredictionLogDrops = m.PredictionLogDrops,
        EvaluatedAt = DateTimeOffset.FromUnixTimeMilliseconds(m.EvaluatedTime),
    };

    public static FeatureDriftMessage ToWire(this FeatureDrift f) => new()
    {
        Name = f.Name,
        Type = f.Type == FeatureType.Numeric ? "numeric" : "categorical",
        NRef = f.ReferenceCount,
        NCur = f.CurrentCount,
        MissingRef = f.ReferenceMissing,
        MissingCur = f.CurrentMissing,
        Ks = Test(f.Ks),
        Wasserstein = Finite(f.Wasserstein),
        WassersteinNormalized = Finite(f.WassersteinNormalized),
        Psi = Finite(f.Psi),
        Js = Finite(f.Js),
        Chi2 = Test(f.Chi2),
        UnseenCategories = f.Type == FeatureType.Categorical ? f.UnseenCategories : null,
        UnseenRows = f.Type == FeatureType.Categorical ? f.UnseenRows : null,
        Method = DriftOptions.NameOf(f.Method),
        Threshold = f.Threshold,
        Score = Finite(f.Score),
        Drifted = f.Drifted,
        Note = f.Note,
        Histogram = f.Histogram is { } h
            ? new HistogramMessage { Labels = h.Labels.ToList(), Reference = h.Reference.Select(Zero).ToList(), Current = h.Current.Select(Zero).ToList() }
            : null,
    };

    public static FeatureDrift ToDomain(this FeatureDriftMessage m) => new()
    {
        Name = m.Name,
        Type = m.Type == "categorical" ? FeatureType.Categorical : FeatureType.Numeric,
        ReferenceCount = m.NRef,
        CurrentCount = m.NCur,
        ReferenceMissing = m.MissingRef,
        CurrentMissing = m.MissingCur,
        Ks = Test(m.Ks),
        Wasserstein = m.Wasserstein,
        WassersteinNormalized = m.WassersteinNormalized,
        Psi = m.Psi,
        Js = m.Js,
        Chi2 = Test(m.Chi2),
        UnseenCategories = m.UnseenCategories ?? 0,
        UnseenRows = m.UnseenRows ?? 0,
        Method = DriftOptions.ParseMethod(m.Method, "method"),
        Threshold = m.Threshold,
        Score = m.Score,
        Drifted = m.Drifted,
        Note = m.Note,
        Histogram = m.Histogram is { } h ? new Histogram(h.Labels ?? [], h.Reference ?? [], h.Current ?? []) : null,
    };

    private static TestStatisticMessage? Test(TestStatistic? t) => t is { } v ? new TestStatisticMessage { Statistic = Finite(v.Statistic), PValue = Finite(v.PValue) } : null;

    private static TestStatistic? Test(TestStatisticMessage? m) => m is null ? null : new TestStatistic(m.Statistic ?? double.NaN, m.PValue ?? double.NaN);

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    private static double Zero(double value) => double.IsFinite(value) ? value : 0;

    private static Dictionary<string, double> Finite(IReadOnlyDictionary<string, double> values) =>
        values.Where(kv => double.IsFinite(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
}

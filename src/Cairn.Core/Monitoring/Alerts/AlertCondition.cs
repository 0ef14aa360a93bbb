using System.Globalization;

namespace Cairn.Monitoring.Alerts;

/// <summary>A comparison operator of an alert condition.</summary>
internal enum CompareOp { Greater, GreaterOrEqual, Less, LessOrEqual, Equal, NotEqual }

/// <summary>Which number of a window a signal reads.</summary>
internal enum SignalKind
{
    /// <summary><c>drift.share</c>: the share of drifted input features.</summary>
    DriftShare,
    /// <summary><c>drift.dataset</c>: 1 when the dataset drifted, else 0.</summary>
    DatasetDrift,
    /// <summary>A statistic of one input feature: <c>psi(feature=tenure)</c>.</summary>
    Feature,
    /// <summary>A statistic of the prediction's drift: <c>prediction.psi</c>.</summary>
    Prediction,
    /// <summary>A performance metric over the labelled rows: <c>accuracy</c>.</summary>
    Performance,
    /// <summary>The model's metric at training time: <c>training.accuracy</c>.</summary>
    TrainingPerformance,
    /// <summary><c>rows</c>: logged rows in the window.</summary>
    Rows,
    /// <summary><c>labeled_rows</c>: rows whose ground truth arrived.</summary>
    LabeledRows,
    /// <summary><c>prediction_log.drops</c>: batches the prediction log dropped.</summary>
    PredictionLogDrops,
}

/// <summary>A statistic of one feature's (or the prediction's) drift.</summary>
internal enum DriftStat { Psi, Js, Wasserstein, WassersteinNormalized, KsStatistic, KsPValue, Chi2Statistic, Chi2PValue, Score, Drifted }

/// <summary>One number read from a window, or null when the window does not have it (no reference, no labels yet).</summary>
internal sealed record AlertSignal(SignalKind Kind, string Text, DriftStat Stat = default, string? Feature = null, string? Metric = null)
{
    public double? Read(MonitorWindow window) => Kind switch
    {
        SignalKind.DriftShare => HasCompared(window.InputDrift) ? window.InputDrift!.DriftShare : null, // checked by HasCompared
        SignalKind.DatasetDrift => HasCompared(window.InputDrift) ? (window.InputDrift!.DatasetDrift ? 1 : 0) : null,
        SignalKind.Feature => window.InputDrift?.Features.FirstOrDefault(f => string.Equals(f.Name, Feature, StringComparison.Ordinal)) is { } f ? ReadStat(f, Stat) : null,
        SignalKind.Prediction => window.PredictionDrift is { } p ? ReadStat(p, Stat) : null,
        SignalKind.Performance => window.Performance.TryGetValue(Metric!, out var v) ? v : null,
        SignalKind.TrainingPerformance => window.TrainingPerformance.TryGetValue(Metric!, out var v) ? v : null,
        SignalKind.Rows => window.Rows,
        SignalKind.LabeledRows => window.LabeledRows,
        SignalKind.PredictionLogDrops => window.PredictionLogDrops,
        _ => null,
    };

    /// <summary>Whether the report compared any feature: the share counts only features with values on both sides.</summary>
    private static bool HasCompared(DriftReport? report) => report is not null && report.Features.Any(f => f.ReferenceCount > 0 && f.CurrentCount > 0);

    private static double? ReadStat(FeatureDrift f, DriftStat stat)
    {
        // A feature with no values on one side has null statistics and a note: nothing is known about it.
        if (f.ReferenceCount == 0 || f.CurrentCount == 0) return null;
        return stat switch
        {
            DriftStat.Psi => f.Psi,
            DriftStat.Js => f.Js,
            DriftStat.Wasserstein => f.Wasserstein,
            DriftStat.WassersteinNormalized => f.WassersteinNormalized,
            DriftStat.KsStatistic => f.Ks?.Statistic,
            DriftStat.KsPValue => f.Ks?.PValue,
            DriftStat.Chi2Statistic => f.Chi2?.Statistic,
            DriftStat.Chi2PValue => f.Chi2?.PValue,
            DriftStat.Score => f.Score,
            DriftStat.Drifted => f.Drifted ? 1 : 0,
            _ => null,
        };
    }
}

/// <summary>
/// A parsed alert condition. <see cref="Evaluate"/> is three-valued: true, false, or null when a signal it needs is absent
/// from the window (unknown), which neither opens nor resolves an incident.
/// </summary>
internal abstract record AlertCondition
{
    /// <summary>True, false, or null when unknown.</summary>
    public abstract bool? Evaluate(MonitorWindow window);

    /// <summary>The signals the condition reads, left to right.</summary>
    public abstract IEnumerable<AlertSignal> Signals { get; }

    /// <summary>The values of the condition's signals in <paramref name="window"/> (null when absent), by their text.</summary>
    public IReadOnlyDictionary<string, double?> Values(MonitorWindow window)
    {
        var values = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var s in Signals) values[s.Text] = s.Read(window);
        return values;
    }
}

/// <summary><c>signal op threshold</c>.</summary>
internal sealed record Comparison(AlertSignal Signal, CompareOp Op, double Threshold) : AlertCondition
{
    public override bool? Evaluate(MonitorWindow window)
    {
        if (Signal.Read(window) is not { } v || double.IsNaN(v)) return null;
        return Op switch
        {
            CompareOp.Greater => v > Threshold,
            CompareOp.GreaterOrEqual => v >= Threshold,
            CompareOp.Less => v < Threshold,
            CompareOp.LessOrEqual => v <= Threshold,
            CompareOp.Equal => v == Threshold,
            _ => v != Threshold,
        };
    }

    public override IEnumerable<AlertSignal> Signals => [Signal];

    public override string ToString() => $"{Signal.Text} {OpText(Op)} {Threshold.ToString("R", CultureInfo.InvariantCulture)}";

    public static string OpText(CompareOp op) => op switch
    {
        CompareOp.Greater => ">",
        CompareOp.GreaterOrEqual => ">=",
        CompareOp.Less => "<",
        CompareOp.LessOrEqual => "<=",
        CompareOp.Equal => "==",
        _ => "!=",
    };
}

/// <summary><c>left and right</c> (Kleene's logic: false wins over unknown).</summary>
internal sealed record AndCondition(AlertCondition Left, AlertCondition Right) : AlertCondition
{
    public override bool? Evaluate(MonitorWindow window)
    {
        var l = Left.Evaluate(window);
        var r = Right.Evaluate(window);
        if (l == false || r == false) return false;
        return l is null || r is null ? null : true;
    }

    public override IEnumerable<AlertSignal> Signals => Left.Signals.Concat(Right.Signals);
}

/// <summary><c>left or right</c> (Kleene's logic: true wins over unknown).</summary>
internal sealed record OrCondition(AlertCondition Left, AlertCondition Right) : AlertCondition
{
    public override bool? Evaluate(MonitorWindow window)
    {
        var l = Left.Evaluate(window);
        var r = Right.Evaluate(window);
        if (l == true || r == true) return true;
        return l is null || r is null ? null : false;
    }

    public override IEnumerable<AlertSignal> Signals => Left.Signals.Concat(Right.Signals);
}

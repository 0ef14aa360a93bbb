namespace Cairn.Monitoring;

/// <summary>How one deployment's windows are judged: the drift rules, which columns are the prediction and the label, and bounds.</summary>
public sealed class MonitorSettings
{
    /// <summary>The most logged rows one window may hold (a longer window is refused: ask for a shorter one).</summary>
    public const int MaxWindowRows = 1_000_000;

    /// <summary>The drift methods, thresholds and dataset rule.</summary>
    public DriftOptions Drift { get; init; } = new();

    /// <summary>The output column whose distribution is compared with the reference's label; null picks <c>PredictedLabel</c>, or <c>Score</c> for a regressor.</summary>
    public string? PredictionColumn { get; init; }

    /// <summary>The reference's label column; null takes the one the model package names (<c>cairn_label</c>).</summary>
    public string? LabelColumn { get; init; }

    /// <summary>Input columns compared per window, in logged order (the rest are left out and counted).</summary>
    public int MaxFeatures { get; init; } = 200;
}

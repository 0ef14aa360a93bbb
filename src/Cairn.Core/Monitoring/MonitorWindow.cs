namespace Cairn.Monitoring;

/// <summary>
/// What one monitoring window of a deployment found: its rows, the drift of its inputs and predictions against the
/// reference, its performance once ground truth arrived, and the prediction log's health when it was evaluated. The monitor
/// produces one per deployment (and model version) and window, on demand or on its schedule; it is stored, served over REST,
/// exported as gauges and handed to every <see cref="IMonitorWindowObserver"/> (the alert rules).
/// </summary>
public sealed record MonitorWindow
{
    /// <summary>The stored window's id (assigned when it is stored; 0 before).</summary>
    public long Id { get; init; }

    /// <summary>The deployment whose logged rows were read.</summary>
    public required string Deployment { get; init; }

    /// <summary>The registered model that answered, or null when the window spans every model of the deployment.</summary>
    public string? ModelName { get; init; }

    /// <summary>The model version that answered, or null when the window spans every version.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>True when the window holds a shadow route's answers (monitored as their own model version).</summary>
    public bool Shadow { get; init; }

    /// <summary>What the inputs were compared with (a file name, or <c>models:/name/version</c> for a package's reference sample); null without a reference.</summary>
    public string? Reference { get; init; }

    /// <summary>The window's first instant (inclusive), by prediction time.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>The window's end (exclusive).</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Logged rows in the window (primary routes only; shadows are monitored as their own model version).</summary>
    public required long Rows { get; init; }

    /// <summary>Drift of the input columns against the reference; null when there is no reference or the window is empty.</summary>
    public DriftReport? InputDrift { get; init; }

    /// <summary>Drift of the prediction (the label, or the score of a regressor) against the reference's target; null when unknown.</summary>
    public FeatureDrift? PredictionDrift { get; init; }

    /// <summary>Rows of the window whose ground truth has arrived.</summary>
    public long LabeledRows { get; init; }

    /// <summary>
    /// Performance over the labelled rows by the names of Cairn's metrics module (<c>accuracy</c>, <c>precision</c>,
    /// <c>recall</c>, <c>f1</c>, <c>auc</c>; <c>rmse</c>, <c>mae</c>, <c>r2</c>); empty until labels arrive.
    /// </summary>
    public IReadOnlyDictionary<string, double> Performance { get; init; } = new Dictionary<string, double>();

    /// <summary>The model's evaluation metrics at training time (from its run), by the same names, for comparison.</summary>
    public IReadOnlyDictionary<string, double> TrainingPerformance { get; init; } = new Dictionary<string, double>();

    /// <summary>Batches the prediction log dropped (queue full) since the server started, read when the window was evaluated.</summary>
    public long PredictionLogDrops { get; init; }

    /// <summary>When the window was evaluated.</summary>
    public required DateTimeOffset EvaluatedAt { get; init; }
}

/// <summary>Hears every evaluated monitoring window, in window order per deployment (the alert rules are one).</summary>
public interface IMonitorWindowObserver
{
    /// <summary>Called once per evaluated window; an exception is logged by the monitor and never stops it.</summary>
    ValueTask OnWindowAsync(MonitorWindow window, CancellationToken cancellationToken);
}

/// <summary>
/// Draws a stored window as a self-contained HTML page (plots embedded), with the over-time plots drawn from
/// <c>history</c>: the deployment's stored windows of the same model version. The server serves the page when its host
/// registers one (<c>cairn server</c> registers the training side's, which holds the plotting library).
/// </summary>
public interface IMonitorReportRenderer
{
    /// <summary>The page's HTML.</summary>
    string Render(MonitorWindow window, IReadOnlyList<MonitorWindow> history);
}

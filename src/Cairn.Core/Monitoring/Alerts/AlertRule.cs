namespace Cairn.Monitoring.Alerts;

/// <summary>
/// One alert rule: a condition over each monitoring window of the deployments it watches, the consecutive windows it must
/// hold before an incident opens (<see cref="ForWindows"/>), the consecutive false windows that resolve it
/// (<see cref="ResolveAfter"/>), and what to do when an incident opens.
/// </summary>
internal sealed record AlertRule(string Name, string? Deployment, string ConditionText, AlertCondition Condition, int ForWindows, int ResolveAfter,
    IReadOnlyList<AlertAction> Actions)
{
    /// <summary>Whether the rule watches windows of <paramref name="deployment"/>.</summary>
    public bool Watches(string deployment) => Deployment is null || string.Equals(Deployment, deployment, StringComparison.Ordinal);
}

/// <summary>What an alert does when an incident opens.</summary>
internal abstract class AlertAction
{
    /// <summary>The action's name in the rules file: log, webhook, retrain.</summary>
    public abstract string Kind { get; }
}

/// <summary>Writes one structured log line (warning) per incident.</summary>
internal sealed class LogAlertAction : AlertAction
{
    public override string Kind => "log";
}

/// <summary>
/// POSTs the incident as JSON to <see cref="Url"/>, with <see cref="SecretHeader"/> set to <see cref="Secret"/> when given.
/// <see cref="ToString"/> never shows the secret.
/// </summary>
internal sealed class WebhookAlertAction(Uri url, string? secretHeader, string? secret, TimeSpan timeout, int retries, TimeSpan backoff) : AlertAction
{
    public override string Kind => "webhook";

    public Uri Url { get; } = url;

    public string? SecretHeader { get; } = secretHeader;

    public string? Secret { get; } = secret;

    /// <summary>How long one attempt may take.</summary>
    public TimeSpan Timeout { get; } = timeout;

    /// <summary>Attempts after the first one failed (a 5xx, 408, 429, a timeout or a network error; a 4xx is not retried).</summary>
    public int Retries { get; } = retries;

    /// <summary>The wait before the first retry, doubled before each next one.</summary>
    public TimeSpan Backoff { get; } = backoff;

    public override string ToString() => $"webhook {Url.GetLeftPart(UriPartial.Path)}{(SecretHeader is null ? "" : $" ({SecretHeader}: ***)")}";
}

/// <summary>
/// Runs stage <see cref="Stage"/> (and what it depends on) of the pipeline (<c>cairn.yaml</c>) in <see cref="Folder"/>, as
/// <c>cairn repro STAGE</c> does; the stage's command trains and registers the new model version (e.g.
/// <c>cairn train --recipe recipe.yaml --register churn</c>), and the registry's gate rules decide its promotion.
/// </summary>
internal sealed class RetrainAlertAction(string folder, string stage, bool force) : AlertAction
{
    public override string Kind => "retrain";

    /// <summary>The pipeline's folder (absolute).</summary>
    public string Folder { get; } = folder;

    /// <summary>The stage to run.</summary>
    public string Stage { get; } = stage;

    /// <summary>Run the stage even when its inputs did not change (the newest data may come from the stage itself).</summary>
    public bool Force { get; } = force;
}

using Cairn.Storage;
using Microsoft.Extensions.Logging;

namespace Cairn.Monitoring.Alerts;

/// <summary>
/// Runs a rule's actions when an incident opens, without holding up the monitor: the log line is written at once, webhooks
/// go to a bounded queue that <see cref="WebhookSender"/> drains, and a retrain starts in the background
/// (<see cref="RetrainLauncher"/>, one at a time per rule). Outcomes are recorded on the incident.
/// </summary>
internal sealed class AlertActions : IAsyncDisposable
{
    private readonly ILogger _logger;

    public AlertActions(SqlAlertStore store, ILogger logger, WebhookSender? webhooks = null, RetrainLauncher? retrains = null)
    {
        _logger = logger;
        Webhooks = webhooks ?? new WebhookSender(store, logger);
        Retrains = retrains ?? new RetrainLauncher(store, logger);
    }

    public WebhookSender Webhooks { get; }

    public RetrainLauncher Retrains { get; }

    /// <summary>Starts every action of <paramref name="rule"/> for the incident that just opened.</summary>
    public void Fire(AlertRule rule, AlertIncident incident)
    {
        foreach (var action in rule.Actions)
        {
            switch (action)
            {
                case LogAlertAction:
                    AlertLog.Fired(_logger, rule.Name, incident.Deployment,
                        incident.ModelName is null ? "every model version" : $"model {incident.ModelName} version {incident.ModelVersion}", incident.Condition,
                        incident.WindowStart, incident.WindowEnd, incident.Id, AlertEngine.Describe(incident.Values));
                    break;
                case WebhookAlertAction webhook:
                    Webhooks.Enqueue(rule, webhook, incident);
                    break;
                case RetrainAlertAction retrain:
                    Retrains.Start(rule, retrain, incident);
                    break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Webhooks.DisposeAsync().ConfigureAwait(false);
        await Retrains.DisposeAsync().ConfigureAwait(false);
    }
}

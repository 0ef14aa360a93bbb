using System.Globalization;
using Cairn.Client;

namespace Cairn.Monitoring.Alerts;

/// <summary>Reads alert incidents: from the database (<see cref="Storage.SqlAlertStore"/>) or a server (<see cref="HttpAlertIncidents"/>).</summary>
internal interface IAlertIncidentSource
{
    /// <summary>
    /// Incidents, open ones first, then the most recent resolved ones; of one deployment when <paramref name="deployment"/>
    /// is set, only open ones when <paramref name="openOnly"/>; at most <paramref name="maxResults"/> (1 to 1000).
    /// </summary>
    Task<IReadOnlyList<AlertIncident>> ListIncidentsAsync(string? deployment, bool openOnly, int maxResults, CancellationToken cancellationToken = default);
}

/// <summary>Alert incidents from a server's <c>GET /api/cairn/v1/monitoring/alerts</c>, through the shared transport.</summary>
internal sealed class HttpAlertIncidents(MlflowHttpTransport transport) : IAlertIncidentSource
{
    private const string Api = "api/cairn/v1/monitoring/alerts";

    public async Task<IReadOnlyList<AlertIncident>> ListIncidentsAsync(string? deployment, bool openOnly, int maxResults, CancellationToken cancellationToken = default)
    {
        if (maxResults < 1 || maxResults > Storage.SqlAlertStore.MaxResults)
            throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results': it must be from 1 to {Storage.SqlAlertStore.MaxResults}.");
        if (deployment is not null) Serving.DeploymentValidator.ValidateName(deployment);
        var query = $"{Api}?status={(openOnly ? "open" : "all")}&max_results={maxResults.ToString(CultureInfo.InvariantCulture)}" +
                    (deployment is null ? "" : "&deployment=" + Uri.EscapeDataString(deployment));
        var response = await transport.GetJsonAsync(query, AlertJson.Default.AlertIncidentsResponse, cancellationToken).ConfigureAwait(false);
        return (response.Incidents ?? []).Select(ToDomain).ToList();
    }

    private static AlertIncident ToDomain(AlertIncidentMessage m) => new()
    {
        Id = m.IncidentId,
        Rule = m.Rule,
        Deployment = m.Deployment,
        ModelName = m.ModelName,
        ModelVersion = m.ModelVersion,
        Condition = m.Condition,
        Status = m.Status,
        OpenedAt = DateTimeOffset.FromUnixTimeMilliseconds(m.OpenedTime),
        ResolvedAt = m.ResolvedTime is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
        WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(m.WindowStartTime),
        WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(m.WindowEndTime),
        LastWindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(m.LastWindowEndTime),
        Windows = m.Windows,
        Values = m.Values,
        WebhookStatus = m.WebhookStatus,
        RetrainStatus = m.RetrainStatus,
        RetrainRunId = m.RetrainRunId,
        RetrainMessage = m.RetrainMessage,
    };
}

using System.Globalization;
using Cairn.Client;

namespace Cairn.Monitoring;

/// <summary>
/// A server's monitoring windows over its REST API (<c>/api/cairn/v1/monitoring/deployments/{name}/windows</c>), through the
/// transport the other stores share (credentials, retries, MLflow's error bodies turned back into exceptions).
/// </summary>
internal sealed class HttpMonitorClient(MlflowHttpTransport transport)
{
    private static string Api(string deployment) => $"api/cairn/v1/monitoring/deployments/{Uri.EscapeDataString(deployment)}/windows";

    /// <summary>One page of stored windows, newest first; <paramref name="modelVersion"/> <c>all</c> keeps the deployment-wide ones.</summary>
    public async Task<(IReadOnlyList<MonitorWindow> Windows, string? NextPageToken)> ListAsync(string deployment, DateTimeOffset? start, DateTimeOffset? end,
        string? modelVersion, int maxResults, string? pageToken, CancellationToken cancellationToken = default)
    {
        var query = new List<string> { "max_results=" + maxResults.ToString(CultureInfo.InvariantCulture) };
        if (start is { } s) query.Add("start=" + s.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        if (end is { } e) query.Add("end=" + e.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        if (modelVersion is not null) query.Add("model_version=" + Uri.EscapeDataString(modelVersion));
        if (pageToken is not null) query.Add("page_token=" + Uri.EscapeDataString(pageToken));
        var answer = await transport.GetJsonAsync(Api(deployment) + "?" + string.Join('&', query), MonitorJson.Default.MonitorWindowsResponse, cancellationToken)
            .ConfigureAwait(false);
        return ((answer.Windows ?? []).Select(w => w.ToDomain()).ToList(), answer.NextPageToken);
    }

    /// <summary>Every stored window of the deployment (newest first), page by page, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<MonitorWindow>> ListAllAsync(string deployment, string? modelVersion, int limit, CancellationToken cancellationToken = default)
    {
        var all = new List<MonitorWindow>();
        string? token = null;
        do
        {
            var (page, next) = await ListAsync(deployment, null, null, modelVersion, Math.Min(1000, limit - all.Count), token, cancellationToken).ConfigureAwait(false);
            all.AddRange(page);
            token = next;
        } while (token is not null && all.Count < limit);
        return all;
    }

    public async Task<MonitorWindow> GetAsync(string deployment, long windowId, CancellationToken cancellationToken = default) =>
        (await transport.GetJsonAsync(Api(deployment) + "/" + windowId.ToString(CultureInfo.InvariantCulture), MonitorJson.Default.MonitorWindowResponse,
            cancellationToken).ConfigureAwait(false)).Window?.ToDomain()
        ?? throw new ResourceDoesNotExistException($"No monitoring window {windowId} in deployment {deployment}.");

    /// <summary>Runs a window now: [start, end), or the next <paramref name="rows"/> rows after the newest window.</summary>
    public async Task<IReadOnlyList<MonitorWindow>> RunAsync(string deployment, DateTimeOffset? start, DateTimeOffset? end, int? rows, CancellationToken cancellationToken = default)
    {
        var body = new RunWindowRequest
        {
            Start = start is { } s ? Number(s.ToUnixTimeMilliseconds()) : null,
            End = end is { } e ? Number(e.ToUnixTimeMilliseconds()) : null,
            Rows = rows,
        };
        // Not retried: each run stores windows, so a repeat after a lost answer would store them twice.
        var answer = await transport.SendJsonAsync(HttpMethod.Post, Api(deployment) + "/run", body, MonitorJson.Default.RunWindowRequest,
            MonitorJson.Default.MonitorWindowsResponse, idempotent: false, null, cancellationToken).ConfigureAwait(false);
        return (answer.Windows ?? []).Select(w => w.ToDomain()).ToList();
    }

    private static System.Text.Json.JsonElement Number(long value)
    {
        using var document = System.Text.Json.JsonDocument.Parse(value.ToString(CultureInfo.InvariantCulture));
        return document.RootElement.Clone();
    }
}

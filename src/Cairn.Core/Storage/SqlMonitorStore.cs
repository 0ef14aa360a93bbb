using System.Globalization;
using System.Text.Json;
using Cairn.Monitoring;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// Stored monitoring windows (migration 9, <c>monitor_windows</c>): one row per window with the columns lists filter on and the
/// whole window as JSON (the REST API's shape). Bounded: each insert keeps at most a given number of windows per deployment,
/// deleting the oldest.
/// </summary>
internal sealed class SqlMonitorStore(SqlDatabase database)
{
    /// <summary>The most windows one list page may hold.</summary>
    public const int MaxPageSize = 1000;

    private sealed class WindowRow
    {
        public long WindowId { get; set; }
        public string Result { get; set; } = "";
    }

    /// <summary>
    /// Stores the windows in one transaction and returns them with their ids; then deletes the oldest windows of their
    /// deployment beyond <paramref name="maxPerDeployment"/>.
    /// </summary>
    public Task<IReadOnlyList<MonitorWindow>> AddAsync(IReadOnlyList<MonitorWindow> windows, int maxPerDeployment, CancellationToken cancellationToken = default)
    {
        if (maxPerDeployment < 1) throw new InvalidParameterValueException($"The monitor's max windows per deployment must be at least 1; it was {maxPerDeployment}.");
        return database.WriteAsync<IReadOnlyList<MonitorWindow>>(async (c, tx) =>
        {
            var stored = new List<MonitorWindow>();
            foreach (var window in windows)
            {
                var json = JsonSerializer.Serialize(window.ToWire(), MonitorJson.Default.MonitorWindowMessage);
                var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                    """
                    INSERT INTO monitor_windows (deployment, model_name, model_version, shadow, start_ms, end_ms, row_count, labeled_rows, drift_share,
                        dataset_drift, evaluated_ms, result)
                    VALUES (@deployment, @modelName, @modelVersion, @shadow, @start, @end, @rows, @labeled, @share, @drift, @evaluated, @result)
                    RETURNING window_id
                    """,
                    new
                    {
                        deployment = window.Deployment, modelName = window.ModelName, modelVersion = window.ModelVersion, shadow = window.Shadow ? 1 : 0,
                        start = window.Start.ToUnixTimeMilliseconds(), end = window.End.ToUnixTimeMilliseconds(), rows = window.Rows,
                        labeled = window.LabeledRows, share = window.InputDrift?.DriftShare, drift = window.InputDrift is { } d ? (d.DatasetDrift ? 1 : 0) : (int?)null,
                        evaluated = window.EvaluatedAt.ToUnixTimeMilliseconds(), result = json,
                    }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                stored.Add(window with { Id = id });
            }
            foreach (var deployment in windows.Select(w => w.Deployment).Distinct(StringComparer.Ordinal))
                await c.ExecuteAsync(new CommandDefinition(
                    """
                    DELETE FROM monitor_windows WHERE deployment = @deployment AND window_id NOT IN
                        (SELECT window_id FROM monitor_windows WHERE deployment = @deployment ORDER BY window_id DESC LIMIT @max)
                    """, new { deployment, max = maxPerDeployment }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return stored;
        }, cancellationToken);
    }

    /// <summary>A stored window of the deployment; RESOURCE_DOES_NOT_EXIST when there is none with that id.</summary>
    public async Task<MonitorWindow> GetAsync(string deployment, long windowId, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QueryFirstOrDefaultAsync<WindowRow>(new CommandDefinition(
            "SELECT window_id AS WindowId, result AS Result FROM monitor_windows WHERE deployment = @deployment AND window_id = @windowId",
            new { deployment, windowId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null
            ? throw new ResourceDoesNotExistException(string.Create(CultureInfo.InvariantCulture, $"No monitoring window {windowId} in deployment {deployment}."))
            : Read(row);
    }

    /// <summary>
    /// The deployment's windows starting in [<paramref name="from"/>, <paramref name="to"/>), newest first, at most
    /// <paramref name="maxResults"/> a page; <paramref name="modelVersion"/> <c>""</c> keeps only the deployment-wide windows.
    /// </summary>
    public async Task<(IReadOnlyList<MonitorWindow> Windows, string? NextPageToken)> ListAsync(string deployment, DateTimeOffset? from, DateTimeOffset? to,
        string? modelVersion, int maxResults, string? pageToken, CancellationToken cancellationToken = default)
    {
        if (maxResults is < 1 or > MaxPageSize)
            throw new InvalidParameterValueException($"Invalid value '{maxResults}' for 'max_results': it must be between 1 and {MaxPageSize}.");
        var fromMs = from?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var toMs = to?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        var fingerprint = $"monitor\u0001{deployment}\u0001{fromMs}\u0001{toMs}\u0001{modelVersion}";
        var offset = PageToken.Decode(pageToken, fingerprint);
        var versionFilter = modelVersion switch
        {
            null => "",
            "" => "AND model_version IS NULL AND shadow = 0",
            _ => "AND model_version = @modelVersion",
        };
        await using var c = await database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<WindowRow>(new CommandDefinition(
            $"""
            SELECT window_id AS WindowId, result AS Result FROM monitor_windows
            WHERE deployment = @deployment AND start_ms >= @fromMs AND start_ms < @toMs {versionFilter}
            ORDER BY start_ms DESC, window_id DESC LIMIT @limit OFFSET @offset
            """,
            new { deployment, fromMs, toMs, modelVersion, limit = maxResults + 1, offset }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
        var token = PageToken.TrimToPage(rows, maxResults, offset, fingerprint);
        return (rows.Select(Read).ToList(), token);
    }

    /// <summary>The end of the newest deployment-wide window, or null (where a schedule resumes).</summary>
    public async Task<DateTimeOffset?> LastEndAsync(string deployment, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var end = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT MAX(end_ms) FROM monitor_windows WHERE deployment = @deployment AND model_version IS NULL AND shadow = 0",
            new { deployment }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return end is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    private static MonitorWindow Read(WindowRow row) =>
        (JsonSerializer.Deserialize(row.Result, MonitorJson.Default.MonitorWindowMessage)
            ?? throw new InvalidOperationException($"Monitoring window {row.WindowId} is stored without a result.")).ToDomain() with { Id = row.WindowId };
}

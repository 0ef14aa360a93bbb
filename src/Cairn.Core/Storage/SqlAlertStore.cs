using System.Data.Common;
using System.Text.Json;
using Cairn.Monitoring.Alerts;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// Alert rules' state and incidents over SQL (tables <c>alert_states</c> and <c>alert_incidents</c>, migration 10), on the
/// shared <see cref="SqlDatabase"/>. A window's outcome for one rule (the state, and the incident it opens, continues or
/// resolves) is written in one transaction, so a restart finds an open incident open and never opens it twice. Resolved
/// incidents beyond <c>keepResolved</c> (default <see cref="DefaultKeepResolved"/>) are deleted, oldest first.
/// </summary>
internal sealed class SqlAlertStore(SqlDatabase database, int keepResolved = SqlAlertStore.DefaultKeepResolved) : IAlertIncidentSource
{
    /// <summary>Resolved incidents kept by default; older ones are deleted as new ones resolve.</summary>
    public const int DefaultKeepResolved = 5000;

    /// <summary>The most incidents one list returns.</summary>
    public const int MaxResults = 1000;

    /// <summary>The most state rows loaded at start (rules x deployments x versions).</summary>
    public const int MaxStates = 100_000;

    // Rows are classes with setters, not positional records: PostgreSQL answers int4 for the INTEGER columns and SQLite Int64
    // (or, for an empty result, no type at all), and Dapper converts only when it sets properties.
    private sealed class StateRow
    {
        public string Rule { get; set; } = "";
        public string Deployment { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public long TrueStreak { get; set; }
        public long FalseStreak { get; set; }
        public long? IncidentId { get; set; }
        public long LastWindowEndMs { get; set; }
    }

    private sealed class IncidentRow
    {
        public long IncidentId { get; set; }
        public string Rule { get; set; } = "";
        public string Deployment { get; set; } = "";
        public string? ModelName { get; set; }
        public string? ModelVersion { get; set; }
        public string ConditionText { get; set; } = "";
        public string Status { get; set; } = "";
        public long OpenedMs { get; set; }
        public long? ResolvedMs { get; set; }
        public long WindowStartMs { get; set; }
        public long WindowEndMs { get; set; }
        public long LastWindowEndMs { get; set; }
        public long WindowCount { get; set; }
        public string OpeningValues { get; set; } = "{}";
        public string? WebhookStatus { get; set; }
        public string? RetrainStatus { get; set; }
        public string? RetrainRunId { get; set; }
        public string? RetrainMessage { get; set; }
    }

    private const string IncidentColumns =
        "incident_id AS IncidentId, rule AS Rule, deployment AS Deployment, model_name AS ModelName, model_version AS ModelVersion, " +
        "condition_text AS ConditionText, status AS Status, opened_ms AS OpenedMs, resolved_ms AS ResolvedMs, window_start_ms AS WindowStartMs, " +
        "window_end_ms AS WindowEndMs, last_window_end_ms AS LastWindowEndMs, window_count AS WindowCount, opening_values AS OpeningValues, " +
        "webhook_status AS WebhookStatus, retrain_status AS RetrainStatus, retrain_run_id AS RetrainRunId, retrain_message AS RetrainMessage";

    public SqlDatabase Database { get; } = database;

    /// <summary>Every rule's state, as the last window left it.</summary>
    public async Task<IReadOnlyList<AlertState>> LoadStatesAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<StateRow>(new CommandDefinition(
            "SELECT rule AS Rule, deployment AS Deployment, model_name AS ModelName, model_version AS ModelVersion, true_streak AS TrueStreak, " +
            $"false_streak AS FalseStreak, incident_id AS IncidentId, last_window_end_ms AS LastWindowEndMs FROM alert_states LIMIT {MaxStates}",
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new AlertState(r.Rule, r.Deployment, r.ModelName, r.ModelVersion)
        {
            TrueStreak = (int)r.TrueStreak,
            FalseStreak = (int)r.FalseStreak,
            IncidentId = r.IncidentId,
            LastWindowEndMs = r.LastWindowEndMs,
        }).ToList();
    }

    /// <summary>
    /// Writes <paramref name="state"/> after a window; with <paramref name="open"/>, first inserts that incident and points
    /// the state at it (returning its id); with <paramref name="resolvedIncident"/>, marks that incident resolved; with
    /// <paramref name="heldIncident"/>, counts the window on that open incident.
    /// </summary>
    public Task<long?> SaveAsync(AlertState state, NewIncident? open, long? resolvedIncident, long? heldIncident, CancellationToken cancellationToken = default) =>
        Database.WriteAsync(async (c, tx) =>
        {
            var now = Database.NowMs();
            long? opened = null;
            if (open is not null)
            {
                opened = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                    """
                    INSERT INTO alert_incidents (rule, deployment, model_name, model_version, condition_text, status, opened_ms, window_start_ms,
                        window_end_ms, last_window_end_ms, window_count, opening_values)
                    VALUES (@rule, @deployment, @modelName, @modelVersion, @condition, 'open', @now, @start, @end, @end, 1, @values)
                    RETURNING incident_id
                    """,
                    new
                    {
                        rule = state.Rule, deployment = state.Deployment, modelName = open.ModelName, modelVersion = open.ModelVersion,
                        condition = open.Condition, now, start = open.WindowStart.ToUnixTimeMilliseconds(), end = open.WindowEnd.ToUnixTimeMilliseconds(),
                        values = JsonSerializer.Serialize(open.Values, AlertJson.Default.DictionaryStringNullableDouble),
                    }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                state.IncidentId = opened;
            }
            if (heldIncident is { } held)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE alert_incidents SET window_count = window_count + 1, last_window_end_ms = @end WHERE incident_id = @id AND status = 'open'",
                    new { id = held, end = state.LastWindowEndMs }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            if (resolvedIncident is { } resolved)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE alert_incidents SET status = 'resolved', resolved_ms = @now WHERE incident_id = @id",
                    new { id = resolved, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    $"""
                    DELETE FROM alert_incidents WHERE status = 'resolved' AND incident_id <= (
                        SELECT incident_id FROM alert_incidents WHERE status = 'resolved' ORDER BY incident_id DESC LIMIT 1 OFFSET {keepResolved})
                    """, transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO alert_states (rule, deployment, model_name, model_version, true_streak, false_streak, incident_id, last_window_end_ms, updated_ms)
                VALUES (@Rule, @Deployment, @ModelName, @ModelVersion, @TrueStreak, @FalseStreak, @IncidentId, @LastWindowEndMs, @now)
                ON CONFLICT (rule, deployment, model_name, model_version) DO UPDATE SET true_streak = excluded.true_streak,
                    false_streak = excluded.false_streak, incident_id = excluded.incident_id, last_window_end_ms = excluded.last_window_end_ms,
                    updated_ms = excluded.updated_ms
                """,
                new { state.Rule, state.Deployment, state.ModelName, state.ModelVersion, state.TrueStreak, state.FalseStreak, state.IncidentId, state.LastWindowEndMs, now },
                tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return opened;
        }, cancellationToken);

    /// <summary>Records how the incident's webhook went.</summary>
    public Task SetWebhookStatusAsync(long incidentId, string status, CancellationToken cancellationToken = default) =>
        Database.WriteAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE alert_incidents SET webhook_status = @status WHERE incident_id = @incidentId",
            new { incidentId, status = Clip(status) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false), cancellationToken);

    /// <summary>Records the incident's retrain: its status (running, succeeded, failed, skipped), pipeline run id and message.</summary>
    public Task SetRetrainAsync(long incidentId, string status, string? runId, string? message, CancellationToken cancellationToken = default) =>
        Database.WriteAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE alert_incidents SET retrain_status = @status, retrain_run_id = @runId, retrain_message = @message WHERE incident_id = @incidentId",
            new { incidentId, status, runId, message = message is null ? null : Clip(message) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false),
            cancellationToken);

    /// <summary>One incident, or null.</summary>
    public async Task<AlertIncident?> FindIncidentAsync(long incidentId, CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<IncidentRow>(new CommandDefinition(
            $"SELECT {IncidentColumns} FROM alert_incidents WHERE incident_id = @incidentId", new { incidentId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : ToDomain(row);
    }

    /// <summary>
    /// Incidents, open ones first, then the most recent resolved ones, newest first within each; of one deployment when
    /// <paramref name="deployment"/> is set, only open ones when <paramref name="openOnly"/>; at most <paramref name="maxResults"/>.
    /// </summary>
    public async Task<IReadOnlyList<AlertIncident>> ListIncidentsAsync(string? deployment, bool openOnly, int maxResults, CancellationToken cancellationToken = default)
    {
        if (maxResults < 1 || maxResults > MaxResults)
            throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results': it must be from 1 to {MaxResults}.");
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var where = new List<string>();
        if (deployment is not null) where.Add("deployment = @deployment");
        if (openOnly) where.Add("status = 'open'");
        var sql = $"SELECT {IncidentColumns} FROM alert_incidents {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} " +
                  "ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, incident_id DESC LIMIT @maxResults";
        var rows = await c.QueryAsync<IncidentRow>(new CommandDefinition(sql, new { deployment, maxResults }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToDomain).ToList();
    }

    private static AlertIncident ToDomain(IncidentRow r) => new()
    {
        Id = r.IncidentId,
        Rule = r.Rule,
        Deployment = r.Deployment,
        ModelName = r.ModelName,
        ModelVersion = r.ModelVersion,
        Condition = r.ConditionText,
        Status = r.Status,
        OpenedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.OpenedMs),
        ResolvedAt = r.ResolvedMs is { } resolved ? DateTimeOffset.FromUnixTimeMilliseconds(resolved) : null,
        WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(r.WindowStartMs),
        WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(r.WindowEndMs),
        LastWindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(r.LastWindowEndMs),
        Windows = (int)r.WindowCount,
        Values = JsonSerializer.Deserialize(r.OpeningValues, AlertJson.Default.DictionaryStringNullableDouble) ?? [],
        WebhookStatus = r.WebhookStatus,
        RetrainStatus = r.RetrainStatus,
        RetrainRunId = r.RetrainRunId,
        RetrainMessage = r.RetrainMessage,
    };

    private static string Clip(string text) => text.Length <= 2000 ? text : text[..2000];
}

/// <summary>An incident about to open: the window that opened it and the condition's values in it.</summary>
internal sealed record NewIncident(string? ModelName, string? ModelVersion, string Condition, DateTimeOffset WindowStart, DateTimeOffset WindowEnd,
    Dictionary<string, double?> Values);

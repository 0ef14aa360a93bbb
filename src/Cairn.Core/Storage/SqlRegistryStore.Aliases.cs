using System.Data.Common;
using Cairn.Registry;
using Cairn.Tracking;
using Dapper;

namespace Cairn.Storage;

/// <summary>The model registry: aliases, and Cairn's audit trail, alias rollback and promotion gates.</summary>
internal sealed partial class SqlRegistryStore
{
    private sealed record AuditRow(long Id, string Name, string Action, string? Alias, string? Stage, string? PreviousStage, long? FromVersion, long? ToVersion, string UserId, long Timestamp);

    private const string AuditColumns =
        "audit_id AS Id, name AS Name, action AS Action, alias AS Alias, stage AS Stage, previous_stage AS PreviousStage, from_version AS FromVersion, to_version AS ToVersion, user_id AS UserId, timestamp AS Timestamp";

    public Task SetRegisteredModelAliasAsync(string name, string alias, string version, string? user = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateAlias(alias);
        var number = RegistryValidator.ParseVersion(version);
        var who = RegistryValidator.User(user);
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
            await MoveAliasAsync(c, tx, name, alias, number, RegistryAction.AliasSet, who, cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task DeleteRegisteredModelAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateAlias(alias);
        var who = RegistryValidator.User(user);
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            var current = await AliasVersionAsync(c, tx, name, alias, cancellationToken).ConfigureAwait(false);
            // MLflow ignores deleting an alias that does not exist; only a real change is audited.
            if (current is null) return 0;
            var now = NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM registered_model_aliases WHERE name = @name AND alias = @alias", new { name, alias }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await TouchModelAsync(c, tx, name, now, cancellationToken).ConfigureAwait(false);
            await AuditAsync(c, tx, name, RegistryAction.AliasDeleted, alias, null, null, current, null, who, now, cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public async Task<ModelVersion> GetModelVersionByAliasAsync(string name, string alias, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateAlias(alias);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var version = await AliasVersionAsync(c, null, name, alias, cancellationToken).ConfigureAwait(false);
        if (version is null)
        {
            await RequireModelAsync(c, null, name, cancellationToken).ConfigureAwait(false);
            // Real MLflow answers INVALID_PARAMETER_VALUE (400) here, not RESOURCE_DOES_NOT_EXIST.
            throw new InvalidParameterValueException($"Registered model alias {alias} not found.");
        }
        return await LoadVersionAsync(c, null, name, version.Value, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RegistryAuditEntry>> GetAuditTrailAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateMaxResults(maxResults, RegistryLimits.SearchRegisteredModelsThreshold * 10);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<AuditRow>(new CommandDefinition(
            $"SELECT {AuditColumns} FROM registry_audit WHERE name = @name ORDER BY audit_id DESC LIMIT @maxResults",
            new { name, maxResults }, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        // The trail outlives a deleted model; an unknown name with no history is an unknown model.
        if (rows.Count == 0) await RequireModelAsync(c, null, name, cancellationToken).ConfigureAwait(false);
        return rows.Select(ToEntry).ToList();
    }

    public Task<ModelVersion> RollbackAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateAlias(alias);
        var who = RegistryValidator.User(user);
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            var last = await c.QuerySingleOrDefaultAsync<AuditRow>(new CommandDefinition(
                $"SELECT {AuditColumns} FROM registry_audit WHERE name = @name AND alias = @alias ORDER BY audit_id DESC LIMIT 1",
                new { name, alias }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw new InvalidStateException($"Cannot roll back alias '{alias}' of model '{name}': it has never been moved, so there is no earlier version.");
            if (last.FromVersion is not { } target)
                throw new InvalidStateException($"Cannot roll back alias '{alias}' of model '{name}': before its last move (to version {last.ToVersion} by {last.UserId}) it pointed at no version, so there is no earlier version.");
            var exists = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT version FROM model_versions WHERE name = @name AND version = @target", new { name, target }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (exists is null)
                throw new InvalidStateException($"Cannot roll back alias '{alias}' of model '{name}': the version it pointed at before, {target}, has been deleted.");
            await MoveAliasAsync(c, tx, name, alias, target, RegistryAction.AliasRolledBack, who, cancellationToken).ConfigureAwait(false);
            return await LoadVersionAsync(c, tx, name, target, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<ModelVersion> PromoteAsync(string name, string version, string alias, IReadOnlyList<string>? requirements = null, string? user = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        RegistryValidator.ValidateAlias(alias);
        var rules = (requirements ?? []).Select(r => PromotionRule.Parse(r, alias)).ToList();
        var who = RegistryValidator.User(user);
        // Check and move in one transaction, holding the model's row lock: the alias holder cannot change between the
        // comparison and the move (a concurrent promotion waits, then compares with the version this one moved in).
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            var candidate = await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
            if (rules.Count > 0)
            {
                var holder = await AliasVersionAsync(c, tx, name, alias, cancellationToken).ConfigureAwait(false);
                IReadOnlyDictionary<string, double>? holderMetrics = null;
                if (holder is { } h)
                {
                    var holderRow = await RequireVersionAsync(c, tx, name, h, cancellationToken).ConfigureAwait(false);
                    holderMetrics = await RunMetricsAsync(c, tx, holderRow.RunId, cancellationToken).ConfigureAwait(false);
                }
                var candidateMetrics = await RunMetricsAsync(c, tx, candidate.RunId, cancellationToken).ConfigureAwait(false);
                PromotionRule.Check(rules, VersionText(number), candidateMetrics, holder is { } hv ? VersionText(hv) : null, holderMetrics);
            }
            await MoveAliasAsync(c, tx, name, alias, number, RegistryAction.AliasPromoted, who, cancellationToken).ConfigureAwait(false);
            return await LoadVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>A run's latest metric values (NaN included); empty when there is no run.</summary>
    private static async Task<IReadOnlyDictionary<string, double>> RunMetricsAsync(DbConnection c, DbTransaction tx, string? runId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(runId)) return new Dictionary<string, double>();
        var rows = await c.QueryAsync<(string Key, double Value, long IsNan)>(new CommandDefinition(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = @runId", new { runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Key, r => r.IsNan != 0 ? double.NaN : r.Value, StringComparer.Ordinal);
    }

    private static Task<long?> AliasVersionAsync(DbConnection c, DbTransaction? tx, string name, string alias, CancellationToken cancellationToken) =>
        c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT version FROM registered_model_aliases WHERE name = @name AND alias = @alias", new { name, alias }, tx, cancellationToken: cancellationToken));

    /// <summary>Points the alias at <paramref name="version"/> and records the move with the version it left.</summary>
    private async Task MoveAliasAsync(DbConnection c, DbTransaction tx, string name, string alias, long version, RegistryAction action, string user, CancellationToken cancellationToken)
    {
        var previous = await AliasVersionAsync(c, tx, name, alias, cancellationToken).ConfigureAwait(false);
        var now = NowMs();
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO registered_model_aliases (name, alias, version) VALUES (@name, @alias, @version) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
            new { name, alias, version }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await TouchModelAsync(c, tx, name, now, cancellationToken).ConfigureAwait(false);
        await AuditAsync(c, tx, name, action, alias, null, null, previous, version, user, now, cancellationToken).ConfigureAwait(false);
    }

    private static Task AuditAsync(DbConnection c, DbTransaction tx, string name, RegistryAction action, string? alias, string? stage, string? previousStage,
        long? fromVersion, long? toVersion, string user, long now, CancellationToken cancellationToken) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO registry_audit (name, action, alias, stage, previous_stage, from_version, to_version, user_id, timestamp) VALUES (@name, @action, @alias, @stage, @previousStage, @fromVersion, @toVersion, @user, @now)",
            new { name, action = ActionText(action), alias, stage, previousStage, fromVersion, toVersion, user, now }, tx, cancellationToken: cancellationToken));

    internal static string ActionText(RegistryAction action) => RegistryActionText.ToText(action);

    internal static RegistryAction ParseAction(string text) => RegistryActionText.Parse(text);

    private static RegistryAuditEntry ToEntry(AuditRow r) => new(
        r.Id, r.Name, ParseAction(r.Action), r.Alias,
        r.Stage is null ? null : Enum.Parse<ModelStage>(r.Stage),
        r.PreviousStage is null ? null : Enum.Parse<ModelStage>(r.PreviousStage),
        r.FromVersion is { } f ? VersionText(f) : null,
        r.ToVersion is { } t ? VersionText(t) : null,
        r.UserId, r.Timestamp);
}

using System.Data.Common;
using System.Text;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

internal sealed partial class SqlTrackingStore
{
    public async Task<Page<Run>> SearchRunsAsync(RunSearch search, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateMaxResults(search.MaxResults);
        var experimentIds = search.ExperimentIds.Select(ParseExperimentId).Distinct().ToArray();
        var filter = SearchFilterParser.ParseRunFilter(search.Filter);
        var orderBy = SearchFilterParser.ParseRunOrderBy(search.OrderBy);
        var fingerprint = $"runs|{string.Join(",", experimentIds)}|{search.Filter}|{string.Join(",", search.OrderBy ?? [])}|{search.ViewType}";
        var offset = PageToken.Decode(search.PageToken, fingerprint);
        if (experimentIds.Length == 0) return new Page<Run>([], null);

        var parameters = new DynamicParameters();
        var filterSql = new RunFilterSql(Database, parameters);

        // Top-level AND terms on metrics, params and tags become inner joins: (run_uuid, key) is unique in those
        // tables, so a join matches exactly when EXISTS would, and the planner may start from their (key, value)
        // indexes instead of probing every run of the experiment. Everything else (OR groups, datasets,
        // attributes) stays in WHERE.
        var conjuncts = new List<FilterExpression>();
        if (filter is not null) Flatten(filter, conjuncts);
        // At most MaxJoinedTerms of them: planning time grows fast with the number of joined tables (SQLite joins at most 64).
        var joined = conjuncts.OfType<Comparison>().Where(c => c.Entity is EntityKind.Metric or EntityKind.Param or EntityKind.Tag).Take(MaxJoinedTerms).ToList();
        var rest = conjuncts.Where(c => c is not Comparison comparison || !joined.Contains(comparison)).ToList();

        // Ordered by a metric, the sort needs every match anyway: start from the metric filter's value range and
        // check the other joined terms on its run ids before touching runs, so runs are read only for matches.
        // CROSS JOIN fixes SQLite's join order (PostgreSQL plans it as an inner join).
        var driver = orderBy.Count > 0 && orderBy[0].Entity == EntityKind.Metric
            ? joined.FirstOrDefault(c => c.Entity == EntityKind.Metric && c.Op is not Comparator.NotEqual)
            : null;
        var sql = new StringBuilder("SELECT ").Append(RunColumns).Append(" FROM ");
        var where = new StringBuilder(" WHERE ").Append(InSql("r.experiment_id", "@experimentIds", experimentIds)).Append(" AND ").Append(InSql("r.lifecycle_stage", "@stages", StagesFor(search.ViewType)));
        var runKey = "r.run_uuid";
        if (driver is not null)
        {
            sql.Append("latest_metrics j0");
            joined.Remove(driver);
            AppendJoinCondition(where.Append(" AND "), filterSql, driver, "j0");
            runKey = "j0.run_uuid";
        }
        else
        {
            sql.Append("runs r");
        }
        var j = 1;
        foreach (var comparison in joined)
        {
            var alias = "j" + j++;
            var table = comparison.Entity switch { EntityKind.Metric => "latest_metrics", EntityKind.Param => "params", _ => "tags" };
            sql.Append(driver is null ? " JOIN " : Database.OrderedJoin).Append($"{table} {alias} ON {alias}.run_uuid = {runKey} AND ");
            AppendJoinCondition(sql, filterSql, comparison, alias);
        }
        if (driver is not null) sql.Append(Database.OrderedJoin).Append("runs r ON r.run_uuid = j0.run_uuid");
        if (rest.Count > 0) filterSql.AppendAll(where.Append(" AND "), rest, " AND ");

        var order = new StringBuilder();
        var i = 0;
        foreach (var key in orderBy)
        {
            var direction = key.Ascending ? " ASC" : " DESC";
            var alias = "o" + i++;
            string column;
            switch (key.Entity)
            {
                case EntityKind.Metric when i == 1 && driver is not null && key.Key == driver.Key:
                    // Ordered by the metric the filter starts from: its rows are never NaN or missing, and walking
                    // the (key, value) index in order lets the LIMIT stop the scan early.
                    order.Append($"j0.value{direction}, ");
                    continue;
                case EntityKind.Metric:
                    sql.Append($" LEFT JOIN latest_metrics {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = @{alias}k");
                    // As in MLflow, in both directions: numbers first, then NaN, then runs without the metric.
                    order.Append($"CASE WHEN {alias}.value IS NULL THEN 2 WHEN {alias}.is_nan = 1 THEN 1 ELSE 0 END, {alias}.value{direction}, ");
                    parameters.Add(alias + "k", key.Key);
                    continue;
                case EntityKind.Param:
                    sql.Append($" LEFT JOIN params {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = @{alias}k");
                    column = alias + ".value";
                    parameters.Add(alias + "k", key.Key);
                    break;
                case EntityKind.Tag:
                    sql.Append($" LEFT JOIN tags {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = @{alias}k");
                    column = alias + ".value";
                    parameters.Add(alias + "k", key.Key);
                    break;
                default:
                    column = RunAttributeColumn(key.Key);
                    break;
            }
            order.Append($"CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column}{direction}, ");
        }
        order.Append("r.start_time DESC, r.run_uuid ASC");

        sql.Append(where);
        parameters.Add("experimentIds", Database.ListParameter(experimentIds));
        parameters.Add("stages", Database.ListParameter(StagesFor(search.ViewType)));
        sql.Append(" ORDER BY ").Append(order).Append(" LIMIT @limit OFFSET @offset");
        parameters.Add("limit", search.MaxResults + 1);
        parameters.Add("offset", offset);

        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<RunRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        var next = PageToken.TrimToPage(rows, search.MaxResults, offset, fingerprint);
        return new Page<Run>(await LoadRunsAsync(c, rows, cancellationToken).ConfigureAwait(false), next);
    }

    /// <summary>
    /// How many top-level terms become joins; the rest are EXISTS conditions, which match the same runs. PostgreSQL
    /// searches join orders exhaustively up to join_collapse_limit (8) relations, and order_by adds joins too.
    /// </summary>
    private const int MaxJoinedTerms = 6;

    private static void Flatten(FilterExpression expression, List<FilterExpression> conjuncts) =>
        conjuncts.AddRange(expression is AndExpression ? FilterExpression.Operands(expression) : [expression]);

    private static void AppendJoinCondition(StringBuilder sql, RunFilterSql filterSql, Comparison comparison, string alias)
    {
        sql.Append(alias).Append(".key = ").Append(filterSql.Param(comparison.Key)).Append(" AND ");
        // NaN points carry no order, so no numeric comparison matches them (as in MLflow).
        if (comparison.Entity == EntityKind.Metric) sql.Append(alias).Append(".is_nan = 0 AND ");
        filterSql.AppendValuePredicate(sql, alias + ".value", comparison);
    }

    /// <summary>Loads params, tags, latest metrics and inputs for a page of runs: four queries, whatever the page size.</summary>
    private async Task<IReadOnlyList<Run>> LoadRunsAsync(DbConnection c, IReadOnlyList<RunRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return [];
        var ids = rows.Select(r => r.RunUuid).ToArray();
        var args = Database.ListArgs("ids", ids);
        var parameters = (await c.QueryAsync<(string RunUuid, string Key, string Value)>(new CommandDefinition(
            $"SELECT run_uuid, key, value FROM params WHERE {InSql("run_uuid", "@ids", ids)}", args, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(p => p.RunUuid);
        var tags = (await c.QueryAsync<(string RunUuid, string Key, string Value)>(new CommandDefinition(
            $"SELECT run_uuid, key, value FROM tags WHERE {InSql("run_uuid", "@ids", ids)}", args, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(t => t.RunUuid);
        var metrics = (await c.QueryAsync<(string RunUuid, string Key, double Value, long Timestamp, long Step, long IsNan)>(new CommandDefinition(
            $"SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE {InSql("run_uuid", "@ids", ids)}", args, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(m => m.RunUuid);
        var inputs = (await c.QueryAsync<InputRow>(new CommandDefinition(
            $"""
            SELECT i.run_uuid AS RunUuid, d.dataset_uuid AS DatasetUuid, d.name AS Name, d.digest AS Digest, d.source_type AS SourceType, d.source AS Source, d.schema_json AS SchemaJson, d.profile AS Profile
            FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid WHERE {InSql("i.run_uuid", "@ids", ids)}
            """, args, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(r => r.RunUuid);
        var inputTags = inputs.Count == 0
            ? Enumerable.Empty<(string RunUuid, string DatasetUuid, string Key, string Value)>().ToLookup(t => (t.RunUuid, t.DatasetUuid))
            : (await c.QueryAsync<(string RunUuid, string DatasetUuid, string Key, string Value)>(new CommandDefinition(
                $"SELECT run_uuid, dataset_uuid, key, value FROM input_tags WHERE {InSql("run_uuid", "@ids", ids)}", args, cancellationToken: cancellationToken)).ConfigureAwait(false))
                .ToLookup(t => (t.RunUuid, t.DatasetUuid));

        var runs = new List<Run>(rows.Count);
        foreach (var r in rows)
        {
            var info = ToInfo(r);
            var data = new RunData(
                metrics[r.RunUuid].Select(m => new Metric(m.Key, m.IsNan != 0 ? double.NaN : m.Value, m.Timestamp, m.Step)).OrderBy(m => m.Key, StringComparer.Ordinal).ToList(),
                parameters[r.RunUuid].Select(p => new Param(p.Key, p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList(),
                tags[r.RunUuid].Select(t => new RunTag(t.Key, t.Value)).OrderBy(t => t.Key, StringComparer.Ordinal).ToList());
            var runInputs = inputs[r.RunUuid].Select(d => new DatasetInput(
                new Dataset(d.Name, d.Digest, d.SourceType, d.Source, d.SchemaJson, d.Profile),
                inputTags[(r.RunUuid, d.DatasetUuid)].Select(t => new InputTag(t.Key, t.Value)).ToList())).ToList();
            runs.Add(new Run(info, data, runInputs));
        }
        return runs;
    }

    private sealed record InputRow(string RunUuid, string DatasetUuid, string Name, string Digest, string SourceType, string Source, string? SchemaJson, string? Profile);
}

using System.Data.Common;
using System.Text;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

internal sealed partial class SqlRegistryStore
{
    /// <summary>What differs between searching registered models and model versions; the query around it is one.</summary>
    /// <param name="Select">The SELECT ... FROM clause, with the table's alias.</param>
    /// <param name="Models">Whether the filter is over registered models (else model versions).</param>
    /// <param name="Column">The column of an attribute order-by key.</param>
    /// <param name="OrderKeys">The keys allowed, for the error message.</param>
    /// <param name="TieBreaker">MLflow's default order, appended after the caller's keys.</param>
    private sealed record SearchShape(string Select, bool Models, Func<string, string> Column, string OrderKeys, string TieBreaker);

    /// <summary>
    /// One page of a registry search: the filter as SQL, the order-by keys mapped to columns then MLflow's tie-breaker,
    /// one row more than the page to know whether another follows, and the entities loaded on the same connection.
    /// </summary>
    private async Task<Page<T>> SearchPageAsync<TRow, T>(SearchShape shape, FilterExpression? filter, IReadOnlyList<OrderByKey> orderBy,
        int maxResults, string? pageToken, string fingerprint,
        Func<DbConnection, List<TRow>, Task<IReadOnlyList<T>>> load, CancellationToken cancellationToken)
    {
        var offset = PageToken.Decode(pageToken, fingerprint);
        var sql = new StringBuilder(shape.Select);
        var parameters = new DynamicParameters();
        if (filter is not null)
        {
            sql.Append(" WHERE ");
            new RegistryFilterSql(Database, parameters, shape.Models).Append(sql, filter);
        }
        sql.Append(" ORDER BY ");
        foreach (var key in orderBy)
        {
            if (key.Entity != EntityKind.Attribute)
                throw new InvalidParameterValueException($"Invalid order_by key '{key.Key}': {shape.OrderKeys}.");
            sql.Append(shape.Column(key.Key)).Append(key.Ascending ? " ASC, " : " DESC, ");
        }
        sql.Append(shape.TieBreaker).Append(" LIMIT @limit OFFSET @offset");
        parameters.Add("limit", maxResults + 1);
        parameters.Add("offset", offset);

        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<TRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        var next = PageToken.TrimToPage(rows, maxResults, offset, fingerprint);
        return new Page<T>(await load(c, rows).ConfigureAwait(false), next);
    }
}

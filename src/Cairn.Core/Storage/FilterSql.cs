using System.Globalization;
using System.Text;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// Translates a parsed filter into a SQL condition. Every value and key becomes a parameter;
/// only fixed column names chosen from a closed set are written into the SQL text.
/// </summary>
internal abstract class FilterSql(SqlDatabase database, DynamicParameters parameters)
{
    private int _next;

    protected SqlDatabase Database => database;

    public string Param(object? value)
    {
        // A letter after the number keeps Dapper's list expansion (@f1x -> @f1x1, @f1x2) from colliding with @f11x.
        var name = "f" + _next++.ToString(CultureInfo.InvariantCulture) + "x";
        parameters.Add(name, value);
        return "@" + name;
    }

    public void Append(StringBuilder sql, FilterExpression expression)
    {
        if (expression is Comparison comparison)
        {
            AppendComparison(sql, comparison);
            return;
        }
        AppendAll(sql, FilterExpression.Operands(expression), expression is AndExpression ? " AND " : " OR ");
    }

    /// <summary>
    /// Writes <paramref name="terms"/> joined by <paramref name="separator"/> (" AND " or " OR "), grouped as a balanced
    /// tree: a flat chain of a thousand terms is a tree a thousand deep to the SQL parser, past SQLite's expression depth
    /// limit (1000), while balanced it is ten deep. This recursion is as deep as that tree; recursion into a group of
    /// the other operator is bounded by the parser's nesting limit.
    /// </summary>
    public void AppendAll(StringBuilder sql, IReadOnlyList<FilterExpression> terms, string separator) =>
        AppendRange(sql, terms, 0, terms.Count, separator);

    private void AppendRange(StringBuilder sql, IReadOnlyList<FilterExpression> terms, int start, int end, string separator)
    {
        if (end - start == 1)
        {
            Append(sql, terms[start]);
            return;
        }
        var middle = start + (end - start) / 2;
        sql.Append('(');
        AppendRange(sql, terms, start, middle, separator);
        sql.Append(separator);
        AppendRange(sql, terms, middle, end, separator);
        sql.Append(')');
    }

    protected abstract void AppendComparison(StringBuilder sql, Comparison comparison);

    public void AppendValuePredicate(StringBuilder sql, string column, Comparison comparison) => AppendPredicate(sql, column, comparison);

    /// <summary>Writes <c>column op value</c> for a string or numeric comparison.</summary>
    protected void AppendPredicate(StringBuilder sql, string column, Comparison comparison)
    {
        switch (comparison.Op, comparison.Value)
        {
            case (Comparator.Like, StringValue s):
                sql.Append(Database.LikeSql(column, Param(Database.LikePattern(s.Value))));
                break;
            case (Comparator.ILike, StringValue s):
                sql.Append(Database.ILikeSql(column, Param(s.Value)));
                break;
            case (Comparator.In or Comparator.NotIn, ListValue list):
                var values = list.Values.ToArray();
                sql.Append(Database.InSql(column, Param(Database.ListParameter(values)), values, negated: comparison.Op == Comparator.NotIn));
                break;
            case (_, NumberValue n):
                sql.Append(column).Append(Operator(comparison.Op)).Append(Param(NumericParameter(comparison, n.Value)));
                break;
            case (_, StringValue s):
                sql.Append(column).Append(Operator(comparison.Op)).Append(Param(s.Value));
                break;
            default:
                throw new InvalidParameterValueException($"Invalid filter at position {comparison.Position}: unsupported comparison.");
        }
    }

    /// <summary>Time attributes are integers in the store; comparing them with an integer parameter keeps their index usable.</summary>
    protected virtual object NumericParameter(Comparison comparison, double value) => value;

    protected static string Operator(Comparator op) => op switch
    {
        Comparator.Equal => " = ",
        Comparator.NotEqual => " <> ",
        Comparator.Greater => " > ",
        Comparator.GreaterOrEqual => " >= ",
        Comparator.Less => " < ",
        Comparator.LessOrEqual => " <= ",
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}

/// <summary>The filters of tracking searches: experiments and runs.</summary>
internal sealed partial class SqlTrackingStore
{
    private sealed class ExperimentFilterSql(SqlDatabase database, DynamicParameters parameters) : FilterSql(database, parameters)
    {
        protected override void AppendComparison(StringBuilder sql, Comparison comparison)
        {
            if (comparison.Entity == EntityKind.Tag)
            {
                sql.Append("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ")
                    .Append(Param(comparison.Key)).Append(" AND ");
                AppendPredicate(sql, "t.value", comparison);
                sql.Append(Database.ExistsEnd);
                return;
            }
            var column = comparison.Key switch
            {
                "name" => "e.name",
                "creation_time" => "e.creation_time",
                "last_update_time" => "e.last_update_time",
                _ => throw new InvalidParameterValueException($"Invalid experiment filter key '{comparison.Key}'."),
            };
            AppendPredicate(sql, column, comparison);
        }

        protected override object NumericParameter(Comparison comparison, double value) => (long)value;
    }

    private sealed class RunFilterSql(SqlDatabase database, DynamicParameters parameters) : FilterSql(database, parameters)
    {
        protected override void AppendComparison(StringBuilder sql, Comparison c)
        {
            switch (c.Entity)
            {
                case EntityKind.Metric:
                    // NaN points carry no order, so no numeric comparison matches them (as in MLflow).
                    sql.Append("EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ")
                        .Append(Param(c.Key)).Append(" AND m.is_nan = 0 AND ");
                    AppendPredicate(sql, "m.value", c);
                    sql.Append(Database.ExistsEnd);
                    break;
                case EntityKind.Param:
                    sql.Append("EXISTS (SELECT 1 FROM params p WHERE p.run_uuid = r.run_uuid AND p.key = ").Append(Param(c.Key)).Append(" AND ");
                    AppendPredicate(sql, "p.value", c);
                    sql.Append(Database.ExistsEnd);
                    break;
                case EntityKind.Tag:
                    sql.Append("EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = ").Append(Param(c.Key)).Append(" AND ");
                    AppendPredicate(sql, "t.value", c);
                    sql.Append(Database.ExistsEnd);
                    break;
                case EntityKind.Dataset when c.Key == "context":
                    sql.Append("EXISTS (SELECT 1 FROM input_tags it WHERE it.run_uuid = r.run_uuid AND it.key = 'mlflow.data.context' AND ");
                    AppendPredicate(sql, "it.value", c);
                    sql.Append(Database.ExistsEnd);
                    break;
                case EntityKind.Dataset:
                    sql.Append("EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid WHERE i.run_uuid = r.run_uuid AND ");
                    AppendPredicate(sql, c.Key == "name" ? "d.name" : "d.digest", c);
                    sql.Append(Database.ExistsEnd);
                    break;
                default:
                    AppendPredicate(sql, RunAttributeColumn(c.Key), c);
                    break;
            }
        }

        protected override object NumericParameter(Comparison comparison, double value) =>
            comparison.Entity == EntityKind.Attribute ? (long)value : value;
    }

    /// <summary>The runs column behind an attribute name; the set is closed, so the result is safe SQL.</summary>
    private static string RunAttributeColumn(string attribute) => attribute switch
    {
        "run_id" => "r.run_uuid",
        "run_name" => "r.name",
        "status" => "r.status",
        "artifact_uri" => "r.artifact_uri",
        "user_id" => "r.user_id",
        "lifecycle_stage" => "r.lifecycle_stage",
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        _ => throw new InvalidParameterValueException($"Invalid attribute key '{attribute}'."),
    };
}

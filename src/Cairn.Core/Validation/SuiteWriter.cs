using System.Globalization;
using System.Text;
using System.Text.Json;
using Cairn.Monitoring;

namespace Cairn.Validation;

/// <summary>Writes an <see cref="ExpectationSuite"/> as the YAML <see cref="ExpectationSuite.Parse"/> reads (texts double-quoted).</summary>
public static class SuiteWriter
{
    /// <summary>The suite as YAML, after <paramref name="comment"/> lines (each written as a <c>#</c> comment).</summary>
    public static string ToYaml(ExpectationSuite suite, IEnumerable<string>? comment = null)
    {
        ArgumentNullException.ThrowIfNull(suite);
        var yaml = new StringBuilder();
        foreach (var line in comment ?? []) yaml.Append("# ").Append(line.ReplaceLineEndings(" ")).Append('\n');
        if (suite.Name is { } name) yaml.Append("name: ").Append(Quote(name)).Append('\n');
        yaml.Append("expectations:\n");
        foreach (var e in suite.Expectations)
        {
            yaml.Append("  - kind: ").Append(e.Kind).Append('\n');
            if (e.Column is { } column) Field(yaml, "column", Quote(column));
            switch (e)
            {
                case ColumnTypeExpectation t:
                    Field(yaml, "type", ExpectationText.Name(t.Type));
                    break;
                case NotNullExpectation n when n.MaxNullShare > 0:
                    Field(yaml, "max_null_share", Number(n.MaxNullShare));
                    break;
                case BetweenExpectation b:
                    BoundsFields(yaml, b.Bounds, flags: true);
                    break;
                case InSetExpectation s:
                    Field(yaml, "values", "[" + string.Join(", ", s.Values.Select(Quote)) + "]");
                    break;
                case MatchesRegexExpectation r:
                    Field(yaml, "pattern", Quote(r.Pattern));
                    break;
                case RowCountExpectation c:
                    BoundsFields(yaml, c.Bounds, flags: false);
                    break;
                case StatisticExpectation s:
                    if (s.Statistic == ColumnStatistic.Quantile) Field(yaml, "quantile", Number(s.Quantile));
                    BoundsFields(yaml, s.Bounds, flags: false);
                    break;
                case DistributionExpectation d:
                    Field(yaml, "reference", Quote(d.Reference));
                    if (d.Method is { } m) Field(yaml, "method", DriftOptions.NameOf(m));
                    if (d.Threshold is { } threshold) Field(yaml, "threshold", Number(threshold));
                    break;
            }
            if (e.Severity == Severity.Warn) Field(yaml, "severity", "warn");
        }
        return yaml.ToString();
    }

    private static void BoundsFields(StringBuilder yaml, Bounds bounds, bool flags)
    {
        if (bounds.Min is { } min) Field(yaml, "min", Number(min));
        if (bounds.Max is { } max) Field(yaml, "max", Number(max));
        if (flags && !bounds.MinInclusive) Field(yaml, "min_inclusive", "false");
        if (flags && !bounds.MaxInclusive) Field(yaml, "max_inclusive", "false");
    }

    private static void Field(StringBuilder yaml, string name, string value) => yaml.Append("    ").Append(name).Append(": ").Append(value).Append('\n');

    /// <summary>A double-quoted scalar: JSON's string escapes are YAML's too.</summary>
    private static string Quote(string text) => JsonSerializer.Serialize(text);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

using System.Text.RegularExpressions;
using Cairn.Data;

namespace Cairn.Validation;

/// <summary>
/// Suggests a suite from a data set's column profiles (<see cref="ColumnProfiler"/>), with bounds meant to generalise: new
/// data from the same distribution passes, broken data fails. Per column: it exists; its type; missing values (none when
/// none were seen, else the seen share with slack); for numbers the range widened by three tenths of it on each side (never below 0 for a column without negative values), and the
/// mean, standard deviation and median each within a margin of a tenth of a standard deviation plus several standard
/// errors; for a low-cardinality column the set of seen values; uniqueness only for a column that is unique, complete, not
/// fractional and named like a key
/// (such a column gets no range or statistics: new data brings new keys).
/// </summary>
public static partial class SuiteSuggester
{
    /// <summary>The most distinct values a column may have for an <c>in_set</c> (a text column; a whole-number column: half).</summary>
    public const int MaxSetSize = 20;

    /// <summary>Rows per distinct value a column needs for an <c>in_set</c>: every category seen often, so none is likely unseen.</summary>
    public const int RowsPerCategory = 20;

    [GeneratedRegex(@"(^|[_\-. ])(id|key|uuid|guid)$|^(id|key|uuid|guid)$|[a-z0-9](Id|ID|Key|Uuid|UUID|Guid|GUID)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyName();

    /// <summary>The suggested suite for <paramref name="data"/>, named <paramref name="name"/>.</summary>
    public static ExpectationSuite Suggest(IColumnSource data, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var expectations = new List<Expectation>();
        var rows = data.RowCount;
        foreach (var column in data.Names)
        {
            Add(expectations, new ColumnExistsExpectation { Index = 0, Column = column });
            if (data.TryNumbers(column, out var numbers)) SuggestNumbers(expectations, column, numbers, rows);
            else SuggestStrings(expectations, column, data.Strings(column), rows);
        }
        return new ExpectationSuite(name, expectations, name ?? "suggested suite");
    }

    private static void SuggestNumbers(List<Expectation> list, string column, double[] numbers, int rows)
    {
        var profile = ColumnProfiler.OfNumbers(column, "numeric", numbers);
        Nulls(list, column, profile.Missing, rows);
        if (profile.Count == 0) return;
        var whole = numbers.All(v => double.IsNaN(v) || (double.IsFinite(v) && v == Math.Floor(v)));
        Add(list, new ColumnTypeExpectation { Index = 0, Column = column, Type = whole ? ColumnType.Integer : ColumnType.Numeric });
        // The profile counts distinct values only up to a cap, so a key candidate is checked in full.
        if (whole && profile.Missing == 0 && KeyName().IsMatch(column) && new HashSet<double>(numbers).Count == numbers.Length)
        {
            // A key: new data brings new keys, so its range and statistics say nothing; only uniqueness carries over.
            Add(list, new UniqueExpectation { Index = 0, Column = column });
            return;
        }
        var (min, max, mean, std, n) = (profile.Min!.Value, profile.Max!.Value, profile.Mean!.Value, profile.Std!.Value, (double)profile.Count);
        // Three tenths of the range on each side: the extremes of a new sample of the same size rarely move further.
        var pad = max > min ? 0.3 * (max - min) : Math.Max(Math.Abs(min) * 0.1, 1);
        // A column never below zero (counts, amounts, ages) stays so: a negative value is a broken one.
        var low = min >= 0 ? Math.Max(0, min - pad) : min - pad;
        var high = max + pad;
        if (whole) (low, high) = (Math.Floor(low), Math.Ceiling(high));
        Add(list, new BetweenExpectation { Index = 0, Column = column, Bounds = new Bounds(Down(low), Up(high)) });
        if (whole && !profile.DistinctCapped!.Value && profile.Distinct <= MaxSetSize / 2 && profile.Count >= RowsPerCategory * profile.Distinct)
        {
            var seen = numbers.Where(v => !double.IsNaN(v)).Distinct().Order().Select(v => ExpectationText.Number(v)).ToList();
            Add(list, new InSetExpectation { Index = 0, Column = column, Values = seen });
        }
        if (!(std > 0)) return;
        // A tenth of a standard deviation for what one sample cannot tell, plus standard errors of the statistic.
        var meanMargin = 0.1 * std + 4 * std / Math.Sqrt(n);
        Add(list, Statistic(column, ColumnStatistic.Mean, 0, mean - meanMargin, mean + meanMargin));
        var stdMargin = 0.1 + 4 / Math.Sqrt(2 * n);
        Add(list, Statistic(column, ColumnStatistic.Std, 0, Math.Max(0, std * (1 - stdMargin)), std * (1 + stdMargin)));
        var median = profile.Quantiles!["p50"];
        var medianMargin = 0.1 * std + 5 * std / Math.Sqrt(n);
        Add(list, Statistic(column, ColumnStatistic.Quantile, 0.5, median - medianMargin, median + medianMargin));
    }

    private static void SuggestStrings(List<Expectation> list, string column, string?[] values, int rows)
    {
        var profile = ColumnProfiler.OfStrings(column, "categorical", values, topCategories: MaxSetSize + 1);
        Nulls(list, column, profile.Missing, rows);
        if (profile.Count == 0) return;
        var boolean = values.All(v => v is null || v.Equals("true", StringComparison.OrdinalIgnoreCase) || v.Equals("false", StringComparison.OrdinalIgnoreCase));
        Add(list, new ColumnTypeExpectation { Index = 0, Column = column, Type = boolean ? ColumnType.Boolean : ColumnType.String });
        if (profile.Distinct <= MaxSetSize && profile.Count >= RowsPerCategory * profile.Distinct)
        {
            var seen = profile.Top!.Select(t => t.Value).Order(StringComparer.Ordinal).ToList();
            Add(list, new InSetExpectation { Index = 0, Column = column, Values = seen });
        }
        if (profile.Missing == 0 && profile.Distinct == profile.Count && KeyName().IsMatch(column))
            Add(list, new UniqueExpectation { Index = 0, Column = column });
    }

    /// <summary>No missing values when none were seen; otherwise the seen share plus half of it, four standard errors and 1 %.</summary>
    private static void Nulls(List<Expectation> list, string column, long missing, int rows)
    {
        if (rows == 0) return;
        var share = (double)missing / rows;
        var max = share == 0 ? 0 : Math.Min(1, share * 1.5 + 4 * Math.Sqrt(share * (1 - share) / rows) + 0.01);
        Add(list, new NotNullExpectation { Index = 0, Column = column, MaxNullShare = max == 0 ? 0 : Up(max) });
    }

    private static StatisticExpectation Statistic(string column, ColumnStatistic statistic, double quantile, double min, double max) => new()
    {
        Index = 0,
        Column = column,
        Statistic = statistic,
        Quantile = quantile,
        Bounds = new Bounds(Down(min), Up(max)),
    };

    private static void Add(List<Expectation> list, Expectation e) => list.Add(e with { Index = list.Count });

    /// <summary><paramref name="value"/> rounded down to 4 significant digits (a bound a reader can take in).</summary>
    private static double Down(double value) => Round(value, up: false);

    /// <summary><paramref name="value"/> rounded up to 4 significant digits.</summary>
    private static double Up(double value) => Round(value, up: true);

    private static double Round(double value, bool up)
    {
        if (value == 0 || !double.IsFinite(value)) return value;
        var scale = Math.Pow(10, 3 - (int)Math.Floor(Math.Log10(Math.Abs(value))));
        var rounded = (up ? Math.Ceiling(value * scale) : Math.Floor(value * scale)) / scale;
        // Floating point can put the rounded value a hair on the wrong side; a bound must never tighten.
        return up ? Math.Max(rounded, value) : Math.Min(rounded, value);
    }
}

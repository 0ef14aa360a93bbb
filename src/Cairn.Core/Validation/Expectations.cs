using System.Globalization;
using System.Text.RegularExpressions;
using Cairn.Monitoring;

namespace Cairn.Validation;

// The kinds of expectation, one small record each (docs/VALIDATION.md lists their fields).

/// <summary><c>column_exists</c>: the data has the column.</summary>
public sealed record ColumnExistsExpectation : Expectation
{
    /// <inheritdoc/>
    public override string Kind => "column_exists";

    /// <inheritdoc/>
    public override string Describe() => "column exists";
}

/// <summary><c>column_type</c>: every present value of the column is of <see cref="Type"/>.</summary>
public sealed record ColumnTypeExpectation : Expectation
{
    /// <summary>The type asked for.</summary>
    public required ColumnType Type { get; init; }

    /// <inheritdoc/>
    public override string Kind => "column_type";

    /// <inheritdoc/>
    public override string Describe() => "type " + ExpectationText.Name(Type);
}

/// <summary><c>not_null</c>: at most <see cref="MaxNullShare"/> of the column's rows are missing (0: none).</summary>
public sealed record NotNullExpectation : Expectation
{
    /// <summary>The largest share of missing rows allowed, in [0, 1].</summary>
    public double MaxNullShare { get; init; }

    /// <inheritdoc/>
    public override string Kind => "not_null";

    /// <inheritdoc/>
    public override string Describe() => MaxNullShare == 0 ? "no missing values" : $"missing share <= {ExpectationText.Number(MaxNullShare)}";
}

/// <summary>A lower and/or upper bound, each inclusive or not.</summary>
/// <param name="Min">The lower bound, or null for none.</param>
/// <param name="Max">The upper bound, or null for none.</param>
/// <param name="MinInclusive">Whether a value equal to <paramref name="Min"/> passes.</param>
/// <param name="MaxInclusive">Whether a value equal to <paramref name="Max"/> passes.</param>
public readonly record struct Bounds(double? Min, double? Max, bool MinInclusive = true, bool MaxInclusive = true)
{
    /// <summary>Whether <paramref name="value"/> lies within the bounds (NaN never does).</summary>
    public bool Contains(double value) =>
        !double.IsNaN(value)
        && (Min is not { } low || (MinInclusive ? value >= low : value > low))
        && (Max is not { } high || (MaxInclusive ? value <= high : value < high));

    /// <summary>The bounds around <paramref name="what"/>: <c>0 &lt;= what &lt; 10</c>.</summary>
    public string Describe(string what) =>
        (Min is { } low ? $"{ExpectationText.Number(low)} {(MinInclusive ? "<=" : "<")} " : "") + what
        + (Max is { } high ? $" {(MaxInclusive ? "<=" : "<")} {ExpectationText.Number(high)}" : "");
}

/// <summary><c>between</c>: every present value of the column lies within <see cref="Bounds"/>; a value that is not a number fails.</summary>
public sealed record BetweenExpectation : Expectation
{
    /// <summary>The bounds.</summary>
    public required Bounds Bounds { get; init; }

    /// <inheritdoc/>
    public override string Kind => "between";

    /// <inheritdoc/>
    public override string Describe() => Bounds.Describe("value");
}

/// <summary>
/// <c>in_set</c>: every present value of the column is one of <see cref="Values"/>; a column of numbers compares as numbers
/// (<c>1</c> and <c>1.0</c> are one value), any other as the values are written.
/// </summary>
public sealed record InSetExpectation : Expectation
{
    /// <summary>The allowed values as the suite writes them.</summary>
    public required IReadOnlyList<string> Values { get; init; }

    /// <inheritdoc/>
    public override string Kind => "in_set";

    /// <inheritdoc/>
    public override string Describe() =>
        "value in {" + string.Join(", ", Values.Take(8)) + (Values.Count > 8 ? $", ... ({Values.Count} values)" : "") + "}";
}

/// <summary>
/// <c>matches_regex</c>: every present value of the column matches <see cref="Pattern"/> somewhere (anchor it with <c>^</c>
/// and <c>$</c> for the whole value). The regex is bounded: a pattern of at most <see cref="ExpectationSuite.MaxPatternLength"/>
/// characters, matched without backtracking where .NET can, and always with a time limit per value.
/// </summary>
public sealed record MatchesRegexExpectation : Expectation
{
    /// <summary>The pattern as written.</summary>
    public required string Pattern { get; init; }

    /// <summary>The compiled pattern.</summary>
    public required Regex Regex { get; init; }

    /// <inheritdoc/>
    public override string Kind => "matches_regex";

    /// <inheritdoc/>
    public override string Describe() => $"matches /{(Pattern.Length > 60 ? Pattern[..57] + "..." : Pattern)}/";
}

/// <summary><c>unique</c>: no present value of the column occurs twice.</summary>
public sealed record UniqueExpectation : Expectation
{
    /// <inheritdoc/>
    public override string Kind => "unique";

    /// <inheritdoc/>
    public override string Describe() => "values unique";
}

/// <summary><c>row_count_between</c>: the data's number of rows lies within <see cref="Bounds"/> (inclusive).</summary>
public sealed record RowCountExpectation : Expectation
{
    /// <summary>The bounds.</summary>
    public required Bounds Bounds { get; init; }

    /// <inheritdoc/>
    public override string Kind => "row_count_between";

    /// <inheritdoc/>
    public override string Describe() => Bounds.Describe("rows");
}

/// <summary>A statistic of a numeric column that <see cref="StatisticExpectation"/> bounds.</summary>
public enum ColumnStatistic
{
    /// <summary>The mean of the present values.</summary>
    Mean,

    /// <summary>The population standard deviation (ddof = 0) of the present values.</summary>
    Std,

    /// <summary>A quantile of the present values (linear interpolation, numpy's default).</summary>
    Quantile,
}

/// <summary><c>mean_between</c>, <c>std_between</c>, <c>quantile_between</c>: a statistic of the column's present values lies within <see cref="Bounds"/>.</summary>
public sealed record StatisticExpectation : Expectation
{
    /// <summary>The statistic.</summary>
    public required ColumnStatistic Statistic { get; init; }

    /// <summary>The quantile's level in [0, 1] (for <see cref="ColumnStatistic.Quantile"/>).</summary>
    public double Quantile { get; init; }

    /// <summary>The bounds (inclusive).</summary>
    public required Bounds Bounds { get; init; }

    /// <inheritdoc/>
    public override string Kind => Statistic switch
    {
        ColumnStatistic.Mean => "mean_between",
        ColumnStatistic.Std => "std_between",
        _ => "quantile_between",
    };

    /// <inheritdoc/>
    public override string Describe() => Bounds.Describe(Statistic switch
    {
        ColumnStatistic.Mean => "mean",
        ColumnStatistic.Std => "std",
        _ => $"quantile({ExpectationText.Number(Quantile)})",
    });
}

/// <summary>
/// <c>distribution_close</c>: the column's distribution is close to the same column of a reference file, by the drift
/// statistics (<see cref="DriftAnalyzer"/>): it fails when the feature drifts by <see cref="Method"/> against <see cref="Threshold"/>.
/// </summary>
public sealed record DistributionExpectation : Expectation
{
    /// <summary>The reference file as the suite writes it, relative to the suite's folder.</summary>
    public required string Reference { get; init; }

    /// <summary>The reference file's full path (checked to stay inside the suite's root when the suite was loaded).</summary>
    public required string ReferencePath { get; init; }

    /// <summary>The deciding method, or null for the column type's default (PSI).</summary>
    public DriftMethod? Method { get; init; }

    /// <summary>The threshold, or null for the method's default (<see cref="DriftOptions.DefaultThreshold"/>).</summary>
    public double? Threshold { get; init; }

    /// <inheritdoc/>
    public override string Kind => "distribution_close";

    /// <inheritdoc/>
    public override string Describe() =>
        $"close to {Reference}" + (Method is { } m ? $" by {DriftOptions.NameOf(m)}" : "") + (Threshold is { } t ? $" ({ExpectationText.Number(t)})" : "");
}

/// <summary>How numbers and names are written in descriptions and suite files.</summary>
internal static class ExpectationText
{
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Name(ColumnType type) => type.ToString().ToLowerInvariant();
}

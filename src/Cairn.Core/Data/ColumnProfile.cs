namespace Cairn.Data;

/// <summary>
/// The profile of one column of a data set: the one profile type in Cairn, made by <see cref="ColumnProfiler"/> for a
/// dataset record (<c>cairn data add --name</c>) and for the trainer's <c>data_profile.json</c>, and meant as the baseline
/// a drift check compares serving traffic with.
/// </summary>
/// <param name="Name">Column name from the header.</param>
/// <param name="Type">Stored type: long, double, bool or string.</param>
/// <param name="Count">Present (non-empty) values.</param>
/// <param name="Missing">Empty values (and NaN in a column of numbers).</param>
/// <param name="Distinct">Distinct present values, counted exactly up to <see cref="ColumnProfiler.MaxTracked"/>; at the cap, a lower bound (<see cref="DistinctCapped"/>).</param>
/// <param name="Min">Minimum of a numeric column.</param>
/// <param name="Max">Maximum of a numeric column.</param>
/// <param name="Mean">Mean of a numeric column.</param>
public sealed record ColumnProfile(string Name, string Type, long Count, long Missing, long Distinct, double? Min, double? Max, double? Mean)
{
    /// <summary>How a model uses the column: numeric, categorical or text.</summary>
    public string? Kind { get; init; }

    /// <summary>Whether <see cref="Distinct"/> stopped at the cap (the column has at least that many distinct values).</summary>
    public bool? DistinctCapped { get; init; }

    /// <summary>Population standard deviation of a numeric column.</summary>
    public double? Std { get; init; }

    /// <summary>
    /// Quantiles of a numeric column by level name (<c>p05</c>, <c>p25</c>, <c>p50</c>, <c>p75</c>, <c>p95</c>), linear between
    /// closest ranks (numpy's default); exact, or from a uniform sample of <see cref="ColumnProfiler.SampleSize"/> values
    /// when a streamed column has more (<see cref="Sampled"/>).
    /// </summary>
    public IReadOnlyDictionary<string, double>? Quantiles { get; init; }

    /// <summary>Whether <see cref="Quantiles"/> and <see cref="Histogram"/> come from a sample of the values.</summary>
    public bool? Sampled { get; init; }

    /// <summary>The most frequent values of a categorical or text column, most frequent first (ties in ordinal order).</summary>
    public IReadOnlyList<CategoryCount>? Top { get; init; }

    /// <summary>Equal-width bins between <see cref="Min"/> and <see cref="Max"/> of a numeric column.</summary>
    public Histogram? Histogram { get; init; }
}

/// <summary>A value of a column and how often it occurs.</summary>
/// <param name="Value">The value.</param>
/// <param name="Count">Rows holding it.</param>
/// <param name="Frequency">Its share of the present values.</param>
public sealed record CategoryCount(string Value, long Count, double Frequency);

/// <summary>A histogram: <c>Counts[i]</c> values lie in [<c>Edges[i]</c>, <c>Edges[i + 1]</c>) (the last bin includes its upper edge).</summary>
/// <param name="Edges">Bin edges, one more than the bins.</param>
/// <param name="Counts">Values per bin (scaled to the column's count when taken from a sample).</param>
public sealed record Histogram(IReadOnlyList<double> Edges, IReadOnlyList<long> Counts);

namespace Cairn.Monitoring;

/// <summary>The type a column is compared as.</summary>
public enum FeatureType
{
    /// <summary>Every non-empty value parses as a number in both samples.</summary>
    Numeric,

    /// <summary>Anything else: values compared as categories.</summary>
    Categorical,
}

/// <summary>Side-by-side shares of one feature for a picture: labelled bins (numeric) or categories.</summary>
/// <param name="Labels">Bin or category labels.</param>
/// <param name="Reference">The reference's share per label.</param>
/// <param name="Current">The current sample's share per label.</param>
public sealed record Histogram(IReadOnlyList<string> Labels, IReadOnlyList<double> Reference, IReadOnlyList<double> Current);

/// <summary>
/// One feature's drift: the sample sizes after dropping missing values, the missing counts, every statistic that applies to
/// its type (null otherwise, or when a side has no values), and the verdict of its method against its threshold.
/// </summary>
public sealed record FeatureDrift
{
    /// <summary>The column name.</summary>
    public required string Name { get; init; }

    /// <summary>Numeric or categorical.</summary>
    public required FeatureType Type { get; init; }

    /// <summary>Present values in the reference.</summary>
    public required int ReferenceCount { get; init; }

    /// <summary>Present values in the current sample.</summary>
    public required int CurrentCount { get; init; }

    /// <summary>Missing cells (empty or NaN) in the reference, left out of every statistic.</summary>
    public required int ReferenceMissing { get; init; }

    /// <summary>Missing cells in the current sample.</summary>
    public required int CurrentMissing { get; init; }

    /// <summary>Two-sample Kolmogorov–Smirnov (numeric).</summary>
    public TestStatistic? Ks { get; init; }

    /// <summary>Wasserstein-1 in the column's units (numeric).</summary>
    public double? Wasserstein { get; init; }

    /// <summary>Wasserstein-1 divided by the reference's standard deviation (by 1 when that is 0).</summary>
    public double? WassersteinNormalized { get; init; }

    /// <summary>Population Stability Index over quantile bins or categories.</summary>
    public double? Psi { get; init; }

    /// <summary>Jensen–Shannon distance over the same shares.</summary>
    public double? Js { get; init; }

    /// <summary>Chi-square test of the 2 x K table (categorical).</summary>
    public TestStatistic? Chi2 { get; init; }

    /// <summary>Categories in the current sample that the reference never has (categorical).</summary>
    public int UnseenCategories { get; init; }

    /// <summary>Current rows whose category the reference never has.</summary>
    public int UnseenRows { get; init; }

    /// <summary>The method that decided.</summary>
    public required DriftMethod Method { get; init; }

    /// <summary>Its threshold.</summary>
    public required double Threshold { get; init; }

    /// <summary>The value compared with the threshold (a p-value or a distance); null when a side is empty.</summary>
    public double? Score { get; init; }

    /// <summary>Whether the feature drifted; false when it could not be scored.</summary>
    public bool Drifted { get; init; }

    /// <summary>Why the feature was not scored (a side without values), else null.</summary>
    public string? Note { get; init; }

    /// <summary>Reference and current shares for the report's picture.</summary>
    public Histogram? Histogram { get; init; }
}

/// <summary>The drift of a dataset: every feature, and the share of scored features that drifted against the threshold.</summary>
/// <param name="Features">One entry per compared column, in the reference's column order.</param>
/// <param name="DriftShare">Drifted features / scored features (0 when none could be scored).</param>
/// <param name="DriftShareThreshold">The share at which the dataset counts as drifted.</param>
/// <param name="DatasetDrift">Whether <paramref name="DriftShare"/> reached the threshold.</param>
public sealed record DriftReport(IReadOnlyList<FeatureDrift> Features, double DriftShare, double DriftShareThreshold, bool DatasetDrift);

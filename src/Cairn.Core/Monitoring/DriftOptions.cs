using System.Globalization;

namespace Cairn.Monitoring;

/// <summary>A statistic that can decide whether a feature drifted.</summary>
public enum DriftMethod
{
    /// <summary>Population Stability Index (numeric and categorical): drifted when PSI ≥ threshold (default 0.1).</summary>
    Psi,

    /// <summary>Jensen–Shannon distance (numeric and categorical): drifted when JS ≥ threshold (default 0.1).</summary>
    Js,

    /// <summary>Two-sample Kolmogorov–Smirnov (numeric): drifted when p-value &lt; threshold (default 0.05).</summary>
    Ks,

    /// <summary>Wasserstein-1 divided by the reference's standard deviation (numeric): drifted when ≥ threshold (default 0.1).</summary>
    Wasserstein,

    /// <summary>Chi-square test (categorical): drifted when p-value &lt; threshold (default 0.05).</summary>
    Chi2,
}

/// <summary>A feature's own method and/or threshold, overriding the defaults.</summary>
/// <param name="Method">The method that decides, or null for the type's default.</param>
/// <param name="Threshold">The threshold, or null for the method's default.</param>
public sealed record FeatureRule(DriftMethod? Method, double? Threshold);

/// <summary>How features are judged: the method per column type, thresholds per method, overrides per feature, and the dataset rule.</summary>
public sealed class DriftOptions
{
    /// <summary>The method that decides for numeric columns (default PSI).</summary>
    public DriftMethod NumericMethod { get; set; } = DriftMethod.Psi;

    /// <summary>The method that decides for categorical columns (default PSI).</summary>
    public DriftMethod CategoricalMethod { get; set; } = DriftMethod.Psi;

    /// <summary>Thresholds per method; a method not listed uses <see cref="DefaultThreshold"/>.</summary>
    public Dictionary<DriftMethod, double> Thresholds { get; } = [];

    /// <summary>Per-feature overrides by column name.</summary>
    public Dictionary<string, FeatureRule> Features { get; } = new(StringComparer.Ordinal);

    /// <summary>The dataset drifts when the share of drifted features is at least this (default 0.5).</summary>
    public double DriftShare { get; set; } = 0.5;

    /// <summary>
    /// When set, numeric columns are compared through a <see cref="QuantileSketch"/> of this K per side instead of sorting:
    /// approximate (the KS D, the CDFs and the bins are within the sketches' stated rank error), for data too large to sort.
    /// </summary>
    public int? SketchK { get; set; }

    /// <summary>The built-in threshold of a method.</summary>
    public static double DefaultThreshold(DriftMethod method) => method switch
    {
        DriftMethod.Ks or DriftMethod.Chi2 => 0.05,
        _ => 0.1,
    };

    /// <summary>Whether the method compares a p-value (drift below the threshold) rather than a distance (drift at or above it).</summary>
    public static bool IsTest(DriftMethod method) => method is DriftMethod.Ks or DriftMethod.Chi2;

    /// <summary>The method's name as the CLI and JSON write it.</summary>
    public static string NameOf(DriftMethod method) => method.ToString().ToLowerInvariant();

    /// <summary>Parses a method name (psi, js, ks, wasserstein, chi2); <paramref name="field"/> names the input in the error.</summary>
    public static DriftMethod ParseMethod(string text, string field) => text.Trim().ToLowerInvariant() switch
    {
        "psi" => DriftMethod.Psi,
        "js" => DriftMethod.Js,
        "ks" => DriftMethod.Ks,
        "wasserstein" => DriftMethod.Wasserstein,
        "chi2" => DriftMethod.Chi2,
        _ => throw new InvalidParameterValueException($"Invalid value '{text}' for '{field}': expected psi, js, ks, wasserstein or chi2."),
    };

    /// <summary>
    /// Checks a threshold for a method: a p-value threshold lies in (0, 1), a distance threshold is finite and &gt; 0.
    /// </summary>
    public static double CheckThreshold(DriftMethod method, double value, string field)
    {
        if (IsTest(method) ? !(value > 0 && value < 1) : !(value > 0 && double.IsFinite(value)))
            throw new InvalidParameterValueException(string.Create(CultureInfo.InvariantCulture,
                $"Invalid value '{value}' for '{field}': a {NameOf(method)} threshold must be {(IsTest(method) ? "a p-value between 0 and 1 (exclusive)" : "a finite number greater than 0")}."));
        return value;
    }

    /// <summary>Checks every setting once; errors name the setting and the rule.</summary>
    public void Validate()
    {
        if (SketchK is { } k && k is < 16 or > 1 << 20)
            throw new InvalidParameterValueException($"Invalid value '{k}' for 'sketch size': it must be between 16 and 1048576.");
        if (NumericMethod is DriftMethod.Chi2)
            throw new InvalidParameterValueException("Invalid value 'chi2' for 'numeric method': chi2 applies to categorical columns; use psi, js, ks or wasserstein.");
        if (CategoricalMethod is DriftMethod.Ks or DriftMethod.Wasserstein)
            throw new InvalidParameterValueException($"Invalid value '{NameOf(CategoricalMethod)}' for 'categorical method': it applies to numeric columns; use psi, js or chi2.");
        if (!(DriftShare > 0 && DriftShare <= 1))
            throw new InvalidParameterValueException(string.Create(CultureInfo.InvariantCulture, $"Invalid value '{DriftShare}' for 'drift share': it must be greater than 0 and at most 1."));
        foreach (var (method, value) in Thresholds) CheckThreshold(method, value, $"threshold {NameOf(method)}");
        // A feature threshold without a method is checked once the column's type, and so its method, is known (Rule).
        foreach (var (name, rule) in Features)
            if (rule is { Method: { } m, Threshold: { } t }) CheckThreshold(m, t, $"feature {name}");
    }

    internal (DriftMethod Method, double Threshold) Rule(string feature, bool numeric)
    {
        Features.TryGetValue(feature, out var rule);
        var method = rule?.Method ?? (numeric ? NumericMethod : CategoricalMethod);
        if (!numeric && method is DriftMethod.Ks or DriftMethod.Wasserstein)
            throw new InvalidParameterValueException($"Invalid method '{NameOf(method)}' for feature '{feature}': the column is categorical; use psi, js or chi2.");
        if (numeric && method is DriftMethod.Chi2)
            throw new InvalidParameterValueException($"Invalid method 'chi2' for feature '{feature}': the column is numeric; use psi, js, ks or wasserstein.");
        var threshold = rule?.Method == method && rule.Threshold is { } own ? own
            : rule is { Method: null, Threshold: { } any } ? any
            : Thresholds.TryGetValue(method, out var set) ? set : DefaultThreshold(method);
        return (method, CheckThreshold(method, threshold, $"feature {feature}"));
    }
}

using System.Globalization;

namespace Cairn.Metrics;

/// <summary>
/// Where a gate is written and what it may compare with: the field named in errors, whether the metric must be written
/// <c>metrics.KEY</c> (promotion rules, which name a run's metric as MLflow's search syntax does), and the one name allowed
/// in place of a number (the alias being promoted to, which stands for the metric of the version holding it).
/// </summary>
/// <param name="Field">The field or flag named in errors, e.g. <c>--require</c> or <c>requirements</c>.</param>
/// <param name="RequireMetricsPrefix">Whether the metric must be written with the <c>metrics.</c> prefix (it may be anyway).</param>
/// <param name="Reference">The name allowed in place of a number, or null for numbers only.</param>
public sealed record GateSyntax(string Field, bool RequireMetricsPrefix = false, string? Reference = null)
{
    /// <summary>The syntax of <c>cairn evaluate --require</c>: <c>[metrics.]KEY OP NUMBER</c>.</summary>
    public static GateSyntax Requirement(string field = "--require") => new(field);

    /// <summary>The syntax of promotion rules: <c>metrics.KEY OP (NUMBER | alias)</c>.</summary>
    public static GateSyntax Promotion(string alias, string field = "requirements") => new(field, RequireMetricsPrefix: true, Reference: alias);
}

/// <summary>The outcome of comparing a value with a gate's threshold, and why it failed.</summary>
/// <param name="Passed">Whether the comparison held.</param>
/// <param name="Reason">Why it failed (null when it passed), e.g. <c>auc = 0.79 is not &gt;= 0.8</c>, or that a side is NaN.</param>
public readonly record struct GateResult(bool Passed, string? Reason);

/// <summary>
/// One gate on a metric: <c>[metrics.]KEY OP VALUE</c> with OP one of &gt;=, &gt;, &lt;=, &lt;, ==, != and VALUE a number or, where
/// the syntax allows it, a reference name (<c>metrics.auc &gt;= champion</c>). The one grammar of <c>cairn evaluate --require</c>,
/// <c>cairn models promote --require</c> and the server's promote endpoint. A comparison in which either side is NaN fails,
/// whatever the operator (!= included), and says so.
/// </summary>
/// <param name="Text">The gate as written, trimmed.</param>
/// <param name="Metric">The metric's name, without the <c>metrics.</c> prefix.</param>
/// <param name="Operator">One of &gt;=, &gt;, &lt;=, &lt;, ==, !=.</param>
/// <param name="Threshold">The number compared with, or null when the gate compares with <see cref="Reference"/>.</param>
/// <param name="Reference">The reference name compared with (e.g. an alias), or null.</param>
public sealed record Gate(string Text, string Metric, string Operator, double? Threshold, string? Reference)
{
    /// <summary>The operators, longest first where one is a prefix of another.</summary>
    public static readonly IReadOnlyList<string> Operators = [">=", ">", "<=", "<", "==", "!="];

    /// <summary>Parses a gate (numbers only by default); a malformed gate is <see cref="InvalidParameterValueException"/> naming the field, the text and the rule broken.</summary>
    public static Gate Parse(string? text, GateSyntax? syntax = null) => GateParser.Parse(text, syntax ?? GateSyntax.Requirement());

    /// <summary>Compares <paramref name="value"/> with the gate's fixed threshold; a gate against a reference needs <see cref="Check(double, double)"/>.</summary>
    public GateResult Check(double value) =>
        Threshold is { } threshold ? Compare(Metric, value, Operator, threshold)
            : throw new InvalidOperationException($"Gate '{Text}' compares with '{Reference}': pass the value it stands for.");

    /// <summary>Compares <paramref name="value"/> with <paramref name="threshold"/> (the fixed one, or the value the reference stands for).</summary>
    public GateResult Check(double value, double threshold) => Compare(Metric, value, Operator, threshold);

    /// <summary>Compares <paramref name="value"/> of <paramref name="metric"/> with <paramref name="threshold"/> by <paramref name="op"/>; NaN on either side fails.</summary>
    public static GateResult Compare(string metric, double value, string op, double threshold)
    {
        if (double.IsNaN(value))
            return new GateResult(false, $"{metric} is NaN, and a comparison with NaN fails");
        if (double.IsNaN(threshold))
            return new GateResult(false, $"the threshold of {metric} is NaN, and a comparison with NaN fails");
        var holds = op switch
        {
            ">=" => value >= threshold,
            ">" => value > threshold,
            "<=" => value <= threshold,
            "<" => value < threshold,
            "==" => value == threshold,
            "!=" => value != threshold,
            _ => throw new ArgumentException($"Unknown gate operator '{op}'; expected one of {string.Join(", ", Operators)}.", nameof(op)),
        };
        return holds ? new GateResult(true, null) : new GateResult(false, $"{metric} = {Format(value)} is not {op} {Format(threshold)}");
    }

    /// <summary>A metric value as gates print it: up to six significant digits, invariant culture.</summary>
    public static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

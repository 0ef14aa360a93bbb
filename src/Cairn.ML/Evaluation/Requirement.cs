using System.Globalization;
using System.Text.RegularExpressions;

namespace Cairn.ML.Evaluation;

/// <summary>A gate on one metric, e.g. <c>accuracy &gt;= 0.85</c> (a <c>metrics.</c> prefix is allowed).</summary>
public sealed partial record Requirement(string Text, string Metric, string Operator, double Threshold)
{
    public static Requirement Parse(string text, string field = "--require")
    {
        var match = Pattern().Match(text ?? "");
        if (!match.Success || !double.TryParse(match.Groups[3].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold))
            throw new InvalidParameterValueException($"Invalid value '{text}' for '{field}': expected '<metric> <op> <number>' with op one of >=, >, <=, <, ==, !=, e.g. \"accuracy >= 0.85\".");
        return new Requirement(text!.Trim(), match.Groups[1].Value, match.Groups[2].Value, threshold);
    }

    public bool Holds(double value) => Operator switch
    {
        ">=" => value >= Threshold,
        ">" => value > Threshold,
        "<=" => value <= Threshold,
        "<" => value < Threshold,
        "==" => value == Threshold,
        _ => value != Threshold,
    };

    [GeneratedRegex(@"^\s*(?:metrics\.)?([A-Za-z0-9_.\-]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$")]
    private static partial Regex Pattern();
}

/// <summary>A requirement with the metric value it was checked against.</summary>
public sealed record RequirementOutcome(Requirement Requirement, double Value, bool Passed);

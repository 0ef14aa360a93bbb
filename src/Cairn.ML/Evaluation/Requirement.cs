using Cairn.Metrics;

namespace Cairn.ML.Evaluation;

/// <summary>
/// A gate on one metric of an evaluation, e.g. <c>accuracy &gt;= 0.85</c> (a <c>metrics.</c> prefix is allowed), parsed and
/// compared by <see cref="Gate"/>, the one gate grammar (shared with promotion rules).
/// </summary>
public sealed record Requirement(string Text, string Metric, string Operator, double Threshold)
{
    /// <summary>Parses a requirement; a malformed one is an error naming <paramref name="field"/>, the text and the rule.</summary>
    public static Requirement Parse(string text, string field = "--require")
    {
        var gate = Gate.Parse(text, GateSyntax.Requirement(field));
        // Without a reference in the syntax, a parsed gate always has a number.
        return new Requirement(gate.Text, gate.Metric, gate.Operator, gate.Threshold ?? double.NaN);
    }

    /// <summary>Whether <paramref name="value"/> meets the requirement; never when it is NaN.</summary>
    public bool Holds(double value) => Check(value).Passed;

    /// <summary>The comparison of <paramref name="value"/> with the threshold, and why it failed.</summary>
    public GateResult Check(double value) => Gate.Compare(Metric, value, Operator, Threshold);
}

/// <summary>A requirement with the metric value it was checked against.</summary>
public sealed record RequirementOutcome(Requirement Requirement, double Value, bool Passed)
{
    /// <summary>Why the requirement failed (e.g. that the value is NaN), or null when it passed.</summary>
    public string? Reason => Requirement.Check(Value).Reason;
}

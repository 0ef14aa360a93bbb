using System.Globalization;
using System.Text.RegularExpressions;

namespace Cairn.Registry;

/// <summary>
/// One promotion gate: <c>metrics.KEY OP THRESHOLD</c>, where THRESHOLD is a number (<c>metrics.auc &gt;= 0.80</c>) or the
/// alias being promoted to (<c>metrics.auc &gt;= champion</c>: compare with the version the alias points at now, through
/// each version's run's latest metric). OP is one of &gt;=, &gt;, &lt;=, &lt;, ==, !=.
/// </summary>
public sealed partial record PromotionRule(string Text, string MetricKey, string Operator, double? Threshold, string? AgainstAlias)
{
    [GeneratedRegex(@"^\s*metrics\.(?<key>[\w\-./: ]+?)\s*(?<op>>=|<=|==|!=|>|<)\s*(?<rhs>\S+)\s*$")]
    private static partial Regex Syntax();

    /// <summary>Parses a rule; a rule that compares with an alias must name the alias being promoted.</summary>
    public static PromotionRule Parse(string? text, string alias)
    {
        text ??= "";
        var match = Syntax().Match(text);
        if (!match.Success)
            throw new InvalidParameterValueException($"Invalid promotion rule '{text}': expected 'metrics.KEY OP VALUE' with OP one of >=, >, <=, <, ==, != and VALUE a number or the alias '{alias}', e.g. 'metrics.auc >= {alias}'.");
        var key = match.Groups["key"].Value;
        var op = match.Groups["op"].Value;
        var rhs = match.Groups["rhs"].Value;
        if (double.TryParse(rhs, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold))
            return new PromotionRule(text, key, op, threshold, null);
        if (rhs != alias)
            throw new InvalidParameterValueException($"Invalid promotion rule '{text}': '{rhs}' is neither a number nor the alias being promoted ('{alias}').");
        return new PromotionRule(text, key, op, null, rhs);
    }

    /// <summary>Whether <paramref name="candidate"/> satisfies the rule against <paramref name="threshold"/>.</summary>
    public bool Holds(double candidate, double threshold) => Operator switch
    {
        ">=" => candidate >= threshold,
        ">" => candidate > threshold,
        "<=" => candidate <= threshold,
        "<" => candidate < threshold,
        "==" => candidate == threshold,
        _ => candidate != threshold,
    };

    /// <summary>
    /// Checks every rule; the first failure throws <see cref="InvalidStateException"/> naming the rule, the candidate's
    /// value and the threshold. <paramref name="holderMetrics"/> is null when no version holds the alias yet, in which case
    /// rules against the alias hold (there is nothing to beat on a first promotion).
    /// </summary>
    public static void Check(IReadOnlyList<PromotionRule> rules, string candidateVersion, IReadOnlyDictionary<string, double> candidateMetrics,
        string? holderVersion, IReadOnlyDictionary<string, double>? holderMetrics)
    {
        foreach (var rule in rules)
        {
            if (!candidateMetrics.TryGetValue(rule.MetricKey, out var value))
                throw new InvalidStateException($"Promotion refused: rule '{rule.Text}' failed: candidate version {candidateVersion} has no metric '{rule.MetricKey}' (its run logged none, or it has no run).");
            double threshold;
            string thresholdText;
            if (rule.Threshold is { } fixedThreshold)
            {
                threshold = fixedThreshold;
                thresholdText = Format(threshold);
            }
            else
            {
                if (holderMetrics is null) continue;
                if (!holderMetrics.TryGetValue(rule.MetricKey, out threshold))
                    throw new InvalidStateException($"Promotion refused: rule '{rule.Text}' failed: version {holderVersion}, which holds '{rule.AgainstAlias}', has no metric '{rule.MetricKey}' to compare with.");
                thresholdText = $"{Format(threshold)} ('{rule.AgainstAlias}' = version {holderVersion})";
            }
            if (double.IsNaN(value) || !rule.Holds(value, threshold))
                throw new InvalidStateException($"Promotion refused: rule '{rule.Text}' failed: candidate version {candidateVersion} has {rule.MetricKey} = {Format(value)}, threshold {rule.Operator} {thresholdText}.");
        }
    }

    private static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

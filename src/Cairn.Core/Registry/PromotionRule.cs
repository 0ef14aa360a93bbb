using Cairn.Metrics;

namespace Cairn.Registry;

/// <summary>
/// One promotion gate: <c>metrics.KEY OP THRESHOLD</c>, where THRESHOLD is a number (<c>metrics.auc &gt;= 0.80</c>) or the
/// alias being promoted to (<c>metrics.auc &gt;= champion</c>: compare with the version the alias points at now, through
/// each version's run's latest metric). OP is one of &gt;=, &gt;, &lt;=, &lt;, ==, !=. Parsed and compared by <see cref="Gate"/>,
/// the one gate grammar (shared with <c>cairn evaluate --require</c>).
/// </summary>
public sealed record PromotionRule(string Text, string MetricKey, string Operator, double? Threshold, string? AgainstAlias)
{
    /// <summary>Parses a rule; a rule that compares with an alias must name the alias being promoted.</summary>
    public static PromotionRule Parse(string? text, string alias)
    {
        var gate = Gate.Parse(text, GateSyntax.Promotion(alias));
        return new PromotionRule(gate.Text, gate.Metric, gate.Operator, gate.Threshold, gate.Reference);
    }

    /// <summary>Whether <paramref name="candidate"/> satisfies the rule against <paramref name="threshold"/> (never when either is NaN).</summary>
    public bool Holds(double candidate, double threshold) => Gate.Compare(MetricKey, candidate, Operator, threshold).Passed;

    /// <summary>
    /// Checks every rule; the first failure throws <see cref="PromotionRefusedException"/> (INVALID_STATE) naming the rule, the candidate's
    /// value and the threshold (and, when a side is NaN, that a comparison with NaN fails). <paramref name="holderMetrics"/>
    /// is null when no version holds the alias yet, in which case rules against the alias hold (there is nothing to beat
    /// on a first promotion).
    /// </summary>
    public static void Check(IReadOnlyList<PromotionRule> rules, string candidateVersion, IReadOnlyDictionary<string, double> candidateMetrics,
        string? holderVersion, IReadOnlyDictionary<string, double>? holderMetrics)
    {
        foreach (var rule in rules)
        {
            if (!candidateMetrics.TryGetValue(rule.MetricKey, out var value))
                throw new PromotionRefusedException($"Promotion refused: rule '{rule.Text}' failed: candidate version {candidateVersion} has no metric '{rule.MetricKey}' (its run logged none, or it has no run).", rule.Text);
            double threshold;
            string thresholdText;
            if (rule.Threshold is { } fixedThreshold)
            {
                threshold = fixedThreshold;
                thresholdText = Gate.Format(threshold);
            }
            else
            {
                if (holderMetrics is null) continue;
                if (!holderMetrics.TryGetValue(rule.MetricKey, out threshold))
                    throw new PromotionRefusedException($"Promotion refused: rule '{rule.Text}' failed: version {holderVersion}, which holds '{rule.AgainstAlias}', has no metric '{rule.MetricKey}' to compare with.", rule.Text);
                thresholdText = $"{Gate.Format(threshold)} ('{rule.AgainstAlias}' = version {holderVersion})";
            }
            var result = Gate.Compare(rule.MetricKey, value, rule.Operator, threshold);
            if (!result.Passed)
                throw new PromotionRefusedException($"Promotion refused: rule '{rule.Text}' failed: candidate version {candidateVersion} has {rule.MetricKey} = {Gate.Format(value)}, threshold {rule.Operator} {thresholdText}"
                    + (double.IsNaN(value) || double.IsNaN(threshold) ? $" ({result.Reason})." : "."), rule.Text);
        }
    }
}

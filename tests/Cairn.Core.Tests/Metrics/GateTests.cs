using Cairn.Metrics;
using Cairn.Registry;

namespace Cairn.Tests.Metrics;

/// <summary>The one gate grammar, as <c>cairn evaluate --require</c> and promotion rules (CLI and REST) write it.</summary>
public sealed class GateTests
{
    [Theory]
    [InlineData("accuracy >= 0.85", "accuracy", ">=", 0.85)]
    [InlineData("  metrics.auc>0.9 ", "auc", ">", 0.9)]
    [InlineData("log_loss<=1e-2", "log_loss", "<=", 0.01)]
    [InlineData("r2 < -0.5", "r2", "<", -0.5)]
    [InlineData("val-loss/step:2 == 3", "val-loss/step:2", "==", 3.0)]
    [InlineData("metrics.train loss != .5", "train loss", "!=", 0.5)]
    public void Requirements_parse_into_metric_operator_and_number(string text, string metric, string op, double threshold)
    {
        var gate = Gate.Parse(text);

        Assert.Equal((text.Trim(), metric, op, (double?)threshold, (string?)null), (gate.Text, gate.Metric, gate.Operator, gate.Threshold, gate.Reference));
    }

    [Theory]
    [InlineData("accuracy >> 1", "'>' is followed by '>'")]
    [InlineData("accuracy = 1", "'=' at position 10 is not an operator")]
    [InlineData("accuracy 0.8", "no comparison operator")]
    [InlineData(">= 0.8", "no metric before '>='")]
    [InlineData("accuracy >=", "nothing after '>='")]
    [InlineData("accuracy >= champion", "'champion' is not a number")]
    [InlineData("accuracy >= 0.8 and auc > 0.9", "unexpected 'and auc > 0.9'")]
    [InlineData("acc(1) >= 0.8", "the metric 'acc(1)' holds '('")]
    [InlineData("accuracy >= NaN", "the threshold is NaN")]
    [InlineData("metrics. >= 1", "no metric name after 'metrics.'")]
    [InlineData("", "it is empty")]
    public void Malformed_requirements_name_the_field_the_text_and_the_rule(string text, string problem)
    {
        var error = Assert.Throws<InvalidParameterValueException>(() => Gate.Parse(text, GateSyntax.Requirement("--require")));

        Assert.StartsWith($"Invalid value '{text.Trim()}' for '--require': ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains("OP one of >=, >, <=, <, ==, !=", error.Message);
    }

    [Fact]
    public void Promotion_rules_need_the_metrics_prefix_and_may_name_the_alias_being_promoted()
    {
        var against = Gate.Parse("metrics.auc >= champion", GateSyntax.Promotion("champion"));
        Assert.Equal(("auc", (double?)null, (string?)"champion"), (against.Metric, against.Threshold, against.Reference));
        Assert.Equal(0.8, Gate.Parse("metrics.auc >= 0.80", GateSyntax.Promotion("champion")).Threshold);

        var unprefixed = Assert.Throws<InvalidParameterValueException>(() => Gate.Parse("auc >= 0.5", GateSyntax.Promotion("champion")));
        Assert.Contains("'requirements'", unprefixed.Message);
        Assert.Contains("must be written 'metrics.auc'", unprefixed.Message);
        var otherAlias = Assert.Throws<InvalidParameterValueException>(() => PromotionRule.Parse("metrics.auc >= challenger", "champion"));
        Assert.Contains("'challenger' is neither a number nor the alias being promoted ('champion')", otherAlias.Message);
    }

    [Theory]
    [InlineData(">=", 0.8, 0.8, true)]
    [InlineData(">", 0.8, 0.8, false)]
    [InlineData("<=", 0.7, 0.8, true)]
    [InlineData("<", 0.8, 0.8, false)]
    [InlineData("==", 0.8, 0.8, true)]
    [InlineData("!=", 0.8, 0.8, false)]
    [InlineData("!=", 0.7, 0.8, true)]
    public void Comparisons_hold_as_their_operators_say(string op, double value, double threshold, bool holds)
    {
        var result = Gate.Compare("auc", value, op, threshold);

        Assert.Equal(holds, result.Passed);
        Assert.Equal(holds, result.Reason is null);
    }

    [Theory]
    [InlineData(">=")]
    [InlineData("<")]
    [InlineData("==")]
    [InlineData("!=")]
    public void A_comparison_with_nan_fails_whatever_the_operator_and_says_so(string op)
    {
        var gate = Gate.Parse($"auc {op} 0.5");

        var nanValue = gate.Check(double.NaN);
        var nanThreshold = gate.Check(0.7, double.NaN);

        Assert.False(nanValue.Passed);
        Assert.Equal("auc is NaN, and a comparison with NaN fails", nanValue.Reason);
        Assert.False(nanThreshold.Passed);
        Assert.Contains("threshold of auc is NaN", nanThreshold.Reason);
    }

    [Fact]
    public void A_promotion_against_a_nan_metric_is_refused_naming_nan()
    {
        var rules = new[] { PromotionRule.Parse("metrics.auc != champion", "champion") };

        var candidateNaN = Assert.Throws<PromotionRefusedException>(() =>
            PromotionRule.Check(rules, "2", new Dictionary<string, double> { ["auc"] = double.NaN }, "1", new Dictionary<string, double> { ["auc"] = 0.8 }));
        var holderNaN = Assert.Throws<PromotionRefusedException>(() =>
            PromotionRule.Check(rules, "2", new Dictionary<string, double> { ["auc"] = 0.9 }, "1", new Dictionary<string, double> { ["auc"] = double.NaN }));

        Assert.Contains("auc = NaN", candidateNaN.Message);
        Assert.Contains("a comparison with NaN fails", candidateNaN.Message);
        Assert.Contains("threshold of auc is NaN", holderNaN.Message);
        PromotionRule.Check(rules, "2", new Dictionary<string, double> { ["auc"] = 0.9 }, "1", new Dictionary<string, double> { ["auc"] = 0.8 });
    }

    [Fact]
    public void A_gate_longer_than_the_bound_is_refused()
    {
        var error = Assert.Throws<InvalidParameterValueException>(() => Gate.Parse("a" + new string(' ', 2000) + ">= 1"));
        Assert.Contains("at most 1000 characters", error.Message);
    }
}

using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>Every condition form the rules accept, evaluated on real windows, and the refusals of bad conditions.</summary>
public sealed class AlertConditionParserTests
{
    private static bool? Eval(string condition, MonitorWindow window) => AlertConditionParser.Parse("alert rule 'r'", condition).Condition.Evaluate(window);

    private static string Refusal(string condition) =>
        Assert.Throws<InvalidParameterValueException>(() => AlertConditionParser.Parse("alert rule 'r'", condition)).Message;

    [Fact]
    public void The_issue_examples_parse_and_evaluate()
    {
        var drifting = AlertWindows.Window(0, features: [AlertWindows.Feature("tenure", 0.3), AlertWindows.Feature("plan", 0.02, numeric: false)]);
        var calm = AlertWindows.Window(1);
        Assert.True(Eval("drift.share > 0.3", drifting));   // 1 of 2 features drifted: 0.5
        Assert.False(Eval("drift.share > 0.3", calm));      // 0
        Assert.True(Eval("psi(feature=tenure) > 0.2", drifting));
        Assert.False(Eval("psi(feature=tenure) > 0.2", calm));
        Assert.True(Eval("prediction_log.drops > 0", AlertWindows.Window(2, drops: 3)));
        Assert.False(Eval("prediction_log.drops > 0", calm));

        var parsed = AlertConditionParser.Parse("alert rule 'r'", "accuracy < 0.8 for 2 windows");
        Assert.Equal(2, parsed.ForWindows);
        Assert.True(parsed.Condition.Evaluate(AlertWindows.Window(3, performance: new Dictionary<string, double> { ["accuracy"] = 0.7 })));
        Assert.False(parsed.Condition.Evaluate(AlertWindows.Window(3, performance: new Dictionary<string, double> { ["accuracy"] = 0.85 })));
        Assert.Null(AlertConditionParser.Parse("alert rule 'r'", "drift.share > 0.3").ForWindows);
        Assert.Equal(1, AlertConditionParser.Parse("alert rule 'r'", "rows > 0 for 1 window").ForWindows);
    }

    [Theory]
    [InlineData("psi(feature=tenure) >= 0.3", true)]
    [InlineData("js(feature=tenure) == 0.15", true)]
    [InlineData("wasserstein(feature=tenure) > 1.4", true)]
    [InlineData("wasserstein_normalized(feature=tenure) < 0.2", true)]
    [InlineData("ks.p_value(feature=tenure) < 0.01", true)]
    [InlineData("ks.statistic(feature=tenure) <= 0.2", true)]
    [InlineData("chi2.p_value(feature=plan) < 0.05", true)]
    [InlineData("chi2.statistic(feature=plan) != 12", false)]
    [InlineData("drift.score(feature=\"tenure\") > 0.29", true)]
    [InlineData("drifted(feature='plan') == true", true)]
    [InlineData("drift.dataset == true", true)]
    [InlineData("drift.share >= 1", true)]
    [InlineData("rows > 499", true)]
    [InlineData("labeled_rows == 0", true)]
    public void Per_feature_and_dataset_statistics_read_the_window(string condition, bool expected)
    {
        var window = AlertWindows.Window(0, features:
        [
            AlertWindows.Feature("tenure", 0.3, ksP: 0.001),
            AlertWindows.Feature("plan", 0.4, numeric: false, chi2P: 0.01),
        ]);
        Assert.Equal(expected, Eval(condition, window));
    }

    [Theory]
    [InlineData("prediction.psi > 0.2", true)]
    [InlineData("prediction.js < 0.1", false)]
    [InlineData("prediction.ks.p_value < 0.05", true)]
    [InlineData("prediction.wasserstein >= 1.5", true)]
    [InlineData("prediction.drifted == 1", true)]
    public void Prediction_drift_statistics_read_the_prediction(string condition, bool expected)
    {
        var window = AlertWindows.Window(0, prediction: AlertWindows.Feature("prediction", 0.25, ksP: 0.01));
        Assert.Equal(expected, Eval(condition, window));
        Assert.Null(Eval(condition, AlertWindows.Window(1))); // no prediction drift in the window: unknown
    }

    [Theory]
    [InlineData("accuracy")]
    [InlineData("precision")]
    [InlineData("recall")]
    [InlineData("f1")]
    [InlineData("auc")]
    [InlineData("rmse")]
    [InlineData("mae")]
    [InlineData("r2")]
    public void Every_performance_metric_is_known_and_unknown_until_labels_arrive(string metric)
    {
        var labelled = AlertWindows.Window(0, performance: new Dictionary<string, double> { [metric] = 0.75 });
        Assert.True(Eval($"{metric} < 0.8", labelled));
        Assert.False(Eval($"{metric} > 0.8", labelled));
        Assert.Null(Eval($"{metric} < 0.8", AlertWindows.Window(1)));
    }

    [Fact]
    public void Training_metrics_can_be_compared_too()
    {
        Assert.True(Eval("training.accuracy >= 0.9", AlertWindows.Window(0)));
        Assert.Null(Eval("training.auc > 0", AlertWindows.Window(0)));
    }

    [Fact]
    public void And_or_and_parentheses_follow_three_valued_logic()
    {
        var window = AlertWindows.Window(0, drops: 2); // no labels: accuracy is unknown
        Assert.True(Eval("prediction_log.drops > 0 or accuracy < 0.8", window));   // true or unknown
        Assert.Null(Eval("prediction_log.drops > 5 or accuracy < 0.8", window));   // false or unknown
        Assert.False(Eval("prediction_log.drops > 5 and accuracy < 0.8", window)); // false and unknown
        Assert.Null(Eval("prediction_log.drops > 0 and accuracy < 0.8", window));  // true and unknown
        Assert.True(Eval("(rows > 1000 or rows < 600) and drift.share < 0.5", window));
        Assert.False(Eval("rows > 1000 or rows < 600 and drift.share > 0.5", window)); // and binds tighter
    }

    [Fact]
    public void A_signal_absent_from_the_window_is_unknown()
    {
        Assert.Null(Eval("drift.share > 0.3", AlertWindows.Window(0, noDrift: true)));
        var empty = AlertWindows.Feature("tenure", 0.5) with { CurrentCount = 0 }; // no current values: nothing compared
        Assert.Null(Eval("drift.share >= 0", AlertWindows.Window(0, features: [empty])));
        Assert.Null(Eval("drift.dataset == false", AlertWindows.Window(0, features: [empty])));
        Assert.Null(Eval("psi(feature=tenure) > 0", AlertWindows.Window(0, features: [empty])));
        Assert.Null(Eval("psi(feature=age) > 0.2", AlertWindows.Window(0)));
        Assert.Null(Eval("ks.p_value(feature=plan) < 0.05", AlertWindows.Window(0))); // categorical: no KS
        Assert.Null(Eval("chi2.p_value(feature=tenure) < 0.05", AlertWindows.Window(0))); // numeric: no chi-square
    }

    [Fact]
    public void The_values_of_a_condition_name_each_signal()
    {
        var condition = AlertConditionParser.Parse("alert rule 'r'", "psi(feature=tenure) > 0.2 and accuracy < 0.8").Condition;
        var values = condition.Values(AlertWindows.Psi(0, 0.35));
        Assert.Equal(0.35, values["psi(feature=tenure)"]);
        Assert.Null(values["accuracy"]);
    }

    [Theory]
    [InlineData("", "'condition' is empty")]
    [InlineData("drift.share", "position 12: 'drift.share' needs a comparison")]
    [InlineData("drift.share > ", "position 15: expected a number after '>'")]
    [InlineData("drift.share > high", "position 15: expected a number after '>', not 'high'")]
    [InlineData("drift.share = 0.3", "position 13: expected a comparison operator")]
    [InlineData("drift.sharee > 0.3", "position 1: unknown signal 'drift.sharee'")]
    [InlineData("psi > 0.2", "position 1: 'psi' needs a feature: psi(feature=NAME)")]
    [InlineData("psi(tenure) > 0.2", "position 5: expected 'feature=NAME'")]
    [InlineData("psi(feature=tenure > 0.2", "position 20: expected ')' after the feature name")]
    [InlineData("accuracy(feature=x) < 0.8", "position 1: 'accuracy' takes no feature")]
    [InlineData("accuracy < 0.8 for 0 windows", "position 20: 'for' needs a whole number of windows from 1 to 1000")]
    [InlineData("accuracy < 0.8 for 2", "position 21: expected 'windows'")]
    [InlineData("accuracy < 0.8 for 2 windows and rows > 1", "position 30: unexpected 'and'")]
    [InlineData("accuracy < 0.8 rows > 1", "position 16: unexpected 'rows'")]
    [InlineData("(accuracy < 0.8", "position 16: expected ')'")]
    [InlineData("accuracy < 0.8 ; drop table", "position 16: unexpected character ';'")]
    [InlineData("accuracy ! 0.8", "position 10: '!' must be followed by '='")]
    [InlineData("psi(feature='tenure) > 1", "position 13: a quoted name is not closed")]
    [InlineData("rows > 1e999", "position 8: expected a number")]
    public void Bad_conditions_are_refused_naming_the_rule_and_the_position(string condition, string expected)
    {
        var message = Refusal(condition);
        Assert.StartsWith("alert rule 'r': ", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Conditions_are_bounded_in_length_terms_and_nesting()
    {
        Assert.Contains("at most 2000", Refusal(new string(' ', 2001) + "rows > 1"), StringComparison.Ordinal);
        var many = string.Join(" or ", Enumerable.Range(0, 33).Select(i => $"rows > {i}"));
        Assert.Contains("more than 32 comparisons", Refusal(many), StringComparison.Ordinal);
        var fine = string.Join(" or ", Enumerable.Range(0, 32).Select(i => $"rows > {i}"));
        Assert.True(Eval(fine, AlertWindows.Window(0)));
        Assert.Contains("nest deeper than 8", Refusal(new string('(', 9) + "rows > 1" + new string(')', 9)), StringComparison.Ordinal);
        Assert.True(Eval(new string('(', 8) + "rows > 1" + new string(')', 8), AlertWindows.Window(0)));
    }
}

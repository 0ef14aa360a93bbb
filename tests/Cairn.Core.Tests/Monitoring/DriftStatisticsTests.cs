using Cairn.Monitoring;

namespace Cairn.Tests.Monitoring;

/// <summary>Small cases worked out by hand (the comments show the arithmetic), the sort, the options' refusals and the dataset rule.</summary>
public sealed class DriftStatisticsTests
{
    private static DriftReport Compare(IReadOnlyList<DriftColumn> columns, DriftOptions options) =>
        DriftAnalyzer.Compare(columns, options, null, TestContext.Current.CancellationToken);

    [Fact]
    public void Ks_of_two_four_value_samples_is_one_half_with_the_exact_p_value_27_over_35()
    {
        // ECDF gaps at 2, 3 and 4 are 0.5; P(D_{4,4} >= 2/4) = 2 (C(8,2) - C(8,0)) / C(8,4) = 54 / 70.
        var result = KolmogorovSmirnov.Test([1, 2, 3, 4], [3, 4, 5, 6]);
        Assert.Equal(0.5, result.Statistic);
        Assert.Equal(27.0 / 35, result.PValue, 1e-12);
    }

    [Fact]
    public void Ks_of_identical_samples_is_zero_with_p_value_one()
    {
        var result = KolmogorovSmirnov.Test([1, 1, 2, 7], [1, 1, 2, 7]);
        Assert.Equal(new TestStatistic(0, 1), result);
    }

    [Fact]
    public void Wasserstein_is_the_area_between_the_cdfs()
    {
        Assert.Equal(5, DriftStatistics.Wasserstein([0, 1, 3], [5, 6, 8]), 12); // a shift by 5
        // [0, 1] against [0, 3]: CDFs agree on [0, 1), differ by 1/2 on [1, 3): area 1.
        Assert.Equal(1, DriftStatistics.Wasserstein([0, 1], [0, 3]), 12);
    }

    [Fact]
    public void Psi_and_js_of_a_half_half_split_against_a_quarter_three_quarters_split()
    {
        // PSI = (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3.
        Assert.Equal(0.25 * Math.Log(3), DriftStatistics.Psi([0.5, 0.5], [0.25, 0.75]), 14);
        // m = (0.375, 0.625); JS = sqrt((0.5 ln(4/3) + 0.5 ln(0.8) + 0.25 ln(2/3) + 0.75 ln(1.2)) / 2) = 0.18390779...
        Assert.Equal(0.1839077909404743, DriftStatistics.JensenShannon([0.5, 0.5], [0.25, 0.75]), 14);
    }

    [Fact]
    public void An_empty_bin_gets_the_epsilon_share_without_renormalising()
    {
        var shares = DriftStatistics.Shares([0, 3, 1]);
        Assert.Equal([1e-4, 0.75, 0.25], shares);
    }

    [Fact]
    public void Quantile_edges_of_one_to_ten_and_the_right_sided_bins()
    {
        double[] values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        // q (n - 1) = 0.9, 1.8, ..., 8.1 above the first value: 1.9, 2.8, ..., 9.1.
        var edges = DriftStatistics.QuantileEdges(values);
        Assert.Equal([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1], edges.Select(e => Math.Round(e, 12)));
        Assert.Equal(Enumerable.Repeat(1L, 10), DriftStatistics.BinCounts(values, edges));
        // A value equal to an edge goes to the bin that starts there: [e1, e2).
        Assert.Equal([0L, 2, 1], DriftStatistics.BinCounts([2, 2, 5], [2, 3]));
    }

    [Fact]
    public void Chi_square_of_a_two_by_two_table_uses_yates_correction()
    {
        // Expected 15 everywhere; |O - E| = 5 becomes 4.5: 4 x 4.5² / 15 = 5.4, p = P(chi2_1 >= 5.4).
        var result = DriftStatistics.ChiSquare([10, 20], [20, 10]);
        Assert.Equal(5.4, result.Statistic, 12);
        Assert.Equal(0.02013675155034633, result.PValue, 1e-9);
        // Three categories: no correction. Expected (15, 15, 10) for each row of 40; Σ (O - E)² / E = 2 (25/15 + 25/15 + 0).
        var three = DriftStatistics.ChiSquare([10, 20, 10], [20, 10, 10]);
        Assert.Equal(2 * (25.0 / 15 + 25.0 / 15), three.Statistic, 12);
        Assert.Equal(Math.Exp(-three.Statistic / 2), three.PValue, 12); // chi2 with 2 dof: sf = e^(-x/2)
    }

    [Fact]
    public void Sorting_drops_nan_orders_negatives_zeros_and_infinities()
    {
        var random = new Random(11);
        var values = Enumerable.Range(0, 50_000).Select(_ => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300))).ToList();
        values.AddRange([double.NaN, double.NegativeInfinity, double.PositiveInfinity, -0.0, 0.0, double.NaN, double.Epsilon, -double.MaxValue]);
        var sample = SortedSample.From([.. values]);
        Assert.Equal(2, sample.Missing);
        var expected = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        Assert.Equal(expected.Length, sample.Values.Length);
        for (var i = 0; i < expected.Length; i++) Assert.True(expected[i] == sample.Values[i], $"at {i}: {expected[i]} vs {sample.Values[i]}");
    }

    [Fact]
    public void Dataset_drift_is_the_share_of_scored_features_against_the_threshold()
    {
        double[] same = [.. Enumerable.Range(0, 200).Select(i => (double)i)];
        double[] shifted = [.. same.Select(v => v + 150)];
        var columns = new DriftColumn[]
        {
            new NumericDriftColumn("moved", same, shifted),
            new NumericDriftColumn("still", same, [.. same]),
            new NumericDriftColumn("empty", same, [.. same.Select(_ => double.NaN)]),
            new CategoricalDriftColumn("colour", ["a", "b", "a", null], ["c", "c", "c", "c"]),
        };
        var report = Compare(columns, new DriftOptions { DriftShare = 0.6 });
        Assert.Equal([true, false, false, true], report.Features.Select(f => f.Drifted));
        Assert.Equal("no values in the current sample", report.Features[2].Note);
        Assert.Equal(200, report.Features[2].CurrentMissing);
        Assert.Equal(1, report.Features[3].ReferenceMissing);
        Assert.Equal(1, report.Features[3].UnseenCategories);
        Assert.Equal(4, report.Features[3].UnseenRows);
        Assert.Equal(2.0 / 3, report.DriftShare, 12); // the empty feature is not scored
        Assert.True(report.DatasetDrift);
        Assert.False(Compare(columns, new DriftOptions { DriftShare = 0.7 }).DatasetDrift);
    }

    [Fact]
    public void Feature_rules_override_the_method_and_threshold()
    {
        double[] reference = [.. Enumerable.Range(0, 500).Select(i => (double)(i % 50))];
        double[] current = [.. reference.Select(v => v + 1)];
        var options = new DriftOptions();
        options.Thresholds[DriftMethod.Psi] = 5; // nothing reaches a PSI of 5
        var loose = Compare([new NumericDriftColumn("x", reference, current)], options).Features[0];
        Assert.False(loose.Drifted);
        Assert.Equal(5, loose.Threshold);
        options.Features["x"] = new FeatureRule(DriftMethod.Wasserstein, 0.05); // W = 1, std ≈ 14.4: normalised ≈ 0.069
        var strict = Compare([new NumericDriftColumn("x", reference, current)], options).Features[0];
        Assert.Equal(DriftMethod.Wasserstein, strict.Method);
        Assert.Equal(strict.WassersteinNormalized, strict.Score);
        Assert.True(strict.Drifted);
    }

    [Theory]
    [InlineData(DriftMethod.Ks, 1.0)]
    [InlineData(DriftMethod.Chi2, 0.0)]
    [InlineData(DriftMethod.Psi, -0.1)]
    [InlineData(DriftMethod.Js, double.PositiveInfinity)]
    [InlineData(DriftMethod.Wasserstein, double.NaN)]
    public void Bad_thresholds_are_refused_naming_the_method_and_rule(DriftMethod method, double value)
    {
        var options = new DriftOptions();
        options.Thresholds[method] = value;
        var error = Assert.Throws<InvalidParameterValueException>(options.Validate);
        Assert.Contains($"threshold {DriftOptions.NameOf(method)}", error.Message);
        Assert.Contains(DriftOptions.IsTest(method) ? "between 0 and 1" : "greater than 0", error.Message);
    }

    [Fact]
    public void A_method_of_the_wrong_type_is_refused_naming_the_feature()
    {
        var options = new DriftOptions();
        options.Features["colour"] = new FeatureRule(DriftMethod.Ks, null);
        var error = Assert.Throws<InvalidParameterValueException>(() =>
            Compare([new CategoricalDriftColumn("colour", ["a"], ["b"])], options));
        Assert.Contains("feature 'colour'", error.Message);
        Assert.Throws<InvalidParameterValueException>(() => new DriftOptions { NumericMethod = DriftMethod.Chi2 }.Validate());
        // A threshold without a method is checked against the method the column's type gets: chi2 wants a p-value.
        var noMethod = new DriftOptions { CategoricalMethod = DriftMethod.Chi2 };
        noMethod.Features["colour"] = new FeatureRule(null, 5);
        var refused = Assert.Throws<InvalidParameterValueException>(() =>
            Compare([new CategoricalDriftColumn("colour", ["a"], ["b"])], noMethod));
        Assert.Contains("feature colour", refused.Message);
        Assert.Contains("between 0 and 1", refused.Message);
        Assert.Throws<InvalidParameterValueException>(() => new DriftOptions { DriftShare = 0 }.Validate());
    }

    [Fact]
    public void Many_columns_in_parallel_give_the_same_results_as_one_at_a_time()
    {
        var random = new Random(5);
        var columns = Enumerable.Range(0, 16).Select(c => (DriftColumn)new NumericDriftColumn($"f{c}",
            [.. Enumerable.Range(0, 3000).Select(_ => random.NextDouble())],
            [.. Enumerable.Range(0, 2500).Select(_ => random.NextDouble() + c * 0.01)])).ToArray();
        var report = Compare(columns, new DriftOptions());
        for (var c = 0; c < columns.Length; c++)
            Assert.Equal(DriftAnalyzer.Numeric((NumericDriftColumn)columns[c], DriftMethod.Psi, 0.1) with { Histogram = null },
                report.Features[c] with { Histogram = null });
    }
}

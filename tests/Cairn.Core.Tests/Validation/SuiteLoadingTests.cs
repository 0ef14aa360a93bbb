using Cairn.Validation;

namespace Cairn.Tests.Validation;

/// <summary>Suite files: every kind read with its fields, and each kind of bad suite refused with one error naming the expectation and the field.</summary>
public sealed class SuiteLoadingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ExpectationSuite Parse(string yaml) => ExpectationSuite.Parse(yaml, "s.yaml", _dir.Path);

    private string Refused(string yaml) => Assert.Throws<InvalidParameterValueException>(() => Parse(yaml)).Message;

    private const string EveryKind = """
        name: customers
        expectations:
          - {kind: column_exists, column: age}
          - {kind: column_type, column: age, type: integer, severity: warn}
          - {kind: not_null, column: age, max_null_share: 0.05}
          - {kind: between, column: age, min: 0, max: 120, max_inclusive: false}
          - {kind: in_set, column: plan, values: [basic, pro]}
          - {kind: matches_regex, column: email, pattern: '^[^@]+@[^@]+$'}
          - {kind: unique, column: id}
          - {kind: row_count_between, min: 1, max: 1000000}
          - {kind: mean_between, column: age, min: 30, max: 50}
          - {kind: std_between, column: age, max: 20}
          - {kind: quantile_between, column: age, quantile: 0.9, min: 40, max: 80}
          - {kind: distribution_close, column: age, reference: data/train.csv, method: ks, threshold: 0.01}
        """;

    [Fact]
    public void Every_kind_is_read_with_its_fields()
    {
        var suite = Parse(EveryKind);
        Assert.Equal("customers", suite.Name);
        Assert.Equal(ExpectationSuite.Kinds.Order(), suite.Expectations.Select(e => e.Kind).Distinct().Order());
        Assert.Equal(Enumerable.Range(0, 12), suite.Expectations.Select(e => e.Index));
        Assert.Equal(Severity.Warn, suite.Expectations[1].Severity);
        Assert.Equal(Severity.Error, suite.Expectations[0].Severity);
        var between = Assert.IsType<BetweenExpectation>(suite.Expectations[3]);
        Assert.Equal(new Bounds(0, 120, true, false), between.Bounds);
        Assert.Null(suite.Expectations[7].Column);
        var quantile = Assert.IsType<StatisticExpectation>(suite.Expectations[10]);
        Assert.Equal((ColumnStatistic.Quantile, 0.9), (quantile.Statistic, quantile.Quantile));
        var distribution = Assert.IsType<DistributionExpectation>(suite.Expectations[11]);
        Assert.Equal(Path.Combine(_dir.Path, "data", "train.csv"), distribution.ReferencePath);
    }

    [Fact]
    public void The_writer_writes_what_the_loader_reads()
    {
        var suite = Parse(EveryKind);
        var again = Parse(SuiteWriter.ToYaml(suite, ["a comment"]));
        Assert.Equal(suite.Expectations.Select(e => (e.Kind, e.Column, e.Severity, e.Describe())), again.Expectations.Select(e => (e.Kind, e.Column, e.Severity, e.Describe())));
        Assert.Equal(suite.Name, again.Name);
    }

    [Fact]
    public void Names_and_values_with_yaml_syntax_in_them_survive_the_writer()
    {
        string[] odd = ["a: b", "#not a comment", "quote \" and 'single'", "- dash", "{x}", "line\nbreak", "ünïcödé", "null", "true", "1e5"];
        var data = new ColumnSet(40);
        foreach (var name in odd) data.Add(name, Enumerable.Range(0, 40).Select(i => odd[i % 2]).ToArray());
        var suite = SuiteSuggester.Suggest(data, "odd: name");
        var again = Parse(SuiteWriter.ToYaml(suite));
        Assert.Equal("odd: name", again.Name);
        Assert.Equal(suite.Expectations.Select(e => e.Column), again.Expectations.Select(e => e.Column));
        var set = Assert.IsType<InSetExpectation>(again.Expectations.First(e => e is InSetExpectation));
        Assert.Equal([odd[1], odd[0]], set.Values);
        Assert.True(SuiteValidator.Validate(again, data, cancellationToken: TestContext.Current.CancellationToken).Success);
    }

    [Theory]
    [InlineData("expectations:\n  - {kind: between, column: age, min: 0, maximum: 3}", "s.yaml: expectation 0 (between): field 'maximum' is not a field of between (allowed: kind, severity, column, min, max, min_inclusive, max_inclusive).")]
    [InlineData("expectations: []\nowner: me", "s.yaml: unknown top-level field 'owner' (allowed: name, expectations).")]
    [InlineData("expectations:\n  - {kind: column_exists, column: a}\n  - {kind: matches_regex, column: email, pattern: '[a-'}", "s.yaml: expectation 1 (matches_regex): field 'pattern' is not a valid regular expression")]
    [InlineData("expectations:\n  - {kind: between, column: age, min: 10, max: 1}", "s.yaml: expectation 0 (between): field 'min' (10) is greater than 'max' (1), so nothing can pass.")]
    [InlineData("expectations:\n  - {kind: between, column: age, min: 1, max: 1, min_inclusive: false}", "s.yaml: expectation 0 (between): field 'min' equals 'max' (1) with an exclusive bound, so nothing can pass.")]
    [InlineData("expectations:\n  - {kind: mean_between, min: 1}", "s.yaml: expectation 0 (mean_between): field 'column' is missing; name the column the expectation is about.")]
    [InlineData("expectations:\n  - {kind: between, column: age}", "s.yaml: expectation 0 (between): field 'min' and 'max' are both missing; give at least one.")]
    [InlineData("expectations:\n  - {column: age}", "s.yaml: expectation 0: field 'kind' is missing; expected one of")]
    [InlineData("expectations:\n  - {kind: no_such, column: age}", "s.yaml: expectation 0: field 'kind' is 'no_such'; expected one of")]
    [InlineData("expectations:\n  - {kind: column_type, column: age, type: float}", "s.yaml: expectation 0 (column_type): field 'type' is 'float'; expected numeric, integer, string or boolean.")]
    [InlineData("expectations:\n  - {kind: not_null, column: age, max_null_share: 1.5}", "s.yaml: expectation 0 (not_null): field 'max_null_share' is 1.5; it must lie between 0 and 1.")]
    [InlineData("expectations:\n  - {kind: unique, column: id, severity: fatal}", "s.yaml: expectation 0 (unique): field 'severity' is 'fatal'; expected error or warn.")]
    [InlineData("expectations:\n  - {kind: in_set, column: plan, values: []}", "s.yaml: expectation 0 (in_set): field 'values' is empty; list at least one allowed value.")]
    [InlineData("expectations:\n  - {kind: row_count_between, min: 2.5}", "s.yaml: expectation 0 (row_count_between): field 'min' is 2.5; a row count is a whole number >= 0.")]
    [InlineData("expectations:\n  - {kind: quantile_between, column: a, min: 1}", "s.yaml: expectation 0 (quantile_between): field 'quantile' is missing; give the level, e.g. 0.5 for the median.")]
    [InlineData("expectations:\n  - {kind: mean_between, column: a, min: abc}", "s.yaml: expectation 0 (mean_between): field 'min' is 'abc'; expected a finite number.")]
    [InlineData("expectations:\n  - {kind: distribution_close, column: a, reference: ../secret.csv}", "s.yaml: expectation 0 (distribution_close): field 'reference' '../secret.csv' has a '..' segment; it must be relative to the suite's folder and stay inside it.")]
    [InlineData("expectations:\n  - {kind: distribution_close, column: a, reference: /etc/passwd}", "s.yaml: expectation 0 (distribution_close): field 'reference' '/etc/passwd' is absolute")]
    [InlineData("expectations:\n  - {kind: distribution_close, column: a, reference: r.csv, method: chi3}", "s.yaml: expectation 0 (distribution_close): field 'method' is 'chi3'; expected psi, js, ks, wasserstein or chi2.")]
    [InlineData("expectations:\n  - {kind: distribution_close, column: a, reference: r.csv, method: ks, threshold: 5}", "s.yaml: expectation 0 (distribution_close): field 'threshold' is 5; a ks threshold is a p-value between 0 and 1 (exclusive).")]
    [InlineData("expectations:\n  - {kind: column_exists, column: [a, b]}", "s.yaml: expectation 0 (column_exists): field 'column' must be a single value, not a list or mapping.")]
    [InlineData("name: x", "s.yaml: field 'expectations' is missing or not a list")]
    [InlineData("expectations: [", "s.yaml: line ")]
    public void A_bad_suite_is_refused_with_one_error_naming_the_expectation_and_the_field(string yaml, string message)
    {
        var error = Refused(yaml);
        Assert.StartsWith(message, error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Patterns_and_lists_are_bounded()
    {
        var longPattern = new string('a', ExpectationSuite.MaxPatternLength + 1);
        Assert.Contains("has 1001 characters; at most 1000 are allowed", Refused($"expectations:\n  - {{kind: matches_regex, column: e, pattern: {longPattern}}}"));
        var many = string.Concat(Enumerable.Range(0, ExpectationSuite.MaxSetValues + 1).Select(i => $"{i},"));
        Assert.Contains("has 10001 values; at most 10000 are allowed", Refused($"expectations:\n  - {{kind: in_set, column: e, values: [{many.TrimEnd(',')}]}}"));
        var suite = string.Concat(Enumerable.Range(0, ExpectationSuite.MaxExpectations + 1).Select(_ => "  - {kind: unique, column: a}\n"));
        Assert.Contains("has 10001 entries; a suite holds at most 10000", Refused("expectations:\n" + suite));
    }

    [Fact]
    public void A_missing_suite_file_is_not_found()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ExpectationSuite.Load(Path.Combine(_dir.Path, "none.yaml")));
        Assert.Contains("suite file not found", error.Message);
    }
}

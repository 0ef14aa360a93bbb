using Cairn.Validation;

namespace Cairn.Tests.Validation;

/// <summary>
/// Every kind of expectation on small in-memory columns, once holding and once broken, with the observed value, the count of
/// unexpected values and their first examples and rows.
/// </summary>
public sealed class SuiteValidatorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>age: 10 rows with one missing; plan: categories; email: one malformed; id: one duplicate; flag: booleans.</summary>
    private static ColumnSet Data() => new ColumnSet(10)
        .Add("age", [20, 31, 42, double.NaN, 25, 38, 61, 19, 44, 50])
        .Add("plan", ["basic", "pro", "basic", "pro", "team", "basic", null, "pro", "basic", "pro"])
        .Add("email", ["a@x.io", "b@x.io", "c@x.io", "not-an-email", "e@x.io", "f@x.io", "g@x.io", "h@x.io", "i@x.io", "j@x.io"])
        .Add("id", ["1", "2", "3", "4", "5", "6", "7", "8", "8", "10"])
        .Add("flag", ["true", "False", "TRUE", "false", "true", "true", "false", "true", "false", "true"])
        .Add("score", ["0.5", "1.5", "2", null, "3", "x", "4", "5", "6", "7"]);

    private ValidationReport Run(string expectations, IColumnSource? data = null) =>
        SuiteValidator.Validate(ExpectationSuite.Parse("expectations:\n" + expectations, "suite.yaml", _dir.Path), data ?? Data(),
            path => ReadCsv(path), cancellationToken: TestContext.Current.CancellationToken);

    private static ExpectationResult One(ValidationReport report) => Assert.Single(report.Results);

    /// <summary>A tiny CSV reader for the reference files these tests write (the CLI tests use the project's reader).</summary>
    private static ColumnSet ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var names = lines[0].Split(',');
        var set = new ColumnSet(lines.Length - 1);
        for (var c = 0; c < names.Length; c++)
            set.Add(names[c], lines.Skip(1).Select(l => l.Split(',')[c] is { Length: > 0 } v ? v : null).ToArray());
        return set;
    }

    [Fact]
    public void Column_exists_holds_for_a_column_and_fails_for_a_missing_one()
    {
        Assert.True(One(Run("- {kind: column_exists, column: age}")).Success);
        var missing = One(Run("- {kind: column_exists, column: income}"));
        Assert.False(missing.Success);
        Assert.Equal("missing column", missing.Observed);
        Assert.Contains("no column 'income'", missing.Note);
    }

    [Fact]
    public void Column_type_infers_integer_numeric_boolean_and_string_and_counts_the_values_of_another_type()
    {
        var integer = One(Run("- {kind: column_type, column: age, type: integer}"));
        Assert.True(integer.Success);
        Assert.Equal("integer", integer.Observed);
        Assert.True(One(Run("- {kind: column_type, column: age, type: numeric}")).Success);
        Assert.True(One(Run("- {kind: column_type, column: flag, type: boolean}")).Success);
        Assert.True(One(Run("- {kind: column_type, column: plan, type: string}")).Success);

        var score = One(Run("- {kind: column_type, column: score, type: numeric}"));
        Assert.False(score.Success);
        Assert.Equal("string", score.Observed);
        Assert.Equal(1, score.UnexpectedCount);
        Assert.Equal(["x"], score.UnexpectedExamples);
        Assert.Equal([6], score.UnexpectedRows);
        var notWhole = One(Run("- {kind: column_type, column: score, type: integer}"));
        Assert.Equal(3, notWhole.UnexpectedCount); // 0.5, 1.5 and x
        var ageAsText = One(Run("- {kind: column_type, column: age, type: string}"));
        Assert.False(ageAsText.Success);
        Assert.Equal(9, ageAsText.UnexpectedCount);
        var planAsBoolean = One(Run("- {kind: column_type, column: plan, type: boolean}"));
        Assert.False(planAsBoolean.Success);
        Assert.Equal(9, planAsBoolean.UnexpectedCount);
    }

    [Fact]
    public void Not_null_counts_missing_cells_against_the_allowed_share()
    {
        var strict = One(Run("- {kind: not_null, column: age}"));
        Assert.False(strict.Success);
        Assert.Equal(0.1, strict.ObservedValue);
        Assert.Equal([4], strict.UnexpectedRows);
        Assert.True(One(Run("- {kind: not_null, column: age, max_null_share: 0.1}")).Success);
        Assert.False(One(Run("- {kind: not_null, column: plan, max_null_share: 0.05}")).Success);
        Assert.True(One(Run("- {kind: not_null, column: email}")).Success);
    }

    [Fact]
    public void Between_checks_each_present_value_with_inclusive_and_exclusive_bounds()
    {
        var pass = One(Run("- {kind: between, column: age, min: 19, max: 61}"));
        Assert.True(pass.Success);
        Assert.Equal("19 .. 61", pass.Observed);
        Assert.Equal(9, pass.ElementCount);
        var exclusive = One(Run("- {kind: between, column: age, min: 19, max: 61, min_inclusive: false, max_inclusive: false}"));
        Assert.False(exclusive.Success);
        Assert.Equal(2, exclusive.UnexpectedCount);
        Assert.Equal(["61", "19"], exclusive.UnexpectedExamples);
        Assert.Equal([7, 8], exclusive.UnexpectedRows);
        var onlyMax = One(Run("- {kind: between, column: age, max: 40}"));
        Assert.Equal(4, onlyMax.UnexpectedCount); // 42, 61, 44, 50
        var text = One(Run("- {kind: between, column: score, min: 0, max: 10}"));
        Assert.False(text.Success); // "x" is not a number
        Assert.Equal(["x"], text.UnexpectedExamples);
    }

    [Fact]
    public void In_set_compares_text_as_written_and_numbers_as_numbers()
    {
        Assert.True(One(Run("- {kind: in_set, column: plan, values: [basic, pro, team]}")).Success);
        var missingTeam = One(Run("- {kind: in_set, column: plan, values: [basic, pro]}"));
        Assert.False(missingTeam.Success);
        Assert.Equal(["team"], missingTeam.UnexpectedExamples);
        Assert.Equal(1.0 / 9, missingTeam.ObservedValue!.Value, 12);
        var numbers = new ColumnSet(4).Add("code", ["1", "2.0", "3", null]);
        Assert.True(One(Run("- {kind: in_set, column: code, values: ['1.0', '2', '3']}", numbers)).Success);
        Assert.Equal(["3"], One(Run("- {kind: in_set, column: code, values: [1, 2, three]}", numbers)).UnexpectedExamples);
    }

    [Fact]
    public void Matches_regex_finds_the_values_that_do_not_match()
    {
        Assert.True(One(Run("- {kind: matches_regex, column: email, pattern: '[a-z]'}")).Success);
        var full = One(Run("- {kind: matches_regex, column: email, pattern: '^[a-z]+@[a-z]+\\.[a-z]+$'}"));
        Assert.False(full.Success);
        Assert.Equal(["not-an-email"], full.UnexpectedExamples);
        Assert.Equal([4], full.UnexpectedRows);
        // A backreference needs the backtracking engine, which the loader falls back to (with the time limit).
        var repeated = One(Run("- {kind: matches_regex, column: plan, pattern: '^(.)(?!\\1)'}"));
        Assert.True(repeated.Success);
    }

    [Fact]
    public void Unique_reports_each_repeat()
    {
        var ids = One(Run("- {kind: unique, column: id}"));
        Assert.False(ids.Success);
        Assert.Equal(1, ids.UnexpectedCount);
        Assert.Equal(["8"], ids.UnexpectedExamples);
        Assert.Equal([9], ids.UnexpectedRows);
        Assert.True(One(Run("- {kind: unique, column: email}")).Success);
        Assert.False(One(Run("- {kind: unique, column: plan}")).Success);
    }

    [Fact]
    public void Row_count_between_bounds_the_rows()
    {
        Assert.True(One(Run("- {kind: row_count_between, min: 10, max: 10}")).Success);
        var few = One(Run("- {kind: row_count_between, min: 11}"));
        Assert.False(few.Success);
        Assert.Equal(10, few.ObservedValue);
        Assert.False(One(Run("- {kind: row_count_between, max: 9}")).Success);
    }

    [Fact]
    public void Mean_std_and_quantile_between_bound_the_statistics_of_the_present_values()
    {
        // age without the missing row: 20 31 42 25 38 61 19 44 50, sum 330, mean 36.666..., median 38.
        var mean = One(Run("- {kind: mean_between, column: age, min: 36, max: 37}"));
        Assert.True(mean.Success);
        Assert.Equal(330.0 / 9, mean.ObservedValue!.Value, 12);
        Assert.False(One(Run("- {kind: mean_between, column: age, min: 37}")).Success);
        double[] present = [20, 31, 42, 25, 38, 61, 19, 44, 50];
        var std = Math.Sqrt(present.Sum(v => (v - 330.0 / 9) * (v - 330.0 / 9)) / 9);
        var stdResult = One(Run("- {kind: std_between, column: age, min: 13, max: 14}"));
        Assert.Equal(std, stdResult.ObservedValue!.Value, 12);
        Assert.True(stdResult.Success);
        Assert.False(One(Run("- {kind: std_between, column: age, max: 10}")).Success);
        var median = One(Run("- {kind: quantile_between, column: age, quantile: 0.5, min: 38, max: 38}"));
        Assert.True(median.Success);
        Assert.Equal(38, median.ObservedValue);
        // q = 0.9: position 7.2 between the sorted 50 and 61 -> 52.2.
        var high = One(Run("- {kind: quantile_between, column: age, quantile: 0.9, max: 52}"));
        Assert.False(high.Success);
        Assert.Equal(52.2, high.ObservedValue!.Value, 12);
        var text = One(Run("- {kind: mean_between, column: plan, min: 0}"));
        Assert.False(text.Success);
        Assert.Equal("not numeric", text.Observed);
    }

    [Fact]
    public void Distribution_close_uses_the_drift_statistics_against_the_reference_file()
    {
        _dir.Write("ref.csv", "age,plan\n" + string.Concat(Enumerable.Range(0, 200).Select(i => $"{20 + i % 45},{(i % 3 == 0 ? "pro" : "basic")}\n")));
        var same = new ColumnSet(200)
            .Add("age", Enumerable.Range(0, 200).Select(i => (double)(20 + (i * 7) % 45)).ToArray())
            .Add("plan", Enumerable.Range(0, 200).Select(i => i % 3 == 1 ? "pro" : "basic").ToArray());
        var shifted = new ColumnSet(200)
            .Add("age", Enumerable.Range(0, 200).Select(i => (double)(50 + i % 45)).ToArray())
            .Add("plan", Enumerable.Range(0, 200).Select(i => i % 3 == 0 ? "basic" : "team").ToArray());
        const string suite = "- {kind: distribution_close, column: age, reference: ref.csv}\n"
            + "- {kind: distribution_close, column: plan, reference: ref.csv, method: chi2, threshold: 0.01}\n"
            + "- {kind: distribution_close, column: age, reference: ref.csv, method: ks}\n";
        var pass = Run(suite, same);
        Assert.All(pass.Results, r => Assert.True(r.Success, r.Expectation.Describe()));
        Assert.Equal("psi score", pass.Results[0].Observed);
        Assert.NotNull(pass.Results[0].Drift?.Histogram);
        var fail = Run(suite, shifted);
        Assert.All(fail.Results, r => Assert.False(r.Success, r.Expectation.Describe()));
        Assert.True(fail.Results[0].ObservedValue > 0.1);
        Assert.True(fail.Results[1].ObservedValue < 0.01);
    }

    [Fact]
    public void A_drift_method_that_does_not_fit_the_column_type_is_an_error_naming_the_expectation()
    {
        _dir.Write("ref.csv", "plan\nbasic\npro\n");
        var error = Assert.Throws<InvalidParameterValueException>(() => Run("- {kind: distribution_close, column: plan, reference: ref.csv, method: ks}"));
        Assert.Equal("suite.yaml: expectation 0 (distribution_close): field 'method' is ks, which does not apply to the categorical column 'plan'; use psi, js or chi2.", error.Message);
    }

    [Fact]
    public void A_warn_severity_failure_is_reported_but_does_not_fail_the_validation()
    {
        var report = Run("- {kind: unique, column: id, severity: warn}\n- {kind: column_exists, column: age}");
        Assert.False(report.Results[0].Success);
        Assert.True(report.Success);
        Assert.Equal(1, report.FailedWarnings);
        var failing = Run("- {kind: unique, column: id}\n- {kind: column_exists, column: age}");
        Assert.False(failing.Success);
        Assert.Equal(1, failing.FailedErrors);
    }

    [Fact]
    public void Examples_are_bounded_in_number_and_length()
    {
        var text = Enumerable.Range(0, 50).Select(i => new string('z', 500) + i).ToArray();
        var result = One(Run("- {kind: in_set, column: t, values: [a]}", new ColumnSet(50).Add("t", text)));
        Assert.Equal(50, result.UnexpectedCount);
        Assert.Equal(SuiteValidator.MaxExamples, result.UnexpectedExamples.Count);
        Assert.All(result.UnexpectedExamples, e => Assert.Equal(SuiteValidator.MaxExampleLength + 3, e.Length));
    }

    [Fact]
    public void A_pattern_that_runs_out_of_time_stops_the_validation_with_an_error_naming_it()
    {
        // Catastrophic backtracking (a backreference keeps it on the backtracking engine) on a long value.
        var data = new ColumnSet(1).Add("t", [new string('a', 5000) + "!"]);
        var error = Assert.Throws<InvalidParameterValueException>(() => Run("- {kind: matches_regex, column: t, pattern: '^(a|a?)+\\1$'}", data));
        Assert.StartsWith("suite.yaml: expectation 0 (matches_regex): field 'pattern' took longer than 200 ms on row 1", error.Message);
    }
}

using Cairn.Monitoring;

namespace Cairn.Validation;

/// <summary>
/// What one expectation found: whether it held, what was observed (a number and/or a text), how many values broke it and a
/// few of them (at most <see cref="SuiteValidator.MaxExamples"/>, each cut at <see cref="SuiteValidator.MaxExampleLength"/>
/// characters) with their rows.
/// </summary>
/// <param name="Expectation">The expectation.</param>
/// <param name="Success">Whether it held.</param>
public sealed record ExpectationResult(Expectation Expectation, bool Success)
{
    /// <summary>The observed value as a number (a row count, a mean, a null share, a drift score), or null.</summary>
    public double? ObservedValue { get; init; }

    /// <summary>The observed value as text (a type, a range), or null when <see cref="ObservedValue"/> says it.</summary>
    public string? Observed { get; init; }

    /// <summary>The values (or rows) the expectation looked at.</summary>
    public long ElementCount { get; init; }

    /// <summary>The values (or rows) that broke it.</summary>
    public long UnexpectedCount { get; init; }

    /// <summary>The first values that broke it, as written (or formatted), at most <see cref="SuiteValidator.MaxExamples"/>.</summary>
    public IReadOnlyList<string> UnexpectedExamples { get; init; } = [];

    /// <summary>The 1-based data rows of <see cref="UnexpectedExamples"/> (the header is not a row).</summary>
    public IReadOnlyList<int> UnexpectedRows { get; init; } = [];

    /// <summary>Why it could not be checked as asked (a missing column, no values), or null.</summary>
    public string? Note { get; init; }

    /// <summary>The drift of the column against the reference (<c>distribution_close</c>), with the shares to picture.</summary>
    public FeatureDrift? Drift { get; init; }

    /// <summary>Whether it failed and its severity makes the validation fail.</summary>
    public bool FailsValidation => !Success && Expectation.Severity == Severity.Error;
}

/// <summary>The result of a suite on a data set: every expectation's result, in the suite's order.</summary>
/// <param name="Results">One result per expectation.</param>
/// <param name="RowCount">The data's rows.</param>
public sealed record ValidationReport(IReadOnlyList<ExpectationResult> Results, int RowCount)
{
    /// <summary>Whether no error-severity expectation failed.</summary>
    public bool Success => !Results.Any(r => r.FailsValidation);

    /// <summary>Expectations that held.</summary>
    public int Passed => Results.Count(r => r.Success);

    /// <summary>Error-severity expectations that failed.</summary>
    public int FailedErrors => Results.Count(r => r.FailsValidation);

    /// <summary>Warn-severity expectations that failed.</summary>
    public int FailedWarnings => Results.Count(r => !r.Success && r.Expectation.Severity == Severity.Warn);
}

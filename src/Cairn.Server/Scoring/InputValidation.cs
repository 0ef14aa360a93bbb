using System.Globalization;
using Cairn.ML.Models;
using Cairn.Validation;

namespace Cairn.Server.Scoring;

/// <summary>
/// The expectation suite a scoring server checks every <c>/invocations</c> request's input against
/// (<see cref="ScoringOptions.ValidationSuite"/>): <see cref="Reject"/> answers a failing request 400 naming the expectation
/// and column; otherwise the request is flagged (scored, counted in <c>cairn_scoring_invalid_inputs</c> and logged).
/// Only error-severity expectations count; <c>distribution_close</c> is refused (one request is too small a sample).
/// </summary>
public sealed class InputValidation
{
    private InputValidation(ExpectationSuite suite, bool reject)
    {
        Suite = suite;
        Reject = reject;
    }

    /// <summary>The suite.</summary>
    public ExpectationSuite Suite { get; }

    /// <summary>Whether a failing request is refused (else flagged and scored).</summary>
    public bool Reject { get; }

    /// <summary>The validation the options ask for, or null when they name no suite.</summary>
    public static InputValidation? From(ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ValidationSuite is { Length: > 0 } path ? new InputValidation(LoadSuite(path), ParseAction(options.OnInvalid)) : null;
    }

    /// <summary>Reads a suite for serving input, refusing what cannot run on one request.</summary>
    public static ExpectationSuite LoadSuite(string path)
    {
        var suite = ExpectationSuite.Load(path);
        if (suite.Expectations.FirstOrDefault(e => e is DistributionExpectation) is { } drift)
            throw new InvalidParameterValueException(
                $"{path}: expectation {drift.Index} (distribution_close): not checked on serving input (one request is too small a sample); compare logged traffic with cairn drift instead.");
        return suite;
    }

    /// <summary>Whether <paramref name="action"/> (reject or flag) rejects.</summary>
    public static bool ParseAction(string? action) => action switch
    {
        null or "reject" => true,
        "flag" => false,
        _ => throw new InvalidParameterValueException($"Invalid value '{action}' for '--on-invalid': expected reject or flag."),
    };

    /// <summary>Checks one request's rows; null when every error-severity expectation holds.</summary>
    public ValidationReport? Check(ColumnBatch input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var report = SuiteValidator.Validate(Suite, Columns(input));
        return report.Success ? null : report;
    }

    /// <summary>One line naming the first failed expectation, its column and what broke it.</summary>
    public string Describe(ValidationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var failed = report.Results.Where(r => r.FailsValidation).ToList();
        var first = failed[0];
        var e = first.Expectation;
        var what = first.Note
            ?? (first.UnexpectedCount > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{first.UnexpectedCount} of {first.ElementCount} values unexpected")
                  + (first.UnexpectedExamples.Count > 0 ? $" (row {first.UnexpectedRows[0]}: '{first.UnexpectedExamples[0]}')" : "")
                : $"observed {(first.ObservedValue is { } v ? v.ToString("G6", CultureInfo.InvariantCulture) : first.Observed)}");
        return $"Input failed validation ({Path.GetFileName(Suite.Source)}): expectation {e.Index} ({e.Kind}){(e.Column is { } c ? $" on column '{c}'" : "")}: "
            + $"{e.Describe()}; {what}." + (failed.Count > 1 ? $" {failed.Count - 1} more expectation(s) failed." : "");
    }

    /// <summary>A request's columns as the validator reads them: numbers as doubles, booleans as true/false, text as is; tensors are left out.</summary>
    private static ColumnSet Columns(ColumnBatch input)
    {
        var set = new ColumnSet(Math.Max(input.RowCount, 0));
        foreach (var (name, values) in input)
        {
            switch (values)
            {
                case double[] d: set.Add(name, d); break;
                case float[] f: set.Add(name, Array.ConvertAll(f, x => (double)x)); break;
                case long[] l: set.Add(name, Array.ConvertAll(l, x => (double)x)); break;
                case int[] i: set.Add(name, Array.ConvertAll(i, x => (double)x)); break;
                case bool[] b: set.Add(name, Array.ConvertAll(b, x => (string?)(x ? "true" : "false"))); break;
                case string?[] s: set.Add(name, s); break;
            }
        }
        return set;
    }
}

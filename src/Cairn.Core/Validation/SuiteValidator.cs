using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text.RegularExpressions;
using Cairn.Data;
using Cairn.Monitoring;

namespace Cairn.Validation;

/// <summary>
/// Runs an <see cref="ExpectationSuite"/> on data: every expectation on its own thread-pool work item (the columns are read,
/// never changed), each one pass over its column. A column the data lacks fails the expectations about it; a pattern that
/// runs out of time and a drift method that does not fit the column's type are errors naming the expectation.
/// </summary>
public static class SuiteValidator
{
    /// <summary>Unexpected values kept per expectation.</summary>
    public const int MaxExamples = 5;

    /// <summary>Characters kept of an unexpected value.</summary>
    public const int MaxExampleLength = 100;

    /// <summary>Rows times expectations below which a validation runs on one thread.</summary>
    private const long SmallWork = 100_000;

    /// <summary>
    /// Validates <paramref name="data"/>; <paramref name="readReference"/> reads a <c>distribution_close</c> reference file
    /// (by full path; each file is read once per call).
    /// </summary>
    public static ValidationReport Validate(ExpectationSuite suite, IColumnSource data, Func<string, IColumnSource>? readReference = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(data);
        var references = new ConcurrentDictionary<string, Lazy<IColumnSource>>(StringComparer.Ordinal);
        IColumnSource Reference(string path) => references.GetOrAdd(path, p => new Lazy<IColumnSource>(() =>
            (readReference ?? throw new InvalidParameterValueException($"{suite.Source}: distribution_close needs a reference file, and none can be read here."))(p))).Value;
        var results = new ExpectationResult[suite.Expectations.Count];
        try
        {
            // A small data set (a scoring request's rows) is checked on the calling thread: handing it out costs more than it saves.
            var small = (long)data.RowCount * results.Length < SmallWork;
            Parallel.For(0, results.Length, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = small ? 1 : -1 }, i =>
            {
                results[i] = Check(suite, suite.Expectations[i], data, Reference);
                progress?.Report(1);
            });
        }
        catch (AggregateException e)
        {
            // The first error as itself (a bad pattern, a reference that cannot be read), not wrapped.
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
        return new ValidationReport(results, data.RowCount);
    }

    private static ExpectationResult Check(ExpectationSuite suite, Expectation expectation, IColumnSource data, Func<string, IColumnSource> reference)
    {
        if (expectation is RowCountExpectation rows)
            return new ExpectationResult(expectation, rows.Bounds.Contains(data.RowCount)) { ObservedValue = data.RowCount, ElementCount = data.RowCount };
        var column = expectation.Column!; // every other kind has a column (the loader requires it)
        if (!data.Has(column))
            return new ExpectationResult(expectation, false) { Observed = "missing column", Note = $"the data has no column '{column}'" };
        return expectation switch
        {
            ColumnExistsExpectation => new ExpectationResult(expectation, true) { Observed = "present" },
            ColumnTypeExpectation type => ColumnTypeCheck(type, data),
            NotNullExpectation notNull => NotNull(notNull, data),
            BetweenExpectation between => Between(between, data),
            InSetExpectation inSet => InSet(inSet, data),
            MatchesRegexExpectation regex => Matches(suite, regex, data),
            UniqueExpectation unique => Unique(unique, data),
            StatisticExpectation statistic => Statistic(statistic, data),
            DistributionExpectation distribution => Distribution(suite, distribution, data, reference),
            _ => throw new ArgumentException($"Unknown expectation kind {expectation.Kind}."),
        };
    }

    private static ExpectationResult ColumnTypeCheck(ColumnTypeExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        string observed;
        long present = 0;
        if (data.TryNumbers(e.Column!, out var numbers))
        {
            var whole = true;
            for (var r = 0; r < numbers.Length; r++)
            {
                var v = numbers[r];
                if (double.IsNaN(v)) continue;
                present++;
                var isWhole = IsWhole(v);
                whole &= isWhole;
                if (e.Type is ColumnType.String or ColumnType.Boolean || (e.Type == ColumnType.Integer && !isWhole)) unexpected.Add(r, v);
            }
            observed = present == 0 ? "empty" : whole ? "integer" : "numeric";
        }
        else
        {
            var values = data.Strings(e.Column!);
            bool allBoolean = true;
            for (var r = 0; r < values.Length; r++)
            {
                if (values[r] is not { } v) continue;
                present++;
                var isBoolean = IsBoolean(v);
                allBoolean &= isBoolean;
                var bad = e.Type switch
                {
                    ColumnType.Numeric => !TryNumber(v, out _),
                    ColumnType.Integer => !TryNumber(v, out var n) || !IsWhole(n),
                    ColumnType.Boolean => !isBoolean,
                    _ => false,
                };
                if (bad) unexpected.Add(r, v);
            }
            observed = present == 0 ? "empty" : allBoolean ? "boolean" : "string";
        }
        return unexpected.Result(e, unexpected.Count == 0, present) with { Observed = observed };
    }

    private static ExpectationResult NotNull(NotNullExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        if (data.TryNumbers(e.Column!, out var numbers))
        {
            for (var r = 0; r < numbers.Length; r++)
                if (double.IsNaN(numbers[r])) unexpected.Add(r, "");
        }
        else
        {
            var values = data.Strings(e.Column!);
            for (var r = 0; r < values.Length; r++)
                if (values[r] is null) unexpected.Add(r, "");
        }
        var share = data.RowCount == 0 ? 0 : (double)unexpected.Count / data.RowCount;
        return unexpected.Result(e, share <= e.MaxNullShare, data.RowCount) with { ObservedValue = share };
    }

    private static ExpectationResult Between(BetweenExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        long present = 0;
        if (data.TryNumbers(e.Column!, out var numbers))
        {
            var bounds = e.Bounds;
            for (var r = 0; r < numbers.Length; r++)
            {
                var v = numbers[r];
                if (double.IsNaN(v)) continue;
                present++;
                if (v < min) min = v;
                if (v > max) max = v;
                if (!bounds.Contains(v)) unexpected.Add(r, v);
            }
        }
        else
        {
            var values = data.Strings(e.Column!);
            for (var r = 0; r < values.Length; r++)
            {
                if (values[r] is not { } text) continue;
                present++;
                if (!TryNumber(text, out var v))
                {
                    unexpected.Add(r, text);
                    continue;
                }
                min = Math.Min(min, v);
                max = Math.Max(max, v);
                if (!e.Bounds.Contains(v)) unexpected.Add(r, text);
            }
        }
        return unexpected.Result(e, unexpected.Count == 0, present) with { Observed = present == 0 || min > max ? "no numbers" : $"{Number(min)} .. {Number(max)}" };
    }

    private static ExpectationResult InSet(InSetExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        long present = 0;
        if (data.TryNumbers(e.Column!, out var numbers))
        {
            // A column of numbers compares as numbers: 1 and 1.0 are one value; an allowed value that is not a number matches none.
            var allowed = new HashSet<double>();
            foreach (var value in e.Values)
                if (TryNumber(value, out var n)) allowed.Add(n);
            for (var r = 0; r < numbers.Length; r++)
            {
                var v = numbers[r];
                if (double.IsNaN(v)) continue;
                present++;
                if (!allowed.Contains(v)) unexpected.Add(r, v);
            }
        }
        else
        {
            var allowed = new HashSet<string>(e.Values, StringComparer.Ordinal);
            var values = data.Strings(e.Column!);
            for (var r = 0; r < values.Length; r++)
            {
                if (values[r] is not { } v) continue;
                present++;
                if (!allowed.Contains(v)) unexpected.Add(r, v);
            }
        }
        return unexpected.Result(e, unexpected.Count == 0, present) with { ObservedValue = present == 0 ? 0 : (double)unexpected.Count / present, Observed = "share outside the set" };
    }

    private static ExpectationResult Matches(ExpectationSuite suite, MatchesRegexExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        var values = data.Strings(e.Column!);
        long present = 0;
        // The backtracking engine (a pattern the linear one cannot run) is bounded per value by the timeout and per column by a budget.
        var budget = (e.Regex.Options & RegexOptions.NonBacktracking) == 0 ? Stopwatch.StartNew() : null;
        for (var r = 0; r < values.Length; r++)
        {
            if (values[r] is not { } v) continue;
            present++;
            if (budget is not null && (present & 1023) == 0 && budget.Elapsed > ExpectationSuite.RegexBudget)
                throw new InvalidParameterValueException(
                    $"{suite.Source}: expectation {e.Index} (matches_regex): field 'pattern' took longer than {ExpectationSuite.RegexBudget.TotalSeconds:0} s for the first {present - 1} values; simplify the pattern.");
            bool match;
            try
            {
                match = e.Regex.IsMatch(v);
            }
            catch (RegexMatchTimeoutException)
            {
                throw new InvalidParameterValueException(
                    $"{suite.Source}: expectation {e.Index} (matches_regex): field 'pattern' took longer than {ExpectationSuite.RegexTimeout.TotalMilliseconds:0} ms on row {r + 1}; simplify the pattern.");
            }
            if (!match) unexpected.Add(r, v);
        }
        return unexpected.Result(e, unexpected.Count == 0, present) with { ObservedValue = present == 0 ? 0 : (double)unexpected.Count / present, Observed = "share not matching" };
    }

    private static ExpectationResult Unique(UniqueExpectation e, IColumnSource data)
    {
        var unexpected = new Unexpected();
        long present = 0;
        if (data.TryNumbers(e.Column!, out var numbers))
        {
            var seen = new HashSet<double>(Math.Min(numbers.Length, 1 << 20));
            for (var r = 0; r < numbers.Length; r++)
            {
                var v = numbers[r];
                if (double.IsNaN(v)) continue;
                present++;
                if (!seen.Add(v)) unexpected.Add(r, v);
            }
        }
        else
        {
            var values = data.Strings(e.Column!);
            var seen = new HashSet<string>(Math.Min(values.Length, 1 << 20), StringComparer.Ordinal);
            for (var r = 0; r < values.Length; r++)
            {
                if (values[r] is not { } v) continue;
                present++;
                if (!seen.Add(v)) unexpected.Add(r, v);
            }
        }
        return unexpected.Result(e, unexpected.Count == 0, present) with { ObservedValue = present - unexpected.Count, Observed = "distinct values" };
    }

    private static ExpectationResult Statistic(StatisticExpectation e, IColumnSource data)
    {
        if (!data.TryNumbers(e.Column!, out var numbers))
            return new ExpectationResult(e, false) { Observed = "not numeric", Note = $"column '{e.Column}' holds values that are not numbers" };
        var count = 0;
        double sum = 0;
        foreach (var v in numbers)
        {
            if (double.IsNaN(v)) continue;
            count++;
            sum += v;
        }
        if (count == 0) return new ExpectationResult(e, false) { Observed = "no values", Note = $"column '{e.Column}' has no values" };
        double value;
        if (e.Statistic == ColumnStatistic.Quantile)
        {
            // A copy of the present values (the column belongs to the source), the two ranks the quantile reads put in place.
            var present = new double[count];
            var at = 0;
            foreach (var v in numbers)
                if (!double.IsNaN(v)) present[at++] = v;
            var low = (int)Math.Floor(e.Quantile * (count - 1));
            ColumnProfiler.SelectRanks(present, 0, count - 1, [low, Math.Min(low + 1, count - 1)], 0, low + 1 < count ? 2 : 1);
            value = ColumnProfiler.Quantile(present, e.Quantile);
        }
        else
        {
            var mean = sum / count;
            if (e.Statistic == ColumnStatistic.Mean) value = mean;
            else
            {
                // Two passes: the squares of the deviations, stable where the sum of squares less the squared sum is not.
                double squares = 0;
                foreach (var v in numbers)
                    if (!double.IsNaN(v)) squares += (v - mean) * (v - mean);
                value = Math.Sqrt(squares / count);
            }
        }
        return new ExpectationResult(e, e.Bounds.Contains(value)) { ObservedValue = value, ElementCount = count };
    }

    private static ExpectationResult Distribution(ExpectationSuite suite, DistributionExpectation e, IColumnSource data, Func<string, IColumnSource> readReference)
    {
        var reference = readReference(e.ReferencePath);
        var column = e.Column!;
        if (!reference.Has(column))
            return new ExpectationResult(e, false) { Observed = "not in the reference", Note = $"the reference {e.Reference} has no column '{column}'" };
        var numeric = reference.TryNumbers(column, out var refNumbers) & data.TryNumbers(column, out var curNumbers);
        var method = e.Method ?? DriftMethod.Psi;
        var where = $"{suite.Source}: expectation {e.Index} (distribution_close)";
        if (numeric ? method == DriftMethod.Chi2 : method is DriftMethod.Ks or DriftMethod.Wasserstein)
            throw new InvalidParameterValueException(
                $"{where}: field 'method' is {DriftOptions.NameOf(method)}, which does not apply to the {(numeric ? "numeric" : "categorical")} column '{column}'; use {(numeric ? "psi, js, ks or wasserstein" : "psi, js or chi2")}.");
        var threshold = DriftOptions.CheckThreshold(method, e.Threshold ?? DriftOptions.DefaultThreshold(method), $"{where}: field threshold");
        var drift = numeric
            ? DriftAnalyzer.Numeric(new NumericDriftColumn(column, refNumbers, curNumbers), method, threshold)
            : DriftAnalyzer.Categorical(new CategoricalDriftColumn(column, reference.Strings(column), data.Strings(column)), method, threshold);
        return new ExpectationResult(e, drift.Score is not null && !drift.Drifted)
        {
            ObservedValue = drift.Score,
            Observed = $"{DriftOptions.NameOf(method)} {(DriftOptions.IsTest(method) ? "p-value" : "score")}",
            ElementCount = drift.CurrentCount,
            Note = drift.Note,
            Drift = drift,
        };
    }

    private static bool IsWhole(double v) => double.IsFinite(v) && v == Math.Floor(v);

    private static bool IsBoolean(string v) => v.Equals("true", StringComparison.OrdinalIgnoreCase) || v.Equals("false", StringComparison.OrdinalIgnoreCase);

    private static bool TryNumber(string text, out double value) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    private static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Counts the values that broke an expectation and keeps the first few.</summary>
    private sealed class Unexpected
    {
        private readonly List<string> _examples = [];
        private readonly List<int> _rows = [];

        public long Count { get; private set; }

        public void Add(int row, string value)
        {
            if (Count++ >= MaxExamples) return;
            _examples.Add(value.Length > MaxExampleLength ? value[..MaxExampleLength] + "..." : value);
            _rows.Add(row + 1);
        }

        public void Add(int row, double value)
        {
            if (Count < MaxExamples) Add(row, value.ToString("R", CultureInfo.InvariantCulture));
            else Count++;
        }

        public ExpectationResult Result(Expectation e, bool success, long elements) => new(e, success)
        {
            ElementCount = elements,
            UnexpectedCount = Count,
            UnexpectedExamples = _examples,
            UnexpectedRows = _rows,
        };
    }
}

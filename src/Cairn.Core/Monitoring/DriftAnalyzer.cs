using System.Buffers;
using System.Globalization;

namespace Cairn.Monitoring;

/// <summary>A column to compare: the same feature in the reference and the current sample.</summary>
/// <param name="Name">The column name.</param>
public abstract record DriftColumn(string Name);

/// <summary>A numeric column, NaN where a cell is missing.</summary>
/// <param name="Name">The column name.</param>
/// <param name="Reference">The reference's values.</param>
/// <param name="Current">The current sample's values.</param>
public sealed record NumericDriftColumn(string Name, double[] Reference, double[] Current) : DriftColumn(Name);

/// <summary>A numeric column whose reference is a quantile sketch (of data too large to keep); compared through sketches.</summary>
/// <param name="Name">The column name.</param>
/// <param name="Reference">The reference's sketch.</param>
/// <param name="Current">The current sample's values, NaN where missing.</param>
public sealed record SketchedDriftColumn(string Name, QuantileSketch Reference, double[] Current) : DriftColumn(Name);

/// <summary>A categorical column, null where a cell is missing.</summary>
/// <param name="Name">The column name.</param>
/// <param name="Reference">The reference's values.</param>
/// <param name="Current">The current sample's values.</param>
public sealed record CategoricalDriftColumn(string Name, string?[] Reference, string?[] Current) : DriftColumn(Name);

/// <summary>
/// Computes the drift report of a set of columns: every column on its own thread-pool work item (<see cref="Parallel.For(int, int, Action{int})"/>
/// over columns, so all cores work), each numeric column sorted once and every statistic a merge over the two sorted samples.
/// </summary>
public static class DriftAnalyzer
{
    /// <summary>Bars in a numeric feature's picture.</summary>
    private const int HistogramBins = 20;

    /// <summary>Categories drawn before the rest are pooled as "(other)".</summary>
    private const int HistogramCategories = 30;

    /// <summary>Compares every column; <paramref name="progress"/> hears once per finished column.</summary>
    public static DriftReport Compare(IReadOnlyList<DriftColumn> columns, DriftOptions options, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // Rules are resolved (and refused) before any work starts.
        var rules = columns.Select(c => options.Rule(c.Name, c is NumericDriftColumn or SketchedDriftColumn)).ToArray();
        var results = new FeatureDrift[columns.Count];
        Parallel.For(0, columns.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            results[i] = columns[i] switch
            {
                SketchedDriftColumn sketched => Sketched(sketched, rules[i].Method, rules[i].Threshold),
                NumericDriftColumn numeric when options.SketchK is { } k => Sketched(numeric, k, rules[i].Method, rules[i].Threshold),
                NumericDriftColumn numeric => Numeric(numeric, rules[i].Method, rules[i].Threshold),
                CategoricalDriftColumn categorical => Categorical(categorical, rules[i].Method, rules[i].Threshold),
                _ => throw new ArgumentException($"Unknown column kind {columns[i].GetType().Name}."),
            };
            progress?.Report(1);
        });
        var scored = results.Count(r => r.Score is not null);
        var share = scored == 0 ? 0 : (double)results.Count(r => r.Drifted) / scored;
        return new DriftReport(results, share, options.DriftShare, scored > 0 && share >= options.DriftShare);
    }

    /// <summary>One numeric feature: KS, Wasserstein (raw and normalised), PSI and JS over the reference's quantile bins.</summary>
    public static FeatureDrift Numeric(NumericDriftColumn column, DriftMethod method, double threshold)
    {
        ArgumentNullException.ThrowIfNull(column);
        // The sorted copies live in pooled buffers: a thread comparing column after column reuses them (no fresh pages).
        var referenceBuffer = ArrayPool<double>.Shared.Rent(Math.Max(1, column.Reference.Length));
        var currentBuffer = ArrayPool<double>.Shared.Rent(Math.Max(1, column.Current.Length));
        try
        {
            var r = referenceBuffer.AsSpan(0, SortedSample.Sort(column.Reference, referenceBuffer));
            var c = currentBuffer.AsSpan(0, SortedSample.Sort(column.Current, currentBuffer));
            return Numeric(column.Name, r, c, column.Reference.Length - r.Length, column.Current.Length - c.Length, method, threshold);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(referenceBuffer);
            ArrayPool<double>.Shared.Return(currentBuffer);
        }
    }

    private static FeatureDrift Numeric(string name, ReadOnlySpan<double> r, ReadOnlySpan<double> c, int referenceMissing, int currentMissing, DriftMethod method, double threshold)
    {
        var result = new FeatureDrift
        {
            Name = name,
            Type = FeatureType.Numeric,
            ReferenceCount = r.Length,
            CurrentCount = c.Length,
            ReferenceMissing = referenceMissing,
            CurrentMissing = currentMissing,
            Method = method,
            Threshold = threshold,
        };
        if (r.Length == 0 || c.Length == 0) return result with { Note = EmptyNote(r.Length, c.Length) };
        var (d, wasserstein) = DriftStatistics.KsAndWasserstein(r, c);
        var ks = KolmogorovSmirnov.FromStatistic(r.Length, c.Length, d);
        var std = DriftStatistics.StandardDeviation(r);
        var normalized = std > 0 ? wasserstein / std : wasserstein;
        var edges = DriftStatistics.QuantileEdges(r);
        var refShares = DriftStatistics.Shares(DriftStatistics.BinCounts(r, edges));
        var curShares = DriftStatistics.Shares(DriftStatistics.BinCounts(c, edges));
        var psi = DriftStatistics.Psi(refShares, curShares);
        var js = DriftStatistics.JensenShannon(refShares, curShares);
        var score = method switch
        {
            DriftMethod.Ks => ks.PValue,
            DriftMethod.Wasserstein => normalized,
            DriftMethod.Js => js,
            _ => psi,
        };
        return result with
        {
            Ks = ks,
            Wasserstein = wasserstein,
            WassersteinNormalized = normalized,
            Psi = psi,
            Js = js,
            Score = score,
            Drifted = Decide(method, score, threshold),
            Histogram = NumericHistogram(r, c),
        };
    }

    private static FeatureDrift Sketched(SketchedDriftColumn column, DriftMethod method, double threshold)
    {
        var current = new QuantileSketch(column.Reference.K);
        current.AddRange(column.Current);
        return Sketched(column.Name, column.Reference, current, method, threshold) with { CurrentMissing = (int)(column.Current.Length - current.Count) };
    }

    private static FeatureDrift Sketched(NumericDriftColumn column, int k, DriftMethod method, double threshold)
    {
        var (reference, current) = (new QuantileSketch(k), new QuantileSketch(k));
        reference.AddRange(column.Reference);
        current.AddRange(column.Current);
        return Sketched(column.Name, reference, current, method, threshold) with
        {
            ReferenceMissing = (int)(column.Reference.Length - reference.Count),
            CurrentMissing = (int)(column.Current.Length - current.Count),
        };
    }

    /// <summary>
    /// One numeric feature from two quantile sketches (approximate; the note states the rank error): KS D as the largest gap
    /// between the sketches' step CDFs (p-value asymptotic), Wasserstein-1 as the area between them, PSI and JS over the
    /// deciles of the reference sketch. Missing values are not in a sketch: the counts of missing cells are 0 here.
    /// </summary>
    public static FeatureDrift Sketched(string name, QuantileSketch reference, QuantileSketch current, DriftMethod method, double threshold)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var result = new FeatureDrift
        {
            Name = name,
            Type = FeatureType.Numeric,
            ReferenceCount = (int)Math.Min(reference.Count, int.MaxValue),
            CurrentCount = (int)Math.Min(current.Count, int.MaxValue),
            ReferenceMissing = 0,
            CurrentMissing = 0,
            Method = method,
            Threshold = threshold,
        };
        if (reference.Count == 0 || current.Count == 0) return result with { Note = EmptyNote(result.ReferenceCount, result.CurrentCount) };
        var (rv, rc) = reference.Steps();
        var (cv, cc) = current.Steps();
        double n1 = reference.Count, n2 = current.Count;
        // One merge over both step functions: the gap after each value (KS) and the area up to the next value (Wasserstein).
        int i = 0, j = 0;
        double d = 0, area = 0, previous = Math.Min(rv[0], cv[0]), gap = 0;
        while (i < rv.Length || j < cv.Length)
        {
            var v = i < rv.Length && (j >= cv.Length || rv[i] <= cv[j]) ? rv[i] : cv[j];
            area += gap * (v - previous);
            if (i < rv.Length && rv[i] == v) i++;
            if (j < cv.Length && cv[j] == v) j++;
            gap = Math.Abs((i == 0 ? 0 : rc[i - 1]) / n1 - (j == 0 ? 0 : cc[j - 1]) / n2);
            d = Math.Max(d, gap);
            previous = v;
        }
        var en = (int)Math.Max(1, Math.Round(n1 * n2 / (n1 + n2), MidpointRounding.ToEven));
        var ks = new TestStatistic(d, Math.Clamp(KolmogorovDistribution.Survival(en, d), 0, 1));
        var std = reference.StandardDeviation;
        var normalized = std > 0 ? area / std : area;
        var edges = new List<double>(9);
        for (var k = 1; k <= 9; k++)
        {
            var e = reference.Quantile(k / 10.0);
            if (edges.Count == 0 || e != edges[^1]) edges.Add(e);
        }
        var refShares = DriftStatistics.Shares(SketchBins(reference, edges));
        var curShares = DriftStatistics.Shares(SketchBins(current, edges));
        var psi = DriftStatistics.Psi(refShares, curShares);
        var js = DriftStatistics.JensenShannon(refShares, curShares);
        var score = method switch
        {
            DriftMethod.Ks => ks.PValue,
            DriftMethod.Wasserstein => normalized,
            DriftMethod.Js => js,
            _ => psi,
        };
        var error = Math.Max(reference.RankError, current.RankError);
        return result with
        {
            Ks = ks,
            Wasserstein = area,
            WassersteinNormalized = normalized,
            Psi = psi,
            Js = js,
            Score = score,
            Drifted = Decide(method, score, threshold),
            Note = string.Create(CultureInfo.InvariantCulture, $"approximate: quantile sketches, rank error at most {error:P2} of each side"),
        };
    }

    /// <summary>Estimated counts in the bins (-inf, e1), [e1, e2), ..., [em, +inf), rounded to whole values.</summary>
    private static long[] SketchBins(QuantileSketch sketch, List<double> edges)
    {
        var counts = new long[edges.Count + 1];
        var before = 0L;
        for (var b = 0; b < edges.Count; b++)
        {
            var below = (long)Math.Round(sketch.CountBelow(edges[b]));
            counts[b] = below - before;
            before = below;
        }
        counts[edges.Count] = sketch.Count - before;
        return counts;
    }

    /// <summary>One categorical feature: chi-square, PSI and JS over the sorted union of categories, unseen categories counted.</summary>
    public static FeatureDrift Categorical(CategoricalDriftColumn column, DriftMethod method, double threshold)
    {
        var (refCounts, refMissing) = Count(column.Reference);
        var (curCounts, curMissing) = Count(column.Current);
        var categories = refCounts.Keys.Union(curCounts.Keys).Order(StringComparer.Ordinal).ToArray();
        var refVector = categories.Select(k => refCounts.GetValueOrDefault(k)).ToArray();
        var curVector = categories.Select(k => curCounts.GetValueOrDefault(k)).ToArray();
        var (refTotal, curTotal) = ((int)refVector.Sum(), (int)curVector.Sum());
        var unseen = categories.Where(k => !refCounts.ContainsKey(k)).ToArray();
        var result = new FeatureDrift
        {
            Name = column.Name,
            Type = FeatureType.Categorical,
            ReferenceCount = refTotal,
            CurrentCount = curTotal,
            ReferenceMissing = refMissing,
            CurrentMissing = curMissing,
            UnseenCategories = unseen.Length,
            UnseenRows = (int)unseen.Sum(k => curCounts[k]),
            Method = method,
            Threshold = threshold,
        };
        if (refTotal == 0 || curTotal == 0) return result with { Note = EmptyNote(refTotal, curTotal) };
        var chi2 = DriftStatistics.ChiSquare(refVector, curVector);
        var refShares = DriftStatistics.Shares(refVector);
        var curShares = DriftStatistics.Shares(curVector);
        var psi = DriftStatistics.Psi(refShares, curShares);
        var js = DriftStatistics.JensenShannon(refShares, curShares);
        var score = method switch
        {
            DriftMethod.Chi2 => chi2.PValue,
            DriftMethod.Js => js,
            _ => psi,
        };
        return result with
        {
            Chi2 = chi2,
            Psi = psi,
            Js = js,
            Score = score,
            Drifted = Decide(method, score, threshold),
            Histogram = CategoryHistogram(categories, refVector, curVector, refTotal, curTotal),
        };
    }

    private static bool Decide(DriftMethod method, double score, double threshold) =>
        DriftOptions.IsTest(method) ? score < threshold : score >= threshold;

    private static string EmptyNote(int reference, int current) =>
        reference == 0 && current == 0 ? "no values in either sample" : reference == 0 ? "no values in the reference" : "no values in the current sample";

    private static (Dictionary<string, long> Counts, int Missing) Count(string?[] values)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var missing = 0;
        foreach (var value in values)
        {
            if (value is null)
            {
                missing++;
                continue;
            }
            counts[value] = counts.GetValueOrDefault(value) + 1;
        }
        return (counts, missing);
    }

    /// <summary>Equal-width bins over the pooled range (one bin when the range is 0 or not finite).</summary>
    private static Histogram NumericHistogram(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        var low = Math.Min(reference[0], current[0]);
        var high = Math.Max(reference[^1], current[^1]);
        var width = (high - low) / HistogramBins;
        if (!(width > 0) || !double.IsFinite(width))
            return new Histogram([Label(low) + " .. " + Label(high)], [1.0], [1.0]);
        var edges = Enumerable.Range(1, HistogramBins - 1).Select(b => low + b * width).ToArray();
        var refCounts = DriftStatistics.BinCounts(reference, edges);
        var curCounts = DriftStatistics.BinCounts(current, edges);
        var labels = Enumerable.Range(0, HistogramBins).Select(b => Label(low + b * width)).ToArray();
        var (refTotal, curTotal) = ((double)reference.Length, (double)current.Length);
        return new Histogram(labels, refCounts.Select(c => c / refTotal).ToArray(), curCounts.Select(c => c / curTotal).ToArray());
    }

    private static Histogram CategoryHistogram(string[] categories, long[] reference, long[] current, int refTotal, int curTotal)
    {
        var order = Enumerable.Range(0, categories.Length).OrderByDescending(i => reference[i] + current[i]).ThenBy(i => i).ToArray();
        var shown = order.Take(HistogramCategories).ToList();
        var labels = shown.Select(i => categories[i]).ToList();
        var refShares = shown.Select(i => (double)reference[i] / refTotal).ToList();
        var curShares = shown.Select(i => (double)current[i] / curTotal).ToList();
        if (order.Length > HistogramCategories)
        {
            var rest = order.Skip(HistogramCategories).ToArray();
            labels.Add($"(other: {rest.Length})");
            refShares.Add(rest.Sum(i => (double)reference[i]) / refTotal);
            curShares.Add(rest.Sum(i => (double)current[i]) / curTotal);
        }
        return new Histogram(labels, refShares, curShares);
    }

    private static string Label(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}

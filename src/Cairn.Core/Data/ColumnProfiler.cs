using System.Globalization;

namespace Cairn.Data;

/// <summary>
/// Makes <see cref="ColumnProfile"/>s: from whole columns in memory (<see cref="OfNumbers"/>, <see cref="OfStrings"/>: exact
/// quantiles, what the trainer profiles) or from values streamed one by one (<see cref="Add"/>, <see cref="ToProfile"/>:
/// a dataset file of any size, with quantiles and histogram from a bounded uniform sample).
/// </summary>
public sealed class ColumnProfiler
{
    /// <summary>Distinct values tracked per column (and categories counted for <see cref="ColumnProfile.Top"/>).</summary>
    public const int MaxTracked = 10_000;

    /// <summary>Values a streamed numeric column keeps for its quantiles and histogram.</summary>
    public const int SampleSize = 100_000;

    /// <summary>Bins of a histogram.</summary>
    public const int Bins = 20;

    /// <summary>The quantile levels and their names.</summary>
    public static readonly IReadOnlyList<(string Name, double Level)> Levels = [("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95)];

    // Streaming state.
    private long _count, _missing, _seen;
    private bool _allLong = true, _allDouble = true, _allBool = true;
    private double _min = double.PositiveInfinity, _max = double.NegativeInfinity, _mean, _m2;
    private readonly Dictionary<string, long> _values = new(StringComparer.Ordinal);
    private bool _capped;
    private readonly List<double> _sample = [];
    private readonly Random _random = new(17);

    /// <summary>Adds one value as written in a file; an empty one is missing.</summary>
    public void Add(ReadOnlySpan<char> value)
    {
        value = value.Trim();
        if (value.IsEmpty)
        {
            _missing++;
            return;
        }
        _count++;
        var lookup = _values.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(value, out var seen)) lookup[value] = seen + 1;
        else if (_values.Count < MaxTracked) _values[value.ToString()] = 1;
        else _capped = true;
        _allLong &= long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        _allBool &= bool.TryParse(value, out _);
        if (!_allDouble) return;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            _allDouble = false;
            return;
        }
        _min = Math.Min(_min, number);
        _max = Math.Max(_max, number);
        // Welford's running mean and sum of squares: stable over any number of values.
        _seen++;
        var delta = number - _mean;
        _mean += delta / _seen;
        _m2 += delta * (number - _mean);
        // Reservoir sampling: every value has the same chance to be in the sample.
        if (_sample.Count < SampleSize) _sample.Add(number);
        else if (_random.NextInt64(_seen) is var slot && slot < SampleSize) _sample[(int)slot] = number;
    }

    /// <summary>The profile of the values added so far.</summary>
    public ColumnProfile ToProfile(string name, int topCategories = 10)
    {
        var type = _count == 0 ? "string" : _allLong ? "long" : _allDouble ? "double" : _allBool ? "bool" : "string";
        var numeric = type is "long" or "double";
        var profile = new ColumnProfile(name, type, _count, _missing, _values.Count, numeric ? _min : null, numeric ? _max : null, numeric ? _mean : null)
        {
            Kind = numeric ? "numeric" : "categorical",
            DistinctCapped = _capped,
        };
        if (numeric)
        {
            var sample = _sample.ToArray();
            var quantiles = Quantiles(sample);
            return profile with
            {
                Std = Math.Sqrt(_m2 / _seen),
                Quantiles = quantiles,
                Sampled = _seen > sample.Length,
                Histogram = MakeHistogram(sample, _min, _max, _seen),
            };
        }
        return profile with { Top = TopOf(_values, _count, topCategories) };
    }

    /// <summary>The exact profile of a column of numbers (NaN is missing). <paramref name="values"/> is not changed.</summary>
    public static ColumnProfile OfNumbers(string name, string kind, double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var present = new double[values.Length];
        var count = 0;
        foreach (var v in values)
            if (!double.IsNaN(v)) present[count++] = v;
        Array.Resize(ref present, count);
        if (count == 0) return new ColumnProfile(name, "double", 0, values.Length, 0, null, null, null) { Kind = kind, DistinctCapped = false };
        double sum = 0, squares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in present)
        {
            sum += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        var mean = sum / count;
        foreach (var v in present) squares += (v - mean) * (v - mean);
        // Distinct values up to the cap: a continuous column stops being looked at once the cap is reached.
        var distinct = new HashSet<double>();
        foreach (var v in present)
            if (distinct.Add(v) && distinct.Count >= MaxTracked) break;
        var histogram = MakeHistogram(present, min, max, count);
        return new ColumnProfile(name, "double", count, values.Length - count, distinct.Count, min, max, mean)
        {
            Kind = kind,
            DistinctCapped = distinct.Count >= MaxTracked,
            Std = Math.Sqrt(squares / count),
            Quantiles = Quantiles(present),
            Sampled = false,
            Histogram = histogram,
        };
    }

    /// <summary>The exact profile of a column of strings (null is missing), with its <paramref name="topCategories"/> most frequent values.</summary>
    public static ColumnProfile OfStrings(string name, string kind, string?[] values, int topCategories = 10)
    {
        ArgumentNullException.ThrowIfNull(values);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long present = 0;
        foreach (var v in values)
        {
            if (v is null) continue;
            present++;
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }
        return new ColumnProfile(name, "string", present, values.Length - present, counts.Count, null, null, null)
        {
            Kind = kind,
            DistinctCapped = false,
            Top = TopOf(counts, present, topCategories),
        };
    }

    private static List<CategoryCount> TopOf(Dictionary<string, long> counts, long present, int top) =>
        counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Take(top)
            .Select(c => new CategoryCount(c.Key, c.Value, (double)c.Value / Math.Max(present, 1))).ToList();

    /// <summary>The quantiles of <paramref name="values"/> (reordered in place: the ranks read are put where a sort would put them).</summary>
    private static Dictionary<string, double>? Quantiles(double[] values)
    {
        if (values.Length == 0) return null;
        // The order statistics the quantiles interpolate between, put in place without sorting the whole column.
        var ranks = Levels.SelectMany(l => QuantileRanks(values.Length, l.Level)).Distinct().Order().ToArray();
        SelectRanks(values, 0, values.Length - 1, ranks, 0, ranks.Length);
        return Levels.ToDictionary(l => l.Name, l => Quantile(values, l.Level), StringComparer.Ordinal);
    }

    /// <summary><see cref="Bins"/> equal-width bins over [min, max], counts scaled from the sample to <paramref name="total"/> values.</summary>
    private static Histogram? MakeHistogram(double[] sample, double min, double max, long total)
    {
        if (sample.Length == 0 || !double.IsFinite(min) || !double.IsFinite(max)) return null;
        var bins = max > min ? Bins : 1;
        var width = (max - min) / bins;
        var counts = new long[bins];
        foreach (var v in sample)
        {
            var bin = width > 0 ? (int)((v - min) / width) : 0;
            counts[Math.Clamp(bin, 0, bins - 1)]++;
        }
        if (total != sample.Length)
            for (var i = 0; i < bins; i++) counts[i] = (long)Math.Round(counts[i] * (double)total / sample.Length);
        var edges = new double[bins + 1];
        for (var i = 0; i <= bins; i++) edges[i] = i == bins ? max : min + i * width;
        return new Histogram(edges, counts);
    }

    /// <summary>The two ranks <see cref="Quantile"/> reads for level <paramref name="q"/> of <paramref name="n"/> values.</summary>
    private static int[] QuantileRanks(int n, double q)
    {
        var low = (int)Math.Floor(q * (n - 1));
        return [low, Math.Min(low + 1, n - 1)];
    }

    /// <summary>
    /// Puts the elements of ranks <c>ranks[rlo..rhi)</c> (ascending, within [lo, hi]) where a sort would put them: a quickselect
    /// for several ranks at once, each pass partitioning three ways around a median-of-three pivot and going on only into
    /// the parts that hold a wanted rank. Linear time for a handful of ranks, against a sort's n log n.
    /// </summary>
    public static void SelectRanks(double[] a, int lo, int hi, int[] ranks, int rlo, int rhi)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(ranks);
        while (rlo < rhi)
        {
            if (hi - lo < 32)
            {
                Array.Sort(a, lo, hi - lo + 1);
                return;
            }
            double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
            var pivot = Math.Max(Math.Min(x, y), Math.Min(Math.Max(x, y), z));
            int lt = lo, i = lo, gt = hi;
            while (i <= gt)
            {
                var v = a[i];
                if (v < pivot)
                {
                    a[i++] = a[lt];
                    a[lt++] = v;
                }
                else if (v > pivot)
                {
                    a[i] = a[gt];
                    a[gt--] = v;
                }
                else i++;
            }
            // [lo, lt) below the pivot, [lt, gt] equal to it (already in place), (gt, hi] above it.
            var below = rlo;
            while (below < rhi && ranks[below] < lt) below++;
            var above = below;
            while (above < rhi && ranks[above] <= gt) above++;
            SelectRanks(a, lo, lt - 1, ranks, rlo, below);
            (lo, rlo) = (gt + 1, above);
        }
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default) on sorted values (or values whose ranks it reads are in place).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 1) return sorted[0];
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
}

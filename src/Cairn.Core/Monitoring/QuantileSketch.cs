using System.Text.Json.Nodes;

namespace Cairn.Monitoring;

/// <summary>
/// A mergeable quantile sketch of a numeric column, for windows too large to sort (or to keep): a stack of compactors. Level h
/// holds values standing for 2^h values each; when a level reaches <see cref="K"/> values it is sorted and every other value
/// (alternately the odd and the even ones) moves up a level, the odd one out staying. Two sketches of the same K merge by
/// adding their levels together and compacting, in any order and grouping.
/// <para>
/// Error bound (deterministic, after any sequence of adds and merges): for every x, the estimated count of values ≤ x differs
/// from the true count by at most L·n/K, where n is <see cref="Count"/> and L = <see cref="CompactedLevels"/> (levels that
/// have ever compacted, at most ⌈log2(n/K)⌉ + 1). Proof sketch: a compaction at level h changes any count by at most 2^h (one
/// pair straddles x, its two values of weight 2^h become one of weight 2^(h+1), or none), and each compaction at level h uses
/// at least K values of weight 2^h, so level h compacts at most n/(K·2^h) times. <see cref="RankError"/> gives L/K; with the
/// default K = 4096 a million values give about 0.2 %. A quantile returned is one of the values seen, y, with at most
/// q·n + L·n/K values below y and at least q·n − L·n/K values ≤ y. Count, min, max, mean and variance are exact (up to
/// floating-point rounding).
/// </para>
/// </summary>
public sealed class QuantileSketch
{
    /// <summary>The default capacity of a level: 4096 values (at most ~0.2 % rank error for a million values).</summary>
    public const int DefaultK = 4096;

    private readonly List<List<double>> _levels = [];
    private readonly List<int> _compactions = [];
    private double _mean, _m2;
    private (double[] Values, double[] Below)? _view;

    /// <summary>A sketch whose levels hold <paramref name="k"/> values (16 to 1,048,576; larger is more exact and bigger).</summary>
    public QuantileSketch(int k = DefaultK)
    {
        if (k is < 16 or > 1 << 20) throw new InvalidParameterValueException($"Invalid value '{k}' for 'sketch size': it must be between 16 and 1048576.");
        K = k;
    }

    /// <summary>The capacity of a level.</summary>
    public int K { get; }

    /// <summary>Values added (NaN is not a value and is not counted).</summary>
    public long Count { get; private set; }

    /// <summary>The smallest value added; NaN when none.</summary>
    public double Min { get; private set; } = double.NaN;

    /// <summary>The largest value added; NaN when none.</summary>
    public double Max { get; private set; } = double.NaN;

    /// <summary>The mean of the values added; NaN when none.</summary>
    public double Mean => Count == 0 ? double.NaN : _mean;

    /// <summary>The population standard deviation of the values added; NaN when none.</summary>
    public double StandardDeviation => Count == 0 ? double.NaN : Math.Sqrt(_m2 / Count);

    /// <summary>Levels that have compacted at least once (L in the error bound).</summary>
    public int CompactedLevels { get; private set; }

    /// <summary>The bound on the rank error as a share of <see cref="Count"/>: L / K (0 while nothing was compacted: exact).</summary>
    public double RankError => (double)CompactedLevels / K;

    /// <summary>Values held (the sketch's size).</summary>
    public int Retained => _levels.Sum(l => l.Count);

    /// <summary>Adds a value; NaN (a missing value) is ignored.</summary>
    public void Add(double value)
    {
        if (double.IsNaN(value)) return;
        Count++;
        var delta = value - _mean;
        _mean += delta / Count;
        _m2 += delta * (value - _mean);
        if (Count == 1 || value < Min) Min = value;
        if (Count == 1 || value > Max) Max = value;
        Level(0).Add(value);
        _view = null;
        if (_levels[0].Count >= K) Compact(0);
    }

    /// <summary>Adds every value of <paramref name="values"/> (NaN ignored).</summary>
    public void AddRange(ReadOnlySpan<double> values)
    {
        foreach (var value in values) Add(value);
    }

    /// <summary>Adds <paramref name="other"/>'s values (the two must have the same K); <paramref name="other"/> is not changed.</summary>
    public void Merge(QuantileSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.K != K) throw new InvalidParameterValueException($"Invalid value '{other.K}' for 'sketch size': a sketch of size {K} merges only with one of the same size.");
        if (other.Count == 0) return;
        // Mean and variance of the union (Chan et al.'s pairwise update).
        var total = Count + other.Count;
        var delta = other._mean - _mean;
        _m2 += other._m2 + delta * delta * Count * other.Count / total;
        _mean += delta * other.Count / total;
        Min = Count == 0 ? other.Min : Math.Min(Min, other.Min);
        Max = Count == 0 ? other.Max : Math.Max(Max, other.Max);
        Count = total;
        for (var h = 0; h < other._levels.Count; h++)
        {
            Level(h).AddRange(other._levels[h]);
            while (_compactions.Count <= h) _compactions.Add(0);
        }
        CompactedLevels = Math.Max(CompactedLevels, other.CompactedLevels);
        _view = null;
        for (var h = 0; h < _levels.Count; h++)
            if (_levels[h].Count >= K) Compact(h);
    }

    private List<double> Level(int h)
    {
        while (_levels.Count <= h)
        {
            _levels.Add(new List<double>(Math.Min(K, 1024)));
            _compactions.Add(0);
        }
        return _levels[h];
    }

    /// <summary>Sorts level <paramref name="h"/> and moves every other value up (the odd one out stays), then the level above if full.</summary>
    private void Compact(int h)
    {
        var level = _levels[h];
        level.Sort();
        var above = Level(h + 1);
        // Alternating which of each pair moves up makes the errors of successive compactions cancel more often than add.
        var offset = _compactions[h]++ & 1;
        var pairs = level.Count / 2;
        var leftover = level.Count % 2 == 1 ? level[^1] : double.NaN;
        for (var i = 0; i < pairs; i++) above.Add(level[2 * i + offset]);
        level.Clear();
        if (!double.IsNaN(leftover)) level.Add(leftover);
        CompactedLevels = Math.Max(CompactedLevels, h + 1);
        if (above.Count >= K) Compact(h + 1);
    }

    /// <summary>The held values sorted, with the estimated count of values strictly below each.</summary>
    private (double[] Values, double[] Below) View()
    {
        if (_view is { } view) return view;
        var items = new List<(double Value, double Weight)>(Retained);
        for (var h = 0; h < _levels.Count; h++)
            foreach (var v in _levels[h]) items.Add((v, Math.Pow(2, h)));
        items.Sort((a, b) => a.Value.CompareTo(b.Value));
        var values = new double[items.Count];
        var below = new double[items.Count + 1];
        for (var i = 0; i < items.Count; i++)
        {
            values[i] = items[i].Value;
            below[i + 1] = below[i] + items[i].Weight;
        }
        return (_view = (values, below)).Value;
    }

    /// <summary>The estimated count of values ≤ <paramref name="x"/> (within L·n/K of the true count).</summary>
    public double CountAtMost(double x)
    {
        var (values, below) = View();
        var at = UpperBound(values, x);
        return below[at];
    }

    /// <summary>The estimated count of values &lt; <paramref name="x"/> (within L·n/K of the true count).</summary>
    public double CountBelow(double x)
    {
        var (values, below) = View();
        var at = LowerBound(values, x);
        return below[at];
    }

    /// <summary>
    /// The estimated <paramref name="q"/> quantile (0 ≤ q ≤ 1): the smallest held value whose estimated count of values ≤ it
    /// reaches q·n (the minimum for q = 0, the maximum for q = 1).
    /// </summary>
    public double Quantile(double q)
    {
        if (!(q is >= 0 and <= 1)) throw new InvalidParameterValueException($"Invalid value '{q}' for 'quantile': it must be between 0 and 1.");
        if (Count == 0) return double.NaN;
        if (q == 0) return Min;
        if (q == 1) return Max;
        var (values, below) = View();
        var target = q * Count;
        for (int lo = 0, hi = values.Length - 1; ;)
        {
            if (lo >= hi) return values[lo];
            var mid = (lo + hi) / 2;
            if (below[mid + 1] >= target) hi = mid;
            else lo = mid + 1;
        }
    }

    /// <summary>The held values ascending with the estimated count of values ≤ each (the step CDF the drift statistics read).</summary>
    public (double[] Values, double[] AtMost) Steps()
    {
        var (values, below) = View();
        // Equal values are one step.
        var distinct = new List<double>(values.Length);
        var atMost = new List<double>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            if (i + 1 < values.Length && values[i + 1] == values[i]) continue;
            distinct.Add(values[i]);
            atMost.Add(below[i + 1]);
        }
        return ([.. distinct], [.. atMost]);
    }

    private static int UpperBound(double[] values, double x)
    {
        int lo = 0, hi = values.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (values[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static int LowerBound(double[] values, double x)
    {
        int lo = 0, hi = values.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (values[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>The sketch as JSON: <c>{"k", "count", "min", "max", "mean", "m2", "compacted_levels", "compactions", "levels": [[...], ...]}</c>.</summary>
    public JsonObject ToJson()
    {
        var levels = new JsonArray();
        foreach (var level in _levels) levels.Add(new JsonArray(level.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));
        return new JsonObject
        {
            ["k"] = K,
            ["count"] = Count,
            ["min"] = Count == 0 ? null : Min,
            ["max"] = Count == 0 ? null : Max,
            ["mean"] = Count == 0 ? null : _mean,
            ["m2"] = Count == 0 ? null : _m2,
            ["compacted_levels"] = CompactedLevels,
            ["compactions"] = new JsonArray(_compactions.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
            ["levels"] = levels,
        };
    }

    /// <summary>Reads a sketch <see cref="ToJson"/> wrote; <paramref name="source"/> names it in errors.</summary>
    public static QuantileSketch FromJson(JsonNode? json, string source)
    {
        try
        {
            var node = json!.AsObject();
            var sketch = new QuantileSketch((int)node["k"]!);
            sketch.Count = (long)node["count"]!;
            if (sketch.Count < 0) throw new FormatException("a negative count");
            if (sketch.Count > 0)
            {
                sketch.Min = (double)node["min"]!;
                sketch.Max = (double)node["max"]!;
                sketch._mean = (double)node["mean"]!;
                sketch._m2 = (double)node["m2"]!;
            }
            var levels = node["levels"]!.AsArray();
            var compactions = node["compactions"]!.AsArray();
            if (levels.Count > 64 || compactions.Count != levels.Count) throw new FormatException("levels and compactions do not match");
            double weight = 0;
            for (var h = 0; h < levels.Count; h++)
            {
                var level = levels[h]!.AsArray();
                if (level.Count > sketch.K) throw new FormatException($"level {h} holds more than k values");
                sketch._levels.Add(level.Select(v => (double)v!).ToList());
                sketch._compactions.Add((int)compactions[h]!);
                weight += level.Count * Math.Pow(2, h);
            }
            sketch.CompactedLevels = (int)node["compacted_levels"]!;
            if (weight != sketch.Count) throw new FormatException($"its values stand for {weight} values, not its count {sketch.Count}");
            return sketch;
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or OverflowException or InvalidCastException or InvalidParameterValueException)
        {
            throw new InvalidParameterValueException($"{source}: not a quantile sketch ({e.Message}).");
        }
    }
}

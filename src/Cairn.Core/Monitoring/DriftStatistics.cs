namespace Cairn.Monitoring;

/// <summary>
/// The distance statistics of the drift report, each matching SciPy/NumPy's definition (docs/MONITORING.md): Wasserstein-1,
/// quantile bins from the reference, PSI and Jensen–Shannon over bin or category shares, and the chi-square test of the
/// 2 x K table. Numeric inputs are sorted samples without NaN (<see cref="SortedSample"/>), so every statistic is one merge.
/// </summary>
public static class DriftStatistics
{
    /// <summary>The share a bin or category empty on one side gets instead of 0 (the shares are not renormalised for PSI).</summary>
    public const double Epsilon = 1e-4;

    /// <summary>
    /// Wasserstein-1 between two sorted samples: ∫ |F_ref(x) - F_cur(x)| dx, the sum over consecutive pooled values of the
    /// CDF distance times the gap, as <c>scipy.stats.wasserstein_distance</c> computes it.
    /// </summary>
    public static double Wasserstein(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n1 = a.Length, n2 = b.Length, i = 0, j = 0;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Both samples need at least one value.");
        double sum = 0, compensation = 0;
        var previous = Math.Min(a[0], b[0]);
        while (i < n1 || j < n2)
        {
            var v = i < n1 && (j >= n2 || a[i] <= b[j]) ? a[i] : b[j];
            if (i + j > 0)
            {
                // Kahan-compensated: two million terms summed plainly drift from NumPy's pairwise sum in the 12th digit.
                var term = Math.Abs((double)i / n1 - (double)j / n2) * (v - previous);
                var y = term - compensation;
                var t = sum + y;
                compensation = t - sum - y;
                sum = t;
            }
            while (i < n1 && a[i] == v) i++;
            while (j < n2 && b[j] == v) j++;
            previous = v;
        }
        return sum;
    }

    /// <summary>
    /// The Kolmogorov–Smirnov statistic D (as <see cref="KolmogorovSmirnov"/> computes it) and the Wasserstein-1 distance (as
    /// <see cref="Wasserstein"/>) in one merge over the two sorted samples, with the same operations as each on its own, so the
    /// same bits: the CDF difference after a value is the one the area up to the next value uses.
    /// </summary>
    public static (double Ks, double Wasserstein) KsAndWasserstein(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n1 = a.Length, n2 = b.Length, i = 0, j = 0;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Both samples need at least one value.");
        double sum = 0, compensation = 0, max = 0, min = 0, diff = 0;
        var previous = Math.Min(a[0], b[0]);
        while (i < n1 || j < n2)
        {
            var v = i < n1 && (j >= n2 || a[i] <= b[j]) ? a[i] : b[j];
            if (i + j > 0)
            {
                var term = Math.Abs(diff) * (v - previous);
                var y = term - compensation;
                var t = sum + y;
                compensation = t - sum - y;
                sum = t;
            }
            while (i < n1 && a[i] == v) i++;
            while (j < n2 && b[j] == v) j++;
            diff = (double)i / n1 - (double)j / n2;
            if (diff > max) max = diff;
            if (diff < min) min = diff;
            previous = v;
        }
        var minS = Math.Clamp(-min, 0, 1);
        return (minS > max ? minS : max, sum);
    }

    /// <summary>The population standard deviation (NumPy's default, ddof = 0) of a sample, two-pass.</summary>
    public static double StandardDeviation(ReadOnlySpan<double> values)
    {
        if (values.Length == 0) return double.NaN;
        var mean = 0.0;
        foreach (var v in values) mean += v;
        mean /= values.Length;
        var squares = 0.0;
        foreach (var v in values) squares += (v - mean) * (v - mean);
        return Math.Sqrt(squares / values.Length);
    }

    /// <summary>
    /// The bin edges: the distinct values among the reference's 10%, 20%, ..., 90% quantiles, each interpolated linearly as
    /// <c>numpy.quantile</c> does (virtual index q (n - 1), and the same two-sided lerp).
    /// </summary>
    public static double[] QuantileEdges(ReadOnlySpan<double> sortedReference)
    {
        if (sortedReference.Length == 0) return [];
        var edges = new List<double>(9);
        for (var k = 1; k <= 9; k++)
        {
            var q = k / 10.0;
            var e = Quantile(sortedReference, q);
            if (edges.Count == 0 || e != edges[^1]) edges.Add(e);
        }
        return [.. edges];
    }

    /// <summary>The <paramref name="q"/> quantile of a sorted sample, linear interpolation (NumPy's default method).</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        var index = (sorted.Length - 1) * q;
        var below = Math.Floor(index);
        var lo = (int)below;
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        var t = index - below;
        double a = sorted[lo], b = sorted[hi];
        var diff = b - a;
        // NumPy's _lerp: a + t (b - a) below one half, b - (1 - t)(b - a) from one half on.
        return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    }

    /// <summary>
    /// Counts of a sorted sample in the bins (-inf, e1), [e1, e2), ..., [em, +inf): a value x goes to the number of edges ≤ x
    /// (a right-sided search).
    /// </summary>
    public static long[] BinCounts(ReadOnlySpan<double> sorted, ReadOnlySpan<double> edges)
    {
        var counts = new long[edges.Length + 1];
        var at = 0;
        for (var bin = 0; bin < edges.Length; bin++)
        {
            // Values below edges[bin] belong to bins up to `bin`.
            var start = at;
            while (at < sorted.Length && sorted[at] < edges[bin]) at++;
            counts[bin] = at - start;
        }
        counts[edges.Length] = sorted.Length - at;
        return counts;
    }

    /// <summary>Shares count / total, a share of exactly 0 replaced by <see cref="Epsilon"/> (no renormalising).</summary>
    public static double[] Shares(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (var c in counts) total += c;
        var shares = new double[counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            var share = total == 0 ? 0 : (double)counts[i] / total;
            shares[i] = share == 0 ? Epsilon : share;
        }
        return shares;
    }

    /// <summary>Population Stability Index Σ (cur - ref) ln(cur / ref) over shares.</summary>
    public static double Psi(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        var psi = 0.0;
        for (var i = 0; i < reference.Length; i++) psi += (current[i] - reference[i]) * Math.Log(current[i] / reference[i]);
        return psi;
    }

    /// <summary>
    /// The Jensen–Shannon distance as <c>scipy.spatial.distance.jensenshannon</c> (natural log): both vectors renormalised to
    /// sum to 1, m their mean, sqrt((KL(p‖m) + KL(q‖m)) / 2).
    /// </summary>
    public static double JensenShannon(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        double sumP = 0, sumQ = 0;
        for (var i = 0; i < reference.Length; i++)
        {
            sumP += reference[i];
            sumQ += current[i];
        }
        double left = 0, right = 0;
        for (var i = 0; i < reference.Length; i++)
        {
            var p = reference[i] / sumP;
            var q = current[i] / sumQ;
            var m = (p + q) / 2;
            left += RelativeEntropy(p, m);
            right += RelativeEntropy(q, m);
        }
        return Math.Sqrt((left + right) / 2);
    }

    private static double RelativeEntropy(double x, double y) =>
        x > 0 && y > 0 ? x * Math.Log(x / y) : x == 0 && y >= 0 ? 0 : double.PositiveInfinity;

    /// <summary>
    /// Pearson's chi-square test of the 2 x K table (reference and current counts per category) as
    /// <c>scipy.stats.chi2_contingency</c>: expected = row total x column total / total, Yates' correction (each observed
    /// count moved towards its expected by at most 0.5) only when K = 2, K - 1 degrees of freedom; one category gives 0 and 1.
    /// </summary>
    public static TestStatistic ChiSquare(ReadOnlySpan<long> reference, ReadOnlySpan<long> current)
    {
        var k = reference.Length;
        if (k < 2) return new TestStatistic(0, 1);
        double refTotal = 0, curTotal = 0;
        for (var i = 0; i < k; i++)
        {
            refTotal += reference[i];
            curTotal += current[i];
        }
        var total = refTotal + curTotal;
        var statistic = 0.0;
        for (var i = 0; i < k; i++)
        {
            var column = (double)(reference[i] + current[i]);
            statistic += Term(reference[i], refTotal * column / total, k == 2);
            statistic += Term(current[i], curTotal * column / total, k == 2);
        }
        return new TestStatistic(statistic, SpecialFunctions.ChiSquareSurvival(statistic, k - 1));

        static double Term(double observed, double expected, bool yates)
        {
            if (yates)
            {
                var diff = expected - observed;
                observed += Math.Min(0.5, Math.Abs(diff)) * Math.Sign(diff);
            }
            var d = observed - expected;
            return d * d / expected;
        }
    }
}

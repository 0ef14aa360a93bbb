namespace Cairn.Monitoring;

/// <summary>A statistic and its p-value.</summary>
/// <param name="Statistic">The test statistic.</param>
/// <param name="PValue">Its p-value.</param>
public readonly record struct TestStatistic(double Statistic, double PValue);

/// <summary>
/// The two-sample Kolmogorov–Smirnov test, two-sided, as SciPy's <c>ks_2samp(method='auto')</c> defines it: D is the largest
/// distance between the two empirical CDFs (right-continuous, evaluated at every observed value); when the larger sample has at
/// most 10,000 values the p-value is exact (lattice-path counting: Hodges' method for equal sizes, Viehmann's stable recursion
/// for unequal ones) and D is reported as h / lcm(n1, n2), otherwise it is <see cref="KolmogorovDistribution"/>'s tail at
/// n = round(n1 n2 / (n1 + n2)).
/// </summary>
public static class KolmogorovSmirnov
{
    /// <summary>The largest sample for which the p-value is exact.</summary>
    public const int MaxExactSize = 10_000;

    /// <summary>Tests two samples, each sorted ascending without NaN; both must be non-empty.</summary>
    public static TestStatistic Test(ReadOnlySpan<double> sortedReference, ReadOnlySpan<double> sortedCurrent)
    {
        int n1 = sortedReference.Length, n2 = sortedCurrent.Length;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Both samples need at least one value.");
        return FromStatistic(n1, n2, Statistic(sortedReference, sortedCurrent));
    }

    /// <summary>The test of samples of <paramref name="n1"/> and <paramref name="n2"/> values whose statistic D (as <see cref="Statistic"/>) is known.</summary>
    internal static TestStatistic FromStatistic(int n1, int n2, double d)
    {
        var g = Gcd(n1, n2);
        if (Math.Max(n1, n2) <= MaxExactSize && TryExact(n1, n2, g, d, out var exactD, out var exactP))
            return new TestStatistic(exactD, exactP);
        double m = Math.Max(n1, n2), n = Math.Min(n1, n2);
        var en = (int)Math.Round(m * n / (m + n), MidpointRounding.ToEven);
        return new TestStatistic(d, Math.Clamp(KolmogorovDistribution.Survival(Math.Max(en, 1), d), 0, 1));
    }

    /// <summary>max |F1(x) - F2(x)| over the observed values, one merge over the sorted samples.</summary>
    internal static double Statistic(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n1 = a.Length, n2 = b.Length, i = 0, j = 0;
        double max = 0, min = 0;
        while (i < n1 || j < n2)
        {
            var v = i < n1 && (j >= n2 || a[i] <= b[j]) ? a[i] : b[j];
            while (i < n1 && a[i] == v) i++;
            while (j < n2 && b[j] == v) j++;
            // The same operations as SciPy (two divisions, one subtraction), so D has the same bits.
            var diff = (double)i / n1 - (double)j / n2;
            if (diff > max) max = diff;
            if (diff < min) min = diff;
        }
        var minS = Math.Clamp(-min, 0, 1);
        return minS > max ? minS : max;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    private static bool TryExact(int n1, int n2, int g, double d, out double exactD, out double p)
    {
        var lcm = (long)(n1 / g) * n2;
        var h = (long)Math.Round(d * lcm, MidpointRounding.ToEven);
        exactD = (double)h / lcm;
        if (h == 0)
        {
            p = 1;
            return true;
        }
        p = n1 == n2 ? ProbOutsideSquare(n1, (int)h) : OuterProbInside(n1, n2, g, h);
        return p is >= 0 and <= 1;
    }

    /// <summary>
    /// P(D_{n,n} ≥ h/n) = 2 Σ_k (-1)^(k+1) C(2n, n - kh) / C(2n, n), evaluated Horner-like from the innermost term so the
    /// alternating sum does not cancel: 2 A0 (1 - A1 (1 - A2 (...))).
    /// </summary>
    internal static double ProbOutsideSquare(int n, int h)
    {
        var p = 0.0;
        for (var k = n / h; k >= 0; k--)
        {
            var p1 = 1.0;
            for (var j = 0; j < h; j++) p1 = (double)(n - k * h - j) * p1 / (n + k * h + j + 1);
            p = p1 * (1 - p);
        }
        return 2 * p;
    }

    /// <summary>
    /// 1 - (paths from (0,0) to (m,n) staying strictly inside |x/m - y/n| &lt; h/lcm) / C(m+n, n), computed column by column as
    /// the proportion itself (Viehmann 2021), over a sliding window of the column, so nothing overflows.
    /// </summary>
    internal static double OuterProbInside(long m, long n, long g, long h)
    {
        if (m < n) (m, n) = (n, m);
        var mg = m / g;
        var ng = n / g;
        var minj = 0L;
        var maxj = Math.Min((long)Math.Ceiling((double)h / mg), n + 1);
        var curlen = maxj - minj;
        var lenA = Math.Min(2 * maxj + 2, n + 1);
        var A = new double[lenA];
        Array.Fill(A, 1.0);
        for (var x = minj; x < maxj; x++) A[x] = 0;
        for (long i = 1; i <= m; i++)
        {
            var lastminj = minj;
            var lastlen = curlen;
            minj = Math.Max((long)Math.Floor((double)(ng * i - h) / mg) + 1, 0);
            minj = Math.Min(minj, n);
            maxj = Math.Min((long)Math.Ceiling((double)(ng * i + h) / mg), n + 1);
            if (maxj <= minj) return 1;
            var val = minj == 0 ? 0.0 : 1.0;
            for (long jj = 0; jj < maxj - minj; jj++)
            {
                var j = jj + minj;
                val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
                A[jj] = val;
            }
            curlen = maxj - minj;
            if (lastlen > curlen)
                for (var x = maxj - minj; x < maxj - minj + (lastlen - curlen) && x < lenA; x++) A[x] = 1;
        }
        return A[maxj - minj - 1];
    }
}

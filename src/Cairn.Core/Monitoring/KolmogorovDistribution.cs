namespace Cairn.Monitoring;

/// <summary>
/// The survival function of the two-sided one-sample Kolmogorov–Smirnov statistic D_n, P(D_n ≥ x), computed as Simard and
/// L'Ecuyer (2011) recommend and SciPy's <c>kstwo.sf</c> does: Ruben–Gambino's closed forms at the ends, twice the one-sided
/// exact tail for x ≥ 0.5 or a large n x², the Durbin matrix (Marsaglia–Tsang–Wang) or Pomeranz's recursion for small n,
/// and the Pelz–Good expansion for large n. <see cref="KolmogorovSmirnov"/> takes its asymptotic two-sample p-value from
/// here, with n = round(n1 n2 / (n1 + n2)).
/// </summary>
internal static class KolmogorovDistribution
{
    private const int Scale = 128;
    private static readonly double Big = Math.ScaleB(1.0, Scale), Small = Math.ScaleB(1.0, -Scale);

    /// <summary>P(D_n ≥ x).</summary>
    public static double Survival(int n, double x)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (double.IsNaN(x)) return double.NaN;
        // The distribution's support is [1/(2n), 1].
        if (x <= 0.5 / n) return 1;
        if (x >= 1) return 0;
        var t = n * x;
        if (t <= 1)
        {
            // Ruben–Gambino: P(D_n ≤ x) = n! / n^n (2t - 1)^n for 1/(2n) ≤ x ≤ 1/n.
            double cdf;
            if (n <= 140)
            {
                cdf = 1;
                for (var i = 1; i <= n; i++) cdf *= i * (1.0 / n) * (2 * t - 1);
            }
            else cdf = Math.Exp(LogFactorialOverPower(n) + n * Math.Log(2 * t - 1));
            return Clip(1 - cdf);
        }
        if (t >= n - 1) return Clip(2 * Math.Pow(1 - x, n)); // Ruben–Gambino at the top
        if (x >= 0.5) return Clip(2 * OneSidedSurvival(n, x));
        var nxx = t * x;
        if (n <= 140)
        {
            if (nxx <= 0.754693) return Clip(1 - Durbin(n, x));
            if (nxx <= 4) return Clip(1 - Pomeranz(n, x));
            return Clip(2 * OneSidedSurvival(n, x));
        }
        if (nxx >= 370) return 0;
        if (nxx >= 2.2) return Clip(2 * OneSidedSurvival(n, x));
        double cdfProb = nxx >= 18 ? 1
            : n <= 100_000 && n * Math.Pow(x, 1.5) <= 1.4 ? Durbin(n, x)
            : PelzGood(n, x);
        return Clip(1 - cdfProb);
    }

    private static double Clip(double p) => double.IsNaN(p) ? p : Math.Clamp(p, 0, 1);

    /// <summary>ln(n! / n^n) by Stirling's series.</summary>
    private static double LogFactorialOverPower(int n)
    {
        double[] coefficients = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4,
            -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2];
        var rn = 1.0 / n;
        var r2 = rn / n;
        var poly = 0.0;
        foreach (var c in coefficients) poly = poly * r2 + c;
        return Math.Log(n) / 2 - n + Math.Log(2 * Math.PI) / 2 + rn * poly;
    }

    /// <summary>
    /// The one-sided tail P(D+_n ≥ x) by the Birnbaum–Tingey sum x Σ_{j=0}^{⌊n(1-x)⌋} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1),
    /// whose terms are all positive (no cancellation); each term is formed in logarithms and the sum rescaled as it grows.
    /// </summary>
    internal static double OneSidedSurvival(int n, double x)
    {
        if (x <= 0) return 1;
        if (x >= 1) return 0;
        var last = (int)Math.Floor(n * (1 - x));
        var logChoose = 0.0; // ln C(n, j)
        var logX = Math.Log(x);
        double maxLog = double.NegativeInfinity, sum = 0;
        for (var j = 0; j <= last; j++)
        {
            if (j > 0) logChoose += Math.Log(n - j + 1) - Math.Log(j);
            var low = 1 - x - (double)j / n;
            if (low <= 0 && j < n) continue;
            var logTerm = logChoose + (n - j) * (low <= 0 ? 0 : Math.Log(low)) + (j - 1) * Math.Log(x + (double)j / n) + logX;
            if (logTerm > maxLog)
            {
                sum = sum * Math.Exp(maxLog - logTerm) + 1;
                maxLog = logTerm;
            }
            else sum += Math.Exp(logTerm - maxLog);
        }
        return sum == 0 ? 0 : Math.Min(1, sum * Math.Exp(maxLog));
    }

    /// <summary>P(D_n &lt; d) by Durbin's matrix method as Marsaglia, Tsang and Wang (2003) evaluate it (H^n, exponents kept apart).</summary>
    internal static double Durbin(int n, double d)
    {
        if (d >= 1) return 1;
        var nd = n * d;
        if (nd <= 0.5) return 0;
        var k = (int)Math.Ceiling(nd);
        var h = k - nd;
        var m = 2 * k - 1;
        var v = new double[m];
        var w = new double[m];
        var fac = 1.0;
        for (var j = 1; j <= m; j++)
        {
            w[j - 1] = fac;
            fac /= j;
            v[j - 1] = (1 - Math.Pow(h, j)) * fac;
        }
        var tt = Math.Pow(Math.Max(2 * h - 1, 0), m) - 2 * Math.Pow(h, m);
        v[m - 1] = (1 + tt) * fac;
        var H = new double[m, m];
        for (var i = 1; i < m; i++)
            for (var r = i - 1; r < m; r++) H[r, i] = w[r - i + 1];
        for (var r = 0; r < m; r++) H[r, 0] = v[r];
        for (var c = 0; c < m; c++) H[m - 1, c] = v[m - 1 - c];

        var power = Identity(m);
        int exponent = 0, hExponent = 0;
        for (var nn = n; nn > 0; nn /= 2)
        {
            if (nn % 2 == 1)
            {
                power = Multiply(power, H);
                exponent += hExponent;
            }
            H = Multiply(H, H);
            hExponent *= 2;
            if (Math.Abs(H[k - 1, k - 1]) > Big)
            {
                Divide(H, Big);
                hExponent += Scale;
            }
        }
        var p = power[k - 1, k - 1];
        for (var i = 1; i <= n; i++)
        {
            p = i * p / n;
            if (Math.Abs(p) < Small)
            {
                p *= Big;
                exponent -= Scale;
            }
        }
        if (exponent != 0) p = Math.ScaleB(p, exponent);
        return Math.Clamp(p, 0, 1);
    }

    private static double[,] Identity(int m)
    {
        var identity = new double[m, m];
        for (var i = 0; i < m; i++) identity[i, i] = 1;
        return identity;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var m = a.GetLength(0);
        var product = new double[m, m];
        for (var i = 0; i < m; i++)
            for (var l = 0; l < m; l++)
            {
                var ail = a[i, l];
                if (ail == 0) continue;
                for (var j = 0; j < m; j++) product[i, j] += ail * b[l, j];
            }
        return product;
    }

    private static void Divide(double[,] a, double by)
    {
        var m = a.GetLength(0);
        for (var i = 0; i < m; i++)
            for (var j = 0; j < m; j++) a[i, j] /= by;
    }

    /// <summary>The first and last column of row <paramref name="i"/>'s band in Pomeranz's recursion.</summary>
    private static (int First, int Last) PomeranzBand(int i, int n, int ll, int ceilF, int roundF)
    {
        int j1, j2;
        if (i == 0) (j1, j2) = (-ll - ceilF - 1, ll + ceilF - 1);
        else
        {
            var half = (i + 1) / 2;
            if ((i + 1) % 2 == 0)
            {
                if (half == n + 1) (j1, j2) = (n - ll - ceilF - 1, n + ll + ceilF - 1);
                else (j1, j2) = (half - 1 - ll - roundF - 1, half + ll - 1 + ceilF - 1);
            }
            else (j1, j2) = (half - 1 - ll - 1, half + ll + roundF - 1);
        }
        return (Math.Max(j1 + 2, 0), Math.Min(j2, n));
    }

    /// <summary>P(D_n ≤ x) by Pomeranz's (1974) recursion over the 2n + 2 break points, rows rescaled as they shrink.</summary>
    internal static double Pomeranz(int n, double x)
    {
        var t = n * x;
        var ll = (int)Math.Floor(t);
        var f = t - ll;
        var g = Math.Min(f, 1 - f);
        var ceilF = f > 0 ? 1 : 0;
        var roundF = f > 0.5 ? 1 : 0;
        var powers = 2 * (ll + 1);
        var gPower = new double[powers];
        var twoGPower = new double[powers];
        var oneMinusTwoGPower = new double[powers];
        gPower[0] = twoGPower[0] = oneMinusTwoGPower[0] = 1;
        for (var m = 1; m < powers; m++)
        {
            gPower[m] = gPower[m - 1] * (g / n) / m;
            twoGPower[m] = twoGPower[m - 1] * (2 * g / n) / m;
            oneMinusTwoGPower[m] = oneMinusTwoGPower[m - 1] * ((1 - 2 * g) / n) / m;
        }
        var v0 = new double[powers];
        var v1 = new double[powers];
        v1[0] = 1;
        int v0Start = 0, v1Start = 0, exponent = 0;
        var (j1, j2) = PomeranzBand(0, n, ll, ceilF, roundF);
        for (var i = 1; i < 2 * n + 2; i++)
        {
            var k1 = j1;
            (v0, v1) = (v1, v0);
            (v0Start, v1Start) = (v1Start, v0Start);
            Array.Clear(v1);
            (j1, j2) = PomeranzBand(i, n, ll, ceilF, roundF);
            var pw = i == 1 || i == 2 * n + 1 ? gPower : i % 2 == 1 ? twoGPower : oneMinusTwoGPower;
            var length = j2 - k1 + 1;
            if (length <= 0) continue;
            // v1[0 .. j2 - j1] = (v0[k1 - v0Start ..] convolved with pw)[j1 - k1 ..]
            var offset = j1 - k1;
            var count = j2 - j1 + 1;
            var aLength = Math.Min(length, powers - (k1 - v0Start)); // numpy's slices stop at the array's end
            var bLength = Math.Min(length, powers);
            var max = 0.0;
            for (var c = 0; c < count; c++)
            {
                var at = offset + c; // index into the full convolution of the two slices
                var sum = 0.0;
                var from = Math.Max(0, at - (bLength - 1));
                var to = Math.Min(at, aLength - 1);
                for (var a = from; a <= to; a++) sum += v0[k1 - v0Start + a] * pw[at - a];
                v1[c] = sum;
                if (sum > max) max = sum;
            }
            if (max > 0 && max < Small)
            {
                for (var c = 0; c < count; c++) v1[c] *= Big;
                exponent -= Scale;
            }
            v1Start = v0Start + j1 - k1;
        }
        var answer = v1[n - v1Start];
        for (var m = 1; m <= n; m++)
        {
            if (Math.Abs(answer) > Big)
            {
                answer *= Small;
                exponent += Scale;
            }
            answer *= m;
        }
        if (exponent != 0) answer = Math.ScaleB(answer, exponent);
        return Math.Clamp(answer, 0, 1);
    }

    /// <summary>
    /// P(D_n ≤ x) by the Pelz–Good (1976) expansion of the Li-Chien/Korolyuk series K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5,
    /// z = x√n, each term in its Jacobi-theta form for small z.
    /// </summary>
    internal static double PelzGood(int n, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var z = Math.Sqrt(n) * x;
        double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
        double pi2 = Math.PI * Math.PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
        var qLog = -pi2 / 8 / z2;
        if (qLog < -708) return 0;
        var q = Math.Exp(qLog);
        var k1a = -z2;
        var k1b = pi2 / 4;
        var k2a = 6 * z6 + 2 * z4;
        var k2b = (2 * z4 - 5 * z2) * pi2 / 4;
        var k2c = pi4 * (1 - 2 * z2) / 16;
        var k3d = pi6 * (5 - 30 * z2) / 64;
        var k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
        var k3b = pi2 * (135 * z4 - 96 * z6) / 4;
        var k3a = -30 * z6 - 90 * z4 * z4;
        Span<double> K = stackalloc double[4];
        K.Clear();
        var maxK = (int)Math.Ceiling(16 * z / Math.PI);
        for (var k = maxK; k > 0; k--)
        {
            double m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
            var qPower = Math.Pow(q, 8 * k);
            K[0] = K[0] * qPower + 1;
            K[1] = K[1] * qPower + (k1a + k1b * m2);
            K[2] = K[2] * qPower + (k2a + k2b * m2 + k2c * m4);
            K[3] = K[3] * qPower + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
        }
        var sqrt2Pi = Math.Sqrt(2 * Math.PI);
        K[0] *= q * sqrt2Pi / z;
        K[1] *= q * sqrt2Pi / (6 * z4);
        K[2] *= q * sqrt2Pi / (72 * Math.Pow(z, 7));
        K[3] *= q * sqrt2Pi / (6480 * Math.Pow(z, 10));
        var q2 = Math.Exp(-pi2 / 2 / z2);
        double extra2 = 0, extra3 = 0;
        var sqrt3z = Math.Sqrt(3) * z;
        for (var k = maxK; k > 0; k--)
        {
            double k2 = (double)k * k, qk = Math.Pow(q2, k2), kpi = Math.PI * k;
            extra2 += k2 * qk;
            extra3 += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
        }
        K[2] += extra2 * pi2 * sqrt2Pi / (-36 * z3);
        K[3] += extra3 * pi2 * sqrt2Pi / (216 * z6);
        double sqrtN = Math.Sqrt(n), total = 0;
        total += K[0];
        total += K[1] / sqrtN;
        total += K[2] / n;
        total += K[3] / (n * sqrtN);
        return total;
    }
}

using System.Text.Json;
using Cairn.Monitoring;

namespace Cairn.Tests.Monitoring;

/// <summary>
/// Every drift statistic against SciPy/NumPy on the cases <c>fixtures/make_fixtures.py</c> generated (exact and asymptotic
/// KS through every branch, ties, NaN, constants, huge values, categories with unseen values and nulls): statistics to 1e-9
/// (relative to their size when above 1), p-values to 1e-6.
/// </summary>
public sealed class ScipyFixtureTests
{
    private static readonly Lazy<JsonDocument> Fixtures = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Monitoring", "fixtures", "drift_fixtures.json"))));

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Fixtures.Value.RootElement.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<int, double, double> KsTwoPoints()
    {
        var data = new TheoryData<int, double, double>();
        foreach (var p in Fixtures.Value.RootElement.GetProperty("kstwo_sf").EnumerateArray())
            data.Add(p.GetProperty("n").GetInt32(), p.GetProperty("x").GetDouble(), p.GetProperty("sf").GetDouble());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Statistics_match_scipy(string name)
    {
        var c = Fixtures.Value.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var numeric = c.GetProperty("type").GetString() == "numeric";
        FeatureDrift result;
        if (numeric)
        {
            var column = new NumericDriftColumn(name, Numbers(c.GetProperty("reference")), Numbers(c.GetProperty("current")));
            result = DriftAnalyzer.Numeric(column, DriftMethod.Psi, 0.1);
        }
        else
        {
            var column = new CategoricalDriftColumn(name, Strings(c.GetProperty("reference")), Strings(c.GetProperty("current")));
            result = DriftAnalyzer.Categorical(column, DriftMethod.Psi, 0.1);
            Assert.Equal(c.GetProperty("unseen_categories").GetInt32(), result.UnseenCategories);
        }
        Assert.Equal(c.GetProperty("n_ref").GetInt32(), result.ReferenceCount);
        Assert.Equal(c.GetProperty("n_cur").GetInt32(), result.CurrentCount);
        Assert.Equal(c.GetProperty("reference").GetArrayLength() - result.ReferenceCount, result.ReferenceMissing);
        Assert.Equal(c.GetProperty("current").GetArrayLength() - result.CurrentCount, result.CurrentMissing);
        if (!c.TryGetProperty("psi", out var psi))
        {
            // A side without values: nothing is computed, and the feature is not scored.
            Assert.Null(result.Psi);
            Assert.Null(result.Score);
            Assert.False(result.Drifted);
            Assert.NotNull(result.Note);
            return;
        }
        Close(psi.GetDouble(), result.Psi!.Value, "psi");
        Close(c.GetProperty("js").GetDouble(), result.Js!.Value, "js");
        if (numeric)
        {
            var ks = c.GetProperty("ks");
            Close(ks.GetProperty("statistic").GetDouble(), result.Ks!.Value.Statistic, "ks statistic");
            Assert.Equal(ks.GetProperty("p_value").GetDouble(), result.Ks!.Value.PValue, 1e-6);
            Close(c.GetProperty("wasserstein").GetDouble(), result.Wasserstein!.Value, "wasserstein");
            Close(c.GetProperty("wasserstein_normalized").GetDouble(), result.WassersteinNormalized!.Value, "wasserstein normalized");
            var sorted = SortedSample.From(Numbers(c.GetProperty("reference"))).Values;
            Assert.Equal(c.GetProperty("edges").EnumerateArray().Select(e => e.GetDouble()), DriftStatistics.QuantileEdges(sorted));
        }
        else
        {
            var chi2 = c.GetProperty("chi2");
            Close(chi2.GetProperty("statistic").GetDouble(), result.Chi2!.Value.Statistic, "chi2 statistic");
            Assert.Equal(chi2.GetProperty("p_value").GetDouble(), result.Chi2!.Value.PValue, 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(KsTwoPoints))]
    public void Kolmogorov_survival_matches_scipy_kstwo(int n, double x, double expected) =>
        Assert.Equal(expected, KolmogorovDistribution.Survival(n, x), 1e-6);

    private static void Close(double expected, double actual, string what)
    {
        if (double.IsInfinity(expected))
        {
            Assert.Equal(expected, actual);
            return;
        }
        var tolerance = 1e-9 * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected:R}, got {actual:R}");
    }

    private static double[] Numbers(JsonElement array) =>
        array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble()).ToArray();

    private static string?[] Strings(JsonElement array) =>
        array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? null : e.GetString()).ToArray();
}

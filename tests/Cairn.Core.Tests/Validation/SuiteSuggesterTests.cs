using System.Globalization;
using Cairn.Validation;

namespace Cairn.Tests.Validation;

/// <summary>
/// A suggested suite generalises: a second, independent sample of the same distribution passes it, and a copy of that sample
/// broken in one way at a time fails it, by the expectation that kind of breakage should trip.
/// </summary>
public sealed class SuiteSuggesterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const int Rows = 2000;

    /// <summary>
    /// One sample of the distribution, as text cells (as a file holds them): customer_id a key; age normal(40, 10) rounded;
    /// amount normal(100, 15) with two decimals; plan basic/pro/team at 60/30/10 %; city with 5 % missing; rating 1..5;
    /// active true/false.
    /// </summary>
    internal static Dictionary<string, string?[]> Sample(int seed, int firstId)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        string[] cities = ["Lyon", "Oslo", "Porto", "Graz"];
        var columns = new Dictionary<string, string?[]>
        {
            ["customer_id"] = new string?[Rows], ["age"] = new string?[Rows], ["amount"] = new string?[Rows], ["plan"] = new string?[Rows],
            ["city"] = new string?[Rows], ["rating"] = new string?[Rows], ["active"] = new string?[Rows],
        };
        for (var r = 0; r < Rows; r++)
        {
            columns["customer_id"][r] = (firstId + r).ToString(CultureInfo.InvariantCulture);
            columns["age"][r] = Math.Round(40 + 10 * Normal()).ToString(CultureInfo.InvariantCulture);
            columns["amount"][r] = (100 + 15 * Normal()).ToString("0.00", CultureInfo.InvariantCulture);
            var u = random.NextDouble();
            columns["plan"][r] = u < 0.6 ? "basic" : u < 0.9 ? "pro" : "team";
            columns["city"][r] = random.NextDouble() < 0.05 ? null : cities[random.Next(cities.Length)];
            columns["rating"][r] = (1 + random.Next(5)).ToString(CultureInfo.InvariantCulture);
            columns["active"][r] = random.Next(2) == 0 ? "true" : "false";
        }
        return columns;
    }

    private static ColumnSet Set(Dictionary<string, string?[]> columns)
    {
        var set = new ColumnSet(columns.First().Value.Length);
        foreach (var (name, values) in columns) set.Add(name, values);
        return set;
    }

    /// <summary>The suggested suite, written as YAML and read back, as a user would run it.</summary>
    private ExpectationSuite Suggested() =>
        ExpectationSuite.Parse(SuiteWriter.ToYaml(SuiteSuggester.Suggest(Set(Sample(seed: 1, firstId: 1)), "customers")), "suggested.yaml", _dir.Path);

    private static ValidationReport Validate(ExpectationSuite suite, Dictionary<string, string?[]> data) =>
        SuiteValidator.Validate(suite, Set(data), cancellationToken: TestContext.Current.CancellationToken);

    [Fact]
    public void The_suggested_suite_holds_the_expected_kinds_per_column()
    {
        var suite = Suggested();
        string[] KindsOf(string column) => suite.Expectations.Where(e => e.Column == column).Select(e => e.Kind).ToArray();
        Assert.Equal(["column_exists", "not_null", "column_type", "unique"], KindsOf("customer_id"));
        Assert.Equal(["column_exists", "not_null", "column_type", "between", "mean_between", "std_between", "quantile_between"], KindsOf("age"));
        Assert.Equal(["column_exists", "not_null", "column_type", "between", "in_set", "mean_between", "std_between", "quantile_between"], KindsOf("rating"));
        Assert.Equal(["column_exists", "not_null", "column_type", "in_set"], KindsOf("plan"));
        var city = suite.Expectations.OfType<NotNullExpectation>().Single(e => e.Column == "city");
        Assert.InRange(city.MaxNullShare, 0.05, 0.15);
        Assert.Equal(ColumnType.Boolean, suite.Expectations.OfType<ColumnTypeExpectation>().Single(e => e.Column == "active").Type);
        Assert.Equal(["basic", "pro", "team"], suite.Expectations.OfType<InSetExpectation>().Single(e => e.Column == "plan").Values);
    }

    [Fact]
    public void An_independent_sample_of_the_same_distribution_passes()
    {
        var suite = Suggested();
        foreach (var seed in new[] { 2, 3, 4 })
        {
            var report = Validate(suite, Sample(seed, firstId: 100_000 * seed));
            Assert.True(report.Success, string.Join("; ", report.Results.Where(r => !r.Success).Select(r => $"seed {seed}: {r.Expectation.Kind} {r.Expectation.Column} observed {r.ObservedValue}{r.Observed}")));
        }
    }

    public static TheoryData<string, string, string> Breakages() => new()
    {
        { "missing ages", "age", "not_null" },
        { "amount in cents", "amount", "between" },
        { "amount spread out", "amount", "std_between" },
        { "ages shifted by a decade", "age", "mean_between" },
        { "an unseen plan", "plan", "in_set" },
        { "a repeated id", "customer_id", "unique" },
        { "text among the ages", "age", "column_type" },
        { "many cities missing", "city", "not_null" },
        { "ratings out of scale", "rating", "in_set" },
        { "a column dropped", "active", "column_exists" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void A_broken_copy_fails_by_the_expectation_its_breakage_trips(string breakage, string column, string kind)
    {
        var data = Sample(seed: 2, firstId: 5000);
        var random = new Random(9);
        string? Number(string? text, Func<double, double> change) =>
            text is null ? null : change(double.Parse(text, CultureInfo.InvariantCulture)).ToString("0.##", CultureInfo.InvariantCulture);
        var values = data.GetValueOrDefault(column);
        switch (breakage)
        {
            case "missing ages": for (var r = 0; r < Rows; r += 3) values![r] = null; break;
            case "amount in cents": for (var r = 0; r < Rows; r++) values![r] = Number(values[r], v => v * 100); break;
            case "amount spread out": for (var r = 0; r < Rows; r++) values![r] = Number(values[r], v => 100 + (v - 100) * 1.5); break;
            case "ages shifted by a decade": for (var r = 0; r < Rows; r++) values![r] = Number(values[r], v => v + 10); break;
            case "an unseen plan": for (var r = 0; r < Rows; r += 50) values![r] = "enterprise"; break;
            case "a repeated id": values![7] = values[3]; break;
            case "text among the ages": values![11] = "unknown"; break;
            case "many cities missing": for (var r = 0; r < Rows; r++) if (random.NextDouble() < 0.3) values![r] = null; break;
            case "ratings out of scale": for (var r = 0; r < Rows; r += 4) values![r] = "7"; break;
            case "a column dropped": data.Remove(column); break;
        }
        var report = Validate(Suggested(), data);
        Assert.False(report.Success, breakage);
        Assert.Contains(report.Results, r => !r.Success && r.Expectation.Kind == kind && r.Expectation.Column == column);
    }
}

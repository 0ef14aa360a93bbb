using Cairn.Monitoring;

namespace Cairn.Tests.Monitoring;

public sealed class SortedSampleTests
{
    public static TheoryData<string> Kinds => ["five decimals", "integers", "mixed decimals", "one long decimal", "wide span", "negative zero", "infinity", "raw doubles"];

    /// <summary>Columns of each kind the sort treats differently (decimal keys, or the 64-bit radix when a value is not such a decimal).</summary>
    private static double[] Column(string kind, int seed)
    {
        var random = new Random(seed);
        var values = new double[20_000];
        for (var i = 0; i < values.Length; i++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = kind switch
            {
                "five decimals" or "one long decimal" or "negative zero" or "infinity" => Math.Round(normal * 3, 5),
                "integers" => Math.Round(normal * 1000),
                "mixed decimals" => Math.Round(normal, random.Next(4)),
                "wide span" => Math.Round(normal * 1e6, 4),
                _ => normal,
            };
            values[i] += 0.0; // rounding makes -0 of small negatives; a -0 sends the column to the 64-bit sort, tested on its own
            if (i % 97 == 0) values[i] = double.NaN;
        }
        if (kind == "one long decimal") values[12_345] = 0.1234567891234;
        if (kind == "negative zero") values[777] = -0.0;
        if (kind == "infinity") values[4242] = double.NegativeInfinity;
        return values;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Sorting_gives_the_present_values_in_order_bit_for_bit(string kind)
    {
        var column = Column(kind, 11);
        var expected = column.Where(v => !double.IsNaN(v)).ToArray();
        Array.Sort(expected, (x, y) => x == y ? (BitConverter.DoubleToInt64Bits(y) < 0).CompareTo(BitConverter.DoubleToInt64Bits(x) < 0) : x.CompareTo(y));

        var sample = SortedSample.From(column);

        Assert.Equal(column.Length - expected.Length, sample.Missing);
        Assert.Equal(expected.Select(BitConverter.DoubleToInt64Bits), sample.Values.Select(BitConverter.DoubleToInt64Bits));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_one_merge_gives_the_same_bits_as_the_statistics_on_their_own(string kind)
    {
        var a = SortedSample.From(Column(kind, 1)).Values;
        var b = SortedSample.From(Column(kind, 2).Take(7_001).Select(v => v + 0.25).ToArray()).Values;

        var (d, wasserstein) = DriftStatistics.KsAndWasserstein(a, b);

        Assert.Equal(BitConverter.DoubleToInt64Bits(KolmogorovSmirnov.Test(a, b).Statistic), BitConverter.DoubleToInt64Bits(d));
        Assert.Equal(BitConverter.DoubleToInt64Bits(DriftStatistics.Wasserstein(a, b)), BitConverter.DoubleToInt64Bits(wasserstein));
        Assert.True(d > 0.01, $"D = {d}");
    }
}

using System.Globalization;
using System.Text;
using Cairn.ML.Training;

namespace Cairn.Tests.Training;

public sealed class DataProfileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Selected_ranks_hold_what_a_sort_puts_there()
    {
        var random = new Random(11);
        for (var round = 0; round < 200; round++)
        {
            var n = random.Next(1, 3000);
            // Coarse values in some rounds, so many ties; wide ones in others.
            var values = Enumerable.Range(0, n).Select(_ => round % 2 == 0 ? random.Next(10) : random.NextDouble() * 1e6 - 5e5).ToArray();
            var sorted = values.Order().ToArray();
            var ranks = Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(n)).Distinct().Order().ToArray();

            DataProfile.SelectRanks(values, 0, n - 1, ranks, 0, ranks.Length);

            foreach (var rank in ranks) Assert.Equal(sorted[rank], values[rank]);
            Assert.Equal(sorted, values.Order()); // a permutation of the input
        }
    }

    [Fact]
    public void Numeric_profile_matches_statistics_from_the_sorted_column()
    {
        var random = new Random(12);
        var csv = new StringBuilder("a,b,y\n");
        var a = new List<double>();
        for (var i = 0; i < 5001; i++)
        {
            var value = Math.Round(random.NextDouble() * 100, 1); // ties
            var missing = i % 50 == 0;
            if (!missing) a.Add(value);
            csv.Append(CultureInfo.InvariantCulture, $"{(missing ? "" : value.ToString(CultureInfo.InvariantCulture))},{random.NextDouble()},{(i % 2 == 0 ? "yes" : "no")}\n");
        }
        File.WriteAllText(_dir.Combine("d.csv"), csv.ToString());
        File.WriteAllText(_dir.Combine("r.yaml"), "task: binary\ndata: d.csv\nlabel: y\n");
        var data = TrainingData.Load(Recipe.Load(_dir.Combine("r.yaml")));

        var profile = DataProfile.Build(data)["features"]!["a"]!;

        var sorted = a.Order().ToArray();
        double Numpy(double q)
        {
            var position = q * (sorted.Length - 1);
            var low = (int)Math.Floor(position);
            var high = Math.Min(low + 1, sorted.Length - 1);
            return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
        }
        Assert.Equal(sorted.Length, profile["count"]!.GetValue<int>());
        Assert.Equal(5001 - sorted.Length, profile["nulls"]!.GetValue<int>());
        Assert.Equal(sorted[0], profile["min"]!.GetValue<double>());
        Assert.Equal(sorted[^1], profile["max"]!.GetValue<double>());
        Assert.Equal(sorted.Average(), profile["mean"]!.GetValue<double>(), 9);
        foreach (var (name, q) in new[] { ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95) })
            Assert.Equal(Numpy(q), profile["quantiles"]![name]!.GetValue<double>(), 12);
    }

    [Fact]
    public void The_profile_file_keeps_every_field_it_had_and_adds_the_shared_profiles()
    {
        var csv = new StringBuilder("x,c,y\n");
        for (var i = 0; i < 200; i++) csv.Append(CultureInfo.InvariantCulture, $"{(i % 10 == 0 ? "" : (i % 37).ToString(CultureInfo.InvariantCulture))},{(i % 3 == 0 ? "red" : "blue")},{(i % 2 == 0 ? "yes" : "no")}\n");
        File.WriteAllText(_dir.Combine("d.csv"), csv.ToString());
        File.WriteAllText(_dir.Combine("r.yaml"), "task: binary\ndata: d.csv\nlabel: y\n");
        var data = TrainingData.Load(Recipe.Load(_dir.Combine("r.yaml")));

        var profile = DataProfile.Build(data);

        Assert.Equal(["rows", "source", "sha256", "features"], profile.Select(p => p.Key));
        var x = profile["features"]!["x"]!.AsObject();
        foreach (var key in new[] { "type", "count", "nulls", "min", "max", "mean", "std", "quantiles", "missing", "distinct", "histogram" })
            Assert.True(x.ContainsKey(key), key);
        Assert.Equal("numeric", x["type"]!.GetValue<string>());
        Assert.Equal(20, x["nulls"]!.GetValue<int>());
        Assert.Equal(37, x["distinct"]!.GetValue<int>());
        Assert.Equal(180, x["histogram"]!["counts"]!.AsArray().Sum(c => c!.GetValue<int>()));
        var c = profile["features"]!["c"]!.AsObject();
        foreach (var key in new[] { "type", "count", "nulls", "distinct", "top", "missing" })
            Assert.True(c.ContainsKey(key), key);
        Assert.Equal("categorical", c["type"]!.GetValue<string>());
        Assert.Equal("blue", c["top"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(133, c["top"]![0]!["count"]!.GetValue<int>());
        Assert.Equal(133 / 200.0, c["top"]![0]!["frequency"]!.GetValue<double>());
    }
}

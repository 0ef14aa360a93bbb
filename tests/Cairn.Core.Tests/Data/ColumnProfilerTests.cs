using System.Globalization;
using Cairn.Data;
using Xunit;

namespace Cairn.Tests.Data;

public sealed class ColumnProfilerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static double Numpy(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }

    [Fact]
    public void A_streamed_column_and_the_same_column_in_memory_give_the_same_profile()
    {
        var random = new Random(3);
        var values = Enumerable.Range(0, 5000).Select(i => i % 40 == 0 ? double.NaN : Math.Round(random.NextDouble() * 50 - 10, 2)).ToArray();
        var streamed = new ColumnProfiler();
        foreach (var v in values) streamed.Add(double.IsNaN(v) ? "" : v.ToString(CultureInfo.InvariantCulture));

        var a = streamed.ToProfile("x");
        var b = ColumnProfiler.OfNumbers("x", "numeric", values);

        var present = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        foreach (var p in new[] { a, b })
        {
            Assert.Equal(present.Length, p.Count);
            Assert.Equal(values.Length - present.Length, p.Missing);
            Assert.Equal(present.Distinct().Count(), p.Distinct);
            Assert.Equal(present[0], p.Min);
            Assert.Equal(present[^1], p.Max);
            Assert.Equal(present.Average(), p.Mean!.Value, 9);
            var mean = present.Average();
            Assert.Equal(Math.Sqrt(present.Sum(v => (v - mean) * (v - mean)) / present.Length), p.Std!.Value, 9);
            foreach (var (name, level) in ColumnProfiler.Levels) Assert.Equal(Numpy(present, level), p.Quantiles![name], 12);
            Assert.Equal(present.Length, p.Histogram!.Counts.Sum());
            Assert.Equal(ColumnProfiler.Bins + 1, p.Histogram.Edges.Count);
            Assert.Equal(present[0], p.Histogram.Edges[0]);
            Assert.Equal(present[^1], p.Histogram.Edges[^1]);
            Assert.Equal("numeric", p.Kind);
        }
        Assert.Equal("double", a.Type);
        Assert.False(a.Sampled);
    }

    [Fact]
    public void Histogram_bins_hold_the_values_between_their_edges()
    {
        var values = Enumerable.Range(0, 1000).Select(i => (double)(i % 100)).ToArray();

        var profile = ColumnProfiler.OfNumbers("x", "numeric", values);

        var h = profile.Histogram!;
        for (var i = 0; i < h.Counts.Count; i++)
        {
            var last = i == h.Counts.Count - 1;
            var expected = values.Count(v => v >= h.Edges[i] && (last ? v <= h.Edges[i + 1] : v < h.Edges[i + 1]));
            Assert.Equal(expected, h.Counts[i]);
        }
    }

    [Fact]
    public void Categories_are_counted_most_frequent_first_and_distinct_is_capped()
    {
        var strings = ColumnProfiler.OfStrings("c", "categorical", ["b", "a", null, "b", "c", "a", "b"], topCategories: 2);
        Assert.Equal(6, strings.Count);
        Assert.Equal(1, strings.Missing);
        Assert.Equal(3, strings.Distinct);
        Assert.Equal([("b", 3L), ("a", 2L)], strings.Top!.Select(t => (t.Value, t.Count)));
        Assert.Equal(0.5, strings.Top![0].Frequency);

        var streamed = new ColumnProfiler();
        for (var i = 0; i < ColumnProfiler.MaxTracked + 500; i++) streamed.Add("id" + i);
        var ids = streamed.ToProfile("id");
        Assert.Equal(ColumnProfiler.MaxTracked, ids.Distinct);
        Assert.True(ids.DistinctCapped);
        Assert.Equal("string", ids.Type);
    }

    [Fact]
    public void A_long_streamed_column_takes_its_quantiles_from_a_bounded_sample()
    {
        var streamed = new ColumnProfiler();
        var n = ColumnProfiler.SampleSize * 3;
        for (var i = 0; i < n; i++) streamed.Add(((i * 7919L) % n).ToString(CultureInfo.InvariantCulture)); // a permutation of 0..n-1

        var profile = streamed.ToProfile("x");

        Assert.True(profile.Sampled);
        Assert.Equal("long", profile.Type);
        Assert.Equal(n, profile.Count);
        Assert.Equal(n - 1, profile.Max);
        Assert.Equal((n - 1) / 2.0, profile.Mean!.Value, 6);
        // A uniform sample of 100,000 puts the median within a percent of the true one.
        Assert.InRange(profile.Quantiles!["p50"], n * 0.49, n * 0.51);
        Assert.InRange(profile.Histogram!.Counts.Sum(), n * 0.99, n * 1.01);
    }

    [Fact]
    public async Task A_dataset_profile_reads_quoted_fields_and_writes_the_new_fields()
    {
        var path = _dir.Combine("d.csv");
        File.WriteAllText(path, "name,score\n\"Smith, J\",1.5\n\"Doe, A\",2.5\n,3\n");

        var (rows, columns) = await DatasetProfiler.ProfileCsvAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(3, rows);
        Assert.Equal(["name", "score"], columns.Select(c => c.Name));
        Assert.Equal(1, columns[0].Missing);
        Assert.Equal(["Doe, A", "Smith, J"], columns[0].Top!.Select(t => t.Value));
        Assert.Equal(2.5, columns[1].Quantiles!["p50"]);
        var json = System.Text.Json.JsonSerializer.Serialize(columns[1], DatasetRecord.Json);
        foreach (var field in new[] { "\"name\"", "\"type\"", "\"count\"", "\"missing\"", "\"distinct\"", "\"min\"", "\"max\"", "\"mean\"", "\"std\"", "\"quantiles\"", "\"histogram\"", "\"kind\"" })
            Assert.Contains(field, json);
    }
}

using Cairn.ML.Training;

namespace Cairn.Tests.Training;

public sealed class ReferenceSampleTests
{
    [Fact]
    public void Small_data_keeps_every_row_in_order()
    {
        Assert.Equal(Enumerable.Range(0, 250), ReferenceSample.Rows(250, seed: 1, maxRows: 250));
        Assert.Equal(ReferenceSample.MaxRows, ReferenceSample.Rows(ReferenceSample.MaxRows, seed: 1).Length);
    }

    [Fact]
    public void Larger_data_gives_distinct_sorted_rows_the_same_for_the_same_seed()
    {
        var rows = ReferenceSample.Rows(1_000, seed: 7, maxRows: 100);

        Assert.Equal(100, rows.Length);
        Assert.Equal(rows.Order(), rows);
        Assert.Equal(100, rows.Distinct().Count());
        Assert.All(rows, r => Assert.InRange(r, 0, 999));
        Assert.Equal(rows, ReferenceSample.Rows(1_000, seed: 7, maxRows: 100));
        Assert.NotEqual(rows, ReferenceSample.Rows(1_000, seed: 8, maxRows: 100));
    }

    [Fact]
    public void Every_row_is_as_likely_to_be_kept()
    {
        // 2,000 seeds keep 10 of 50 rows each: every row is kept 400 times in expectation (binomial, sd ~17.9); a row kept
        // fewer than 300 or more than 500 times (5.6 sd) would mean the draw favours some rows.
        var kept = new int[50];
        for (var seed = 0; seed < 2_000; seed++)
            foreach (var row in ReferenceSample.Rows(50, seed, maxRows: 10)) kept[row]++;

        Assert.All(kept, count => Assert.InRange(count, 300, 500));
        Assert.Equal(20_000, kept.Sum());
    }

    [Fact]
    public void Sketches_of_the_numeric_features_read_back_by_name_with_the_stated_bound()
    {
        using var dir = new TempDirectory();
        var csv = new System.Text.StringBuilder("x,colour,y\n");
        var random = new Random(1);
        for (var i = 0; i < 20_000; i++)
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(i % 50 == 0 ? "" : random.NextDouble().ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))},{(i % 3 == 0 ? "red" : "blue")},{i % 2}\n");
        var path = dir.Combine("train.csv");
        File.WriteAllText(path, csv.ToString());
        var recipe = Recipe.Parse("task: binary\ndata: train.csv\nlabel: y\nreference_sketch: true\n", "recipe.yaml", dir.Path);
        var data = TrainingData.Load(recipe);
        var sketchPath = dir.Combine(ReferenceSample.SketchFileName);

        ReferenceSample.WriteSketches(sketchPath, data, k: 256);
        var sketches = ReferenceSample.ReadSketches(sketchPath);

        Assert.True(recipe.ReferenceSketch);
        Assert.Equal(["x"], sketches.Keys); // numeric features only
        var x = (double[])data.Batch["x"];
        var present = x.Where(v => !double.IsNaN(v)).Order().ToArray();
        Assert.Equal(present.Length, sketches["x"].Count);
        var median = sketches["x"].Quantile(0.5);
        var below = present.Count(v => v < median);
        Assert.InRange(below, present.Length / 2 - sketches["x"].RankError * present.Length - 1, present.Length / 2 + sketches["x"].RankError * present.Length);
        File.WriteAllText(sketchPath, "{\"features\": {\"x\": {\"k\": 3}}}");
        Assert.StartsWith(sketchPath + ": feature 'x': not a quantile sketch", Assert.Throws<InvalidParameterValueException>(() => ReferenceSample.ReadSketches(sketchPath)).Message);
        var bad = Assert.Throws<InvalidParameterValueException>(() => Recipe.Parse("task: binary\ndata: train.csv\nlabel: y\nreference_sketch: maybe\n", "recipe.yaml", dir.Path));
        Assert.Contains("reference_sketch", bad.Message);
    }
}

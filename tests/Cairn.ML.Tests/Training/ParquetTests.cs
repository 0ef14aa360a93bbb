using System.Globalization;
using System.Text;
using Cairn.Client;
using Cairn.ML.Evaluation;
using Cairn.ML.Training;
using Parquet;
using Parquet.Schema;

namespace Cairn.Tests.Training;

/// <summary>Parquet input: the same data as Parquet and as CSV must train to the same model.</summary>
public sealed class ParquetTests : StoreTests
{
    private sealed record Rows(double?[] X1, int[] X2, string?[] Color, bool[] Churned);

    private static Rows Generate(int count, int seed)
    {
        var random = new Random(seed);
        string[] colors = ["red", "green", "blue"];
        var rows = new Rows(new double?[count], new int[count], new string?[count], new bool[count]);
        for (var i = 0; i < count; i++)
        {
            var x1 = Math.Round(random.NextDouble() * 4 - 2, 4);
            var x2 = random.Next(-5, 6);
            var color = random.NextDouble() < 0.03 ? null : colors[random.Next(3)];
            rows.X1[i] = random.NextDouble() < 0.02 ? null : x1;
            rows.X2[i] = x2;
            rows.Color[i] = color;
            rows.Churned[i] = 1.5 * x1 - 0.4 * x2 + (color == "red" ? 1 : 0) + random.NextDouble() - 0.5 > 0;
        }
        return rows;
    }

    /// <summary>Writes the rows in two row groups: x1 nullable double, x2 int, color nullable string, churned bool.</summary>
    private static async Task WriteParquetAsync(string path, Rows rows)
    {
        var x1 = new DataField<double?>("x1");
        var x2 = new DataField<int>("x2");
        var color = new DataField<string>("color");
        var churned = new DataField<bool>("churned");
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(x1, x2, color, churned), stream, cancellationToken: Ct);
        var half = rows.X1.Length / 2;
        foreach (var (start, length) in new[] { (0, half), (half, rows.X1.Length - half) })
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync<double>(x1, (ReadOnlyMemory<double?>)rows.X1.AsMemory(start, length), cancellationToken: Ct);
            await group.WriteAsync<int>(x2, (ReadOnlyMemory<int>)rows.X2.AsMemory(start, length), cancellationToken: Ct);
            await group.WriteAsync(color, rows.Color.Skip(start).Take(length).ToArray());
            await group.WriteAsync<bool>(churned, (ReadOnlyMemory<bool>)rows.Churned.AsMemory(start, length), cancellationToken: Ct);
        }
    }

    private static void WriteCsv(string path, Rows rows)
    {
        var csv = new StringBuilder("x1,x2,color,churned\n");
        for (var i = 0; i < rows.X1.Length; i++)
            csv.Append(CultureInfo.InvariantCulture, $"{rows.X1[i]?.ToString("R", CultureInfo.InvariantCulture)},{rows.X2[i]},{rows.Color[i]},{(rows.Churned[i] ? "true" : "false")}\n");
        File.WriteAllText(path, csv.ToString());
    }

    private Recipe RecipeFor(string data) => Recipe.Parse($"""
        task: binary
        data: {data}
        label: churned
        trainer: {"{"}name: fasttree, hyperparameters: {"{"}number_of_trees: 20{"}"}{"}"}
        """, "recipe.yaml", Dir.Path);

    [Fact]
    public async Task Parquet_numbers_are_read_as_numbers_and_give_their_text_only_when_asked()
    {
        var rows = Generate(300, seed: 9);
        await WriteParquetAsync(Dir.Combine("typed.parquet"), rows);

        var table = ParquetTable.Read(Dir.Combine("typed.parquet"));

        Assert.True(table.TryNumbers("x1", out var x1, out _));
        Assert.Equal(rows.X1.Select(v => v ?? double.NaN), x1);
        Assert.True(table.TryNumbers("x2", out var x2, out _));
        Assert.Equal(rows.X2.Select(v => (double)v), x2);
        Assert.Equal(rows.X2.Select(v => (string?)v.ToString(CultureInfo.InvariantCulture)), table["x2"]);
        Assert.Equal(rows.Churned.Select(v => (string?)(v ? "true" : "false")), table["churned"]);
        Assert.Null(table.Sha256); // a Parquet file is hashed by a read of its own
    }

    [Fact]
    public async Task A_parquet_file_trains_exactly_like_the_same_data_in_csv()
    {
        var rows = Generate(1200, seed: 4);
        await WriteParquetAsync(Dir.Combine("churn.parquet"), rows);
        WriteCsv(Dir.Combine("churn.csv"), rows);

        var table = ParquetTable.Read(Dir.Combine("churn.parquet"));
        Assert.Equal(["x1", "x2", "color", "churned"], table.Names);
        Assert.Equal(1200, table.RowCount);
        Assert.Equal(rows.X1.Count(v => v is null), table["x1"].Count(v => v is null));
        Assert.Equal(rows.Color.Count(v => v is null), table["color"].Count(v => v is null));

        var fromParquet = await Trainer.RunAsync(RecipeFor("churn.parquet"), Client, cancellationToken: Ct);
        var fromCsv = await Trainer.RunAsync(RecipeFor("churn.csv"), Client, cancellationToken: Ct);

        Assert.True(fromParquet.Metrics["auc"] > 0.85, $"auc {fromParquet.Metrics["auc"]}");
        Assert.Equal(fromCsv.Metrics.OrderBy(m => m.Key), fromParquet.Metrics.OrderBy(m => m.Key));
        var run = await Client.Store.GetRunAsync(fromParquet.RunId, Ct);
        Assert.Contains(run.Data.Params, p => p is { Key: "features", Value: "x1:numeric,x2:numeric,color:categorical" });
        Assert.Equal(TrainingData.HashFile(Dir.Combine("churn.parquet"))[..32], Assert.Single(run.Inputs).Dataset.Digest);
    }

    [Fact]
    public async Task Evaluate_scores_a_parquet_file()
    {
        await WriteParquetAsync(Dir.Combine("train.parquet"), Generate(1000, seed: 5));
        await WriteParquetAsync(Dir.Combine("test.parquet"), Generate(400, seed: 6));
        var trained = await Trainer.RunAsync(RecipeFor("train.parquet"), Client, cancellationToken: Ct);

        var evaluation = await Evaluator.RunAsync(trained.ModelUri, Dir.Combine("test.parquet"), Client,
            new EvaluationOptions { Requirements = ["auc >= 0.8"] }, Ct);

        Assert.True(evaluation.Passed, string.Join("; ", evaluation.Requirements.Select(r => r.ToString())));
        var run = await Client.Store.GetRunAsync(evaluation.RunId, Ct);
        Assert.Equal(TrainingData.HashFile(Dir.Combine("test.parquet"))[..32], Assert.Single(run.Inputs).Dataset.Digest);
    }

    [Fact]
    public async Task A_file_that_is_not_parquet_is_refused_naming_the_file()
    {
        File.WriteAllText(Dir.Combine("broken.parquet"), "x1,x2\n1,2\n");

        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Trainer.RunAsync(RecipeFor("broken.parquet"), Client, cancellationToken: Ct));

        Assert.Contains("broken.parquet: not a readable Parquet file", error.Message);
        Assert.DoesNotContain((await Client.Store.SearchExperimentsAsync(new Cairn.Tracking.ExperimentSearch(), Ct)).Items, e => e.Name != "Default");
    }

    [Fact]
    public async Task A_parquet_file_without_rows_is_refused()
    {
        var x1 = new DataField<double>("x1");
        await using (var stream = File.Create(Dir.Combine("empty.parquet")))
        await using (await ParquetWriter.CreateAsync(new ParquetSchema(x1), stream, cancellationToken: Ct))
        {
        }

        var error = Assert.Throws<InvalidParameterValueException>(() => ParquetTable.Read(Dir.Combine("empty.parquet")));

        Assert.Contains("empty.parquet: the file has columns but no rows", error.Message);
    }

    [Fact]
    public async Task A_date_column_is_refused_naming_it()
    {
        var when = new DataField<DateTime>("signed_up");
        await using (var stream = File.Create(Dir.Combine("dates.parquet")))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(when), stream, cancellationToken: Ct))
        using (var group = writer.CreateRowGroup())
            await group.WriteAsync<DateTime>(when, (ReadOnlyMemory<DateTime>)new[] { DateTime.UtcNow }.AsMemory(), cancellationToken: Ct);

        var error = Assert.Throws<InvalidParameterValueException>(() => ParquetTable.Read(Dir.Combine("dates.parquet")));

        Assert.Contains("column 'signed_up' has type DateTime", error.Message);
    }
}

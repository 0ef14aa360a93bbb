using System.Globalization;
using System.Text;
using Cairn.Client;
using Cairn.ML.Evaluation;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tests.Training;
using Parquet;
using Parquet.Schema;

namespace Cairn.Tests.Evaluation;

/// <summary><c>cairn predict</c> end to end: a model trained and registered by <c>cairn train</c>, files scored in batches.</summary>
public sealed class PredictCommandTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Store => _dir.Combine("store");

    public async ValueTask InitializeAsync()
    {
        SyntheticData.Binary(_dir.Combine("train.csv"), rows: 1500, seed: 11);
        File.WriteAllText(_dir.Combine("recipe.yaml"), """
            experiment: predict
            task: binary
            data: train.csv
            label: y
            trainer: {name: fasttree, hyperparameters: {number_of_trees: 20}}
            """);
        var train = await CairnAsync("train", "--recipe", _dir.Combine("recipe.yaml"), "--register", "churn", "--tracking-uri", Store);
        Assert.True(train.Code == 0, train.Err);
        using var client = CairnClient.Open(Store);
        await client.Registry.SetRegisteredModelAliasAsync("churn", "champion", "1", cancellationToken: Ct);
    }

    public ValueTask DisposeAsync()
    {
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<(int Code, string Out, string Err)> CairnAsync(params string[] args)
    {
        using var cli = new CliHarness();
        cli.SetEnvironment("CAIRN_HOME", _dir.Combine("home"));
        var result = await cli.RunAsync(args);
        return (result.ExitCode, result.Out, result.Err);
    }

    /// <summary>The model's predictions on the whole file at once, the reference the batches must equal.</summary>
    private async Task<ColumnBatch> ReferenceAsync(string csv)
    {
        using var client = CairnClient.Open(Store);
        var location = await client.LocateModelAsync("models:/churn@champion", _dir.Combine("reference-model"), "--model", Ct);
        using var package = ModelPackage.Load(location.Folder);
        var table = CsvTable.Read(csv);
        return package.Predictor.Predict(Evaluator.InputBatch(table, package.Predictor, "y"));
    }

    /// <summary>Every prediction column of <paramref name="written"/> holds exactly the reference's values (as a CSV or Parquet reader sees them).</summary>
    private static void AssertSamePredictions(ColumnBatch reference, CsvTable written)
    {
        Assert.Equal(reference.RowCount, written.RowCount);
        foreach (var (name, values) in reference)
        {
            switch (values)
            {
                case float[] f:
                    // CSV holds a float as its shortest round-trip text, Parquet as the float itself: both come back to the same float.
                    Assert.True(written.TryNumbers(name, out var numbers, out _), name);
                    for (var r = 0; r < f.Length; r++)
                        if ((float)numbers[r] != f[r]) Assert.Fail($"{name} row {r}: {numbers[r]} written, {f[r]} predicted on the whole file");
                    break;
                case bool[] b:
                    var text = written[name];
                    for (var r = 0; r < b.Length; r++)
                        if (text[r] != (b[r] ? "true" : "false")) Assert.Fail($"{name} row {r}: '{text[r]}' written, {b[r]} predicted");
                    break;
                case string?[] s:
                    Assert.Equal(s, written[name]);
                    break;
                default:
                    Assert.Fail($"unexpected output column {name} of {values.GetType().Name}");
                    break;
            }
        }
    }

    [Fact]
    public async Task A_big_CSV_is_scored_in_batches_into_Parquet_equal_to_scoring_it_whole()
    {
        var input = SyntheticData.Binary(_dir.Combine("big.csv"), rows: 300_000, seed: 5);
        var output = _dir.Combine("predictions.parquet");

        var run = await CairnAsync("predict", "--model", "models:/churn@champion", "--input", input, "--output", output, "--batch-size", "7000",
            "--tracking-uri", Store);

        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("Scored 300,000 rows in 43 batches", run.Out);
        var written = await ParquetTable.ReadAsync(output, Ct);
        Assert.Equal(300_000, written.RowCount);
        Assert.Equal(["x1", "x2", "color", "y"], written.Names.Take(4));
        AssertSamePredictions(await ReferenceAsync(input), written);
        // The input's columns come through: the model's numbers as numbers, the rest as the file's text.
        var source = CsvTable.Read(input);
        Assert.Equal(source["color"], written["color"]);
        Assert.Equal(source["y"], written["y"]);
        Assert.True(written.TryNumbers("x2", out var x2, out _));
        Assert.True(source.TryNumbers("x2", out var x2Source, out _));
        Assert.Equal(x2Source, x2);
        await using (var stream = File.OpenRead(output))
        await using (var reader = await ParquetReader.CreateAsync(stream, cancellationToken: Ct))
            Assert.Equal(43, reader.RowGroupCount); // a row group per batch
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.partial-*"));
    }

    [Fact]
    public async Task Parquet_input_is_scored_into_CSV()
    {
        var csv = SyntheticData.Binary(_dir.Combine("small.csv"), rows: 2500, seed: 6, missing: false);
        var source = CsvTable.Read(csv);
        var parquet = _dir.Combine("small.parquet");
        source.TryNumbers("x1", out var x1, out _);
        source.TryNumbers("x2", out var x2, out _);
        var fields = new DataField[] { new DataField<double>("x1"), new DataField<double>("x2"), new DataField<string>("color"), new DataField<string>("y") };
        await using (var stream = File.Create(parquet))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, cancellationToken: Ct))
        {
            foreach (var (start, length) in new[] { (0, 1000), (1000, 1500) })
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync<double>(fields[0], (ReadOnlyMemory<double>)x1.AsMemory(start, length), cancellationToken: Ct);
                await group.WriteAsync<double>(fields[1], (ReadOnlyMemory<double>)x2.AsMemory(start, length), cancellationToken: Ct);
                await group.WriteAsync(fields[2], source["color"].Skip(start).Take(length).ToArray()!);
                await group.WriteAsync(fields[3], source["y"].Skip(start).Take(length).ToArray()!);
            }
        }
        var output = _dir.Combine("out.csv");

        var run = await CairnAsync("predict", "--model", "models:/churn/1", "--input", parquet, "--output", output, "--batch-size", "600", "--tracking-uri", Store);

        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("Scored 2,500 rows in 5 batches", run.Out); // 1000 = 600 + 400, 1500 = 600 + 600 + 300
        var written = CsvTable.Read(output);
        AssertSamePredictions(await ReferenceAsync(csv), written);
        Assert.Equal(source["color"], written["color"]);
    }

    [Fact]
    public async Task Bad_input_gets_one_line_and_the_exit_code_of_its_kind()
    {
        var data = SyntheticData.Binary(_dir.Combine("data.csv"), rows: 50, seed: 7);
        var args = new[] { "--model", "models:/churn@champion", "--tracking-uri", Store };

        var missing = await CairnAsync(["predict", .. args, "--input", _dir.Combine("nope.csv"), "--output", _dir.Combine("o.csv")]);
        Assert.Equal(3, missing.Code);
        Assert.Contains("nope.csv' does not exist", missing.Err);

        var extension = await CairnAsync(["predict", .. args, "--input", _dir.Combine("data.json"), "--output", _dir.Combine("o.csv")]);
        Assert.Equal(2, extension.Code);
        Assert.Contains("for '--input': the file must end in .csv or .parquet", extension.Err);

        var outExtension = await CairnAsync(["predict", .. args, "--input", data, "--output", _dir.Combine("o.xlsx")]);
        Assert.Equal(2, outExtension.Code);
        Assert.Contains("for '--output'", outExtension.Err);

        File.WriteAllText(_dir.Combine("no-x2.csv"), "x1,color\n1.5,red\n");
        var column = await CairnAsync(["predict", .. args, "--input", _dir.Combine("no-x2.csv"), "--output", _dir.Combine("o.csv")]);
        Assert.Equal(2, column.Code);
        Assert.Contains("input column 'x2' is not in the file", column.Err);

        // A bad value in a later batch is reported by its row in the file, and no output is left behind.
        var text = new StringBuilder("x1,x2,color\n");
        for (var i = 0; i < 30; i++) text.Append(CultureInfo.InvariantCulture, $"{i * 0.1},{(i == 25 ? "oops" : "1")},red\n");
        File.WriteAllText(_dir.Combine("bad.csv"), text.ToString());
        var bad = await CairnAsync(["predict", .. args, "--input", _dir.Combine("bad.csv"), "--output", _dir.Combine("bad-out.csv"), "--batch-size", "10"]);
        Assert.Equal(2, bad.Code);
        Assert.Contains("column 'x2' must be numeric for this model, but row 26 holds 'oops'", bad.Err);
        Assert.False(File.Exists(_dir.Combine("bad-out.csv")));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.partial-*"));

        var size = await CairnAsync(["predict", .. args, "--input", data, "--output", _dir.Combine("o.csv"), "--batch-size", "0"]);
        Assert.Equal(2, size.Code);
        Assert.Contains("'--batch-size'", size.Err);
        Assert.Single(size.Err.Trim().Split('\n'));

        var unknownModel = await CairnAsync(["predict", "--model", "models:/ghost@champion", "--tracking-uri", Store, "--input", data, "--output", _dir.Combine("o.csv")]);
        Assert.Equal(3, unknownModel.Code);
    }
}

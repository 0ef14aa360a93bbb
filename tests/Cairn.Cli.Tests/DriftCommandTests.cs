using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cairn.Cli;
using Parquet;
using Parquet.Schema;

namespace Cairn.Tests;

/// <summary>
/// <c>cairn drift REF CUR</c> through the real command line: the typing rule, missing cells, the JSON object, the table, the
/// HTML report, CSV against Parquet, exit 0 with drift and 6 with <c>--fail-on-drift</c>, and every kind of bad input.
/// </summary>
public sealed class DriftCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private string Write(string name, string text)
    {
        var path = _cli.Home.Combine(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// x: 0..99 against 50..149 (KS D = 0.5); y: the same values on both sides; code: numbers in the reference but "n/a" in
    /// the current file, so categorical; colour: categories with an unseen one; every fifth current x missing.
    /// </summary>
    private (string Reference, string Current) Files()
    {
        var reference = new StringBuilder("x,y,code,colour,only_ref\n");
        var current = new StringBuilder("x,y,code,colour,only_cur\n");
        for (var i = 0; i < 100; i++)
        {
            reference.Append(CultureInfo.InvariantCulture, $"{i},{i % 10},{i % 3},{(i % 2 == 0 ? "red" : "blue")},1\n");
            var x = i % 5 == 0 ? "" : (i + 50).ToString(CultureInfo.InvariantCulture);
            current.Append(CultureInfo.InvariantCulture, $"{x},{i % 10},{(i == 7 ? "n/a" : (i % 3).ToString(CultureInfo.InvariantCulture))},{(i % 4 == 0 ? "green" : i % 2 == 0 ? "red" : "blue")},2\n");
        }
        return (Write("ref.csv", reference.ToString()), Write("cur.csv", current.ToString()));
    }

    [Fact]
    public async Task Json_is_one_object_with_every_feature_typed_and_counted()
    {
        var (reference, current) = Files();
        var result = (await _cli.RunAsync("drift", reference, current, "--json")).Ok();
        Assert.Equal("", result.Err);
        using var json = JsonDocument.Parse(result.Out); // the whole of stdout is one JSON document
        var features = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(["x", "y", "code", "colour"], features.Keys);
        var x = features["x"];
        Assert.Equal("numeric", x.GetProperty("type").GetString());
        Assert.Equal(100, x.GetProperty("n_ref").GetInt32());
        Assert.Equal(80, x.GetProperty("n_cur").GetInt32());
        Assert.Equal(20, x.GetProperty("missing_cur").GetInt32());
        // The current x are 51..149 without the multiples of 5. The largest ECDF gap is at 50: 51 of the 100 reference values
        // are <= 50 and none of the current ones (at 99 it is 1 - 40/80 = 0.5).
        Assert.Equal(0.51, x.GetProperty("ks").GetProperty("statistic").GetDouble(), 12);
        Assert.True(x.GetProperty("drifted").GetBoolean());
        var y = features["y"];
        Assert.Equal(0, y.GetProperty("ks").GetProperty("statistic").GetDouble());
        Assert.Equal(0, y.GetProperty("psi").GetDouble(), 12);
        Assert.False(y.GetProperty("drifted").GetBoolean());
        var code = features["code"];
        Assert.Equal("categorical", code.GetProperty("type").GetString()); // one value is not a number in the current file
        Assert.Equal(1, code.GetProperty("unseen_categories").GetInt32());
        Assert.True(code.TryGetProperty("chi2", out _));
        Assert.False(code.TryGetProperty("ks", out _));
        var colour = features["colour"];
        Assert.Equal(1, colour.GetProperty("unseen_categories").GetInt32());
        Assert.Equal(25, colour.GetProperty("unseen_rows").GetInt32());
        Assert.Equal(0.5, json.RootElement.GetProperty("drift_share").GetDouble()); // x and colour of four
        Assert.True(json.RootElement.GetProperty("dataset_drift").GetBoolean());
        Assert.Equal(["only_ref"], json.RootElement.GetProperty("only_in_reference").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Drift_exits_0_and_fail_on_drift_exits_6_with_one_line()
    {
        var (reference, current) = Files();
        var table = (await _cli.RunAsync("drift", reference, current)).Ok();
        Assert.Contains("2 of 4 features drifted (share 0.5, threshold 0.5): dataset drift.", table.Out);
        Assert.Matches(new Regex(@"│ x\s+│ numeric .*DRIFT"), table.Out);
        Assert.Contains("Only in the current data (not compared): only_cur", table.Out);

        var failed = await _cli.RunAsync("drift", reference, current, "--fail-on-drift");
        Assert.Equal(ExitCodes.GateFailed, failed.ExitCode);
        Assert.Equal(["error: dataset drift: 2 of 4 features drifted (share 0.5 >= 0.5)."], failed.ErrLines);

        // A higher share threshold: no dataset drift, so --fail-on-drift passes.
        var passed = (await _cli.RunAsync("drift", reference, current, "--fail-on-drift", "--drift-share", "0.75")).Ok();
        Assert.Contains("no dataset drift", passed.Out);
    }

    [Fact]
    public async Task Per_feature_rules_and_method_thresholds_change_the_verdict()
    {
        var (reference, current) = Files();
        var result = (await _cli.RunAsync("drift", reference, current, "--json", "--threshold", "psi=50", "--feature", "colour=chi2:0.01", "--feature", "y=ks")).Ok();
        using var json = JsonDocument.Parse(result.Out);
        var features = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.False(features["x"].GetProperty("drifted").GetBoolean()); // no PSI reaches 50
        Assert.Equal(50, features["x"].GetProperty("threshold").GetDouble());
        Assert.Equal("chi2", features["colour"].GetProperty("method").GetString());
        Assert.Equal(features["colour"].GetProperty("chi2").GetProperty("p_value").GetDouble(), features["colour"].GetProperty("score").GetDouble());
        Assert.True(features["colour"].GetProperty("drifted").GetBoolean());
        Assert.Equal("ks", features["y"].GetProperty("method").GetString());
        Assert.Equal(0.05, features["y"].GetProperty("threshold").GetDouble());
    }

    [Fact]
    public async Task Html_report_holds_a_histogram_for_every_feature_and_the_scores()
    {
        var (reference, current) = Files();
        var html = _cli.Home.Combine("report.html");
        (await _cli.RunAsync("drift", reference, current, "--html", html)).Ok();
        var page = File.ReadAllText(html);
        var sections = Regex.Matches(page, "<section class=\"feature\" data-feature=\"([^\"]+)\">(.*?)</section>", RegexOptions.Singleline);
        Assert.Equal(["x", "y", "code", "colour"], sections.Select(m => m.Groups[1].Value));
        foreach (Match section in sections)
        {
            var image = Regex.Match(section.Groups[2].Value, "<img class=\"histogram\" alt=\"histogram\" src=\"data:image/png;base64,([^\"]+)\">");
            Assert.True(image.Success, $"no histogram for {section.Groups[1].Value}");
            var png = Convert.FromBase64String(image.Groups[1].Value);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png.Take(4));
        }
        Assert.Contains("<img class=\"scores\"", page);
        Assert.Equal(2, Regex.Matches(page, "<tr class=\"drifted\">").Count);
        Assert.DoesNotContain("src=\"http", page); // self-contained
    }

    [Fact]
    public async Task A_parquet_file_compares_with_a_csv_file()
    {
        var reference = Write("ref.csv", "a,b\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"{i},{(i % 2 == 0 ? "u" : "v")}\n")));
        var current = _cli.Home.Combine("cur.parquet");
        var a = new DataField<double?>("a");
        var b = new DataField<string>("b");
        await using (var stream = File.Create(current))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(a, b), stream, cancellationToken: TestContext.Current.CancellationToken))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync<double>(a, (ReadOnlyMemory<double?>)Enumerable.Range(0, 40).Select(i => i == 3 ? (double?)null : i).ToArray(), cancellationToken: TestContext.Current.CancellationToken);
            await group.WriteAsync(b, Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? "u" : "v").ToArray());
        }
        var result = (await _cli.RunAsync("drift", reference, current, "--json")).Ok();
        using var json = JsonDocument.Parse(result.Out);
        var features = json.RootElement.GetProperty("features");
        Assert.Equal("numeric", features[0].GetProperty("type").GetString());
        Assert.Equal(1, features[0].GetProperty("missing_cur").GetInt32());
        Assert.Equal("categorical", features[1].GetProperty("type").GetString());
        Assert.Equal(0, features[1].GetProperty("psi").GetDouble(), 12);
        Assert.False(json.RootElement.GetProperty("dataset_drift").GetBoolean());
    }

    [Fact]
    public async Task A_missing_file_exits_3_naming_it()
    {
        var (reference, _) = Files();
        var line = (await _cli.RunAsync("drift", reference, _cli.Home.Combine("nope.csv"))).FailedWith(ExitCodes.NotFound);
        Assert.Contains("nope.csv", line);
    }

    [Fact]
    public async Task Files_without_a_common_column_exit_2()
    {
        var reference = Write("a.csv", "p,q\n1,2\n");
        var current = Write("b.csv", "r,s\n1,2\n");
        var line = (await _cli.RunAsync("drift", reference, current)).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("no column in common", line);
    }

    [Theory]
    [InlineData("--threshold", "psi=-1", "psi threshold must be a finite number greater than 0")]
    [InlineData("--threshold", "ks=1.5", "ks threshold must be a p-value between 0 and 1")]
    [InlineData("--threshold", "entropy=0.2", "expected psi, js, ks, wasserstein or chi2")]
    [InlineData("--threshold", "psi", "expected METHOD=VALUE")]
    [InlineData("--feature", "x=ks:lots", "'lots' is not a number")]
    [InlineData("--feature", "x=", "expected NAME=METHOD[:VALUE]")]
    [InlineData("--drift-share", "0", "'drift share'")]
    [InlineData("--numeric-method", "chi2", "chi2 applies to categorical columns")]
    public async Task Bad_options_exit_2_before_any_file_is_read(string option, string value, string message)
    {
        // The files do not exist: the options are refused first.
        var line = (await _cli.RunAsync("drift", "missing-ref.csv", "missing-cur.csv", option, value)).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains(message, line);
    }

    [Fact]
    public async Task A_method_for_the_wrong_column_type_exits_2_naming_the_feature()
    {
        var (reference, current) = Files();
        var line = (await _cli.RunAsync("drift", reference, current, "--feature", "colour=ks")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("feature 'colour'", line);
    }

    [Fact]
    public async Task A_trained_models_reference_sample_is_the_reference_by_version_and_by_alias()
    {
        // A real tiny `cairn train`: 300 rows, so the sample is every training row and the drift against the model equals the
        // drift against the training file itself.
        var random = new Random(4);
        var train = new StringBuilder("x1,x2,colour,y\n");
        var current = new StringBuilder("x1,x2,colour,y\n");
        for (var i = 0; i < 300; i++)
        {
            double x1 = random.NextDouble(), x2 = random.NextDouble();
            train.Append(CultureInfo.InvariantCulture, $"{x1:0.####},{x2:0.####},{(i % 3 == 0 ? "red" : "blue")},{(x1 + x2 > 1 ? 1 : 0)}\n");
            current.Append(CultureInfo.InvariantCulture, $"{x1 + 0.3:0.####},{x2:0.####},{(i % 2 == 0 ? "red" : "blue")},{(x1 > 0.5 ? 1 : 0)}\n");
        }
        var trainPath = Write("train.csv", train.ToString());
        var currentPath = Write("current.csv", current.ToString());
        Write("recipe.yaml", """
            experiment: drift
            task: binary
            data: train.csv
            label: y
            trainer: {name: fasttree, hyperparameters: {number_of_trees: 5}}
            """);
        (await _cli.RunAsync("train", "--recipe", "recipe.yaml", "--register", "churn")).Ok();
        (await _cli.RunAsync("models", "promote", "churn", "1", "--alias", "champion")).Ok();

        var byFile = (await _cli.RunAsync("drift", trainPath, currentPath, "--json")).Ok();
        var byVersion = (await _cli.RunAsync("drift", "models:/churn/1", currentPath, "--json")).Ok();
        var byAlias = (await _cli.RunAsync("drift", "models:/churn@champion", currentPath, "--json")).Ok();

        using var expected = JsonDocument.Parse(byFile.Out);
        using var version = JsonDocument.Parse(byVersion.Out);
        using var alias = JsonDocument.Parse(byAlias.Out);
        var features = expected.RootElement.GetProperty("features");
        Assert.Equal(["x1", "x2", "colour", "y"], features.EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.Equal(300, features[0].GetProperty("n_ref").GetInt32());
        Assert.True(features[0].GetProperty("drifted").GetBoolean()); // x1 moved by 0.3
        Assert.Equal(features.GetRawText(), version.RootElement.GetProperty("features").GetRawText());
        Assert.Equal(features.GetRawText(), alias.RootElement.GetProperty("features").GetRawText());
        Assert.Empty(version.RootElement.GetProperty("only_in_reference").EnumerateArray());
    }

    [Fact]
    public async Task A_model_without_a_reference_sample_fails_with_one_line_saying_to_pass_a_file()
    {
        var (_, current) = Files();
        // A package logged another way (as from Python): a folder with an MLmodel file and no reference sample.
        var package = Directory.CreateDirectory(_cli.Home.Combine("python-model")).FullName;
        File.WriteAllText(Path.Combine(package, "MLmodel"), "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n");
        using (var stores = await Cairn.Storage.CairnStores.OpenAsync(_cli.Home.Path, new Cairn.Storage.CairnStoreOptions { DefaultArtifactRoot = _cli.Home.Combine("artifacts") },
                   TestContext.Current.CancellationToken))
        {
            await stores.Registry.CreateRegisteredModelAsync("pymodel", cancellationToken: TestContext.Current.CancellationToken);
            await stores.Registry.CreateModelVersionAsync(new("pymodel", package), TestContext.Current.CancellationToken);
        }

        var result = await _cli.RunAsync("drift", "models:/pymodel/1", current);
        var line = result.FailedWith(ExitCodes.InvalidInput);

        Assert.Equal("", result.Out);
        Assert.Contains("models:/pymodel/1", line);
        Assert.Contains("has no reference_sample.parquet", line);
        Assert.Contains("pass the reference data as a .csv or .parquet file", line);
        var unknown = (await _cli.RunAsync("drift", "models:/nope/1", current)).FailedWith(ExitCodes.NotFound);
        Assert.Contains("'REF'", unknown);
    }

    [Fact]
    public async Task Sketch_compares_numeric_columns_approximately_and_says_so()
    {
        var (reference, current) = Files();

        var exact = (await _cli.RunAsync("drift", reference, current, "--json")).Ok();
        var sketched = (await _cli.RunAsync("drift", reference, current, "--json", "--sketch", "--sketch-size", "16")).Ok();
        var table = (await _cli.RunAsync("drift", reference, current, "--sketch")).Ok();
        var bad = (await _cli.RunAsync("drift", reference, current, "--sketch", "--sketch-size", "8")).FailedWith(ExitCodes.InvalidInput);

        using var e = JsonDocument.Parse(exact.Out);
        using var s = JsonDocument.Parse(sketched.Out);
        var x = s.RootElement.GetProperty("features")[0];
        Assert.Equal("x", x.GetProperty("name").GetString());
        Assert.StartsWith("approximate: quantile sketches", x.GetProperty("note").GetString());
        // 100 values in a sketch of 16 per level: compacted, yet D stays within both sides' rank error of the exact 0.51.
        var d = x.GetProperty("ks").GetProperty("statistic").GetDouble();
        Assert.InRange(d, 0.51 - 2 * 3 / 16.0, 0.51 + 2 * 3 / 16.0);
        Assert.Equal(0.51, e.RootElement.GetProperty("features")[0].GetProperty("ks").GetProperty("statistic").GetDouble(), 1e-12);
        Assert.False(e.RootElement.GetProperty("features")[0].TryGetProperty("note", out _));
        Assert.Contains("compared through quantile sketches", table.Out);
        Assert.Contains("'sketch size'", bad);
    }
}

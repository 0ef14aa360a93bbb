using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cairn.Cli;
using Parquet;
using Parquet.Schema;

namespace Cairn.Tests;

/// <summary>
/// <c>cairn validate</c> through the real command line: the table and exit codes (0, 6 for a failed error-severity
/// expectation, 2 for a bad suite, 3 for a missing file), the JSON shape, the HTML report, Parquet input, a drift reference,
/// <c>--suggest</c> on independent samples, and a suite as a pipeline stage run by <c>cairn repro</c>.
/// </summary>
public sealed class ValidateCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private string Write(string name, string text)
    {
        var path = _cli.Home.Combine(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>100 rows: id 1..100 (row 51 repeats 50), age 18..67 (row 10 empty), plan basic/pro (row 30 "gold"), email (row 4 malformed).</summary>
    private string Data(string name = "data.csv")
    {
        var csv = new StringBuilder("id,age,plan,email\n");
        for (var i = 1; i <= 100; i++)
        {
            var id = i == 51 ? 50 : i;
            var age = i == 10 ? "" : (18 + i % 50).ToString(CultureInfo.InvariantCulture);
            var plan = i == 30 ? "gold" : i % 3 == 0 ? "pro" : "basic";
            var email = i == 4 ? "nobody" : $"user{i}@example.org";
            csv.Append(CultureInfo.InvariantCulture, $"{id},{age},{plan},{email}\n");
        }
        return Write(name, csv.ToString());
    }

    /// <summary>Every kind once; the ones at 2, 4, 5, 6 and 7 fail on <see cref="Data"/>, 6 only as a warning.</summary>
    private const string Suite = """
        name: customers
        expectations:
          - {kind: column_exists, column: age}
          - {kind: column_type, column: age, type: integer}
          - {kind: not_null, column: age}
          - {kind: between, column: age, min: 18, max: 67}
          - {kind: in_set, column: plan, values: [basic, pro]}
          - {kind: matches_regex, column: email, pattern: '^[a-z0-9]+@[a-z]+\.org$'}
          - {kind: unique, column: id, severity: warn}
          - {kind: row_count_between, min: 101}
          - {kind: mean_between, column: age, min: 40, max: 45}
          - {kind: std_between, column: age, min: 10, max: 20}
          - {kind: quantile_between, column: age, quantile: 0.5, min: 35, max: 50}
          - {kind: distribution_close, column: plan, reference: ref/plans.csv, method: chi2, threshold: 0.01}
          - {kind: column_exists, column: income}
        """;

    private string SuiteFile()
    {
        Write("ref/plans.csv", "plan\n" + string.Concat(Enumerable.Range(1, 90).Select(i => i % 3 == 0 ? "pro\n" : "basic\n")));
        return Write("suite.yaml", Suite);
    }

    [Fact]
    public async Task Json_to_stdout_is_one_object_with_a_result_per_expectation_and_exit_6_with_one_line()
    {
        var (data, suite) = (Data(), SuiteFile());
        var result = await _cli.RunAsync("validate", data, "--suite", suite, "--json", "-");
        Assert.Equal(ExitCodes.GateFailed, result.ExitCode);
        Assert.Equal(["error: validation failed: 5 of 13 expectations failed: #2 not_null (age), #4 in_set (plan), #5 matches_regex (email), #7 row_count_between, #12 column_exists (income)."], result.ErrLines);
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.Equal(("data.csv", "suite.yaml", "customers", 100, false), (root.GetProperty("data").GetString(), root.GetProperty("suite").GetString(),
            root.GetProperty("suite_name").GetString(), root.GetProperty("rows").GetInt32(), root.GetProperty("success").GetBoolean()));
        var statistics = root.GetProperty("statistics");
        Assert.Equal((13, 7, 5, 1), (statistics.GetProperty("evaluated").GetInt32(), statistics.GetProperty("passed").GetInt32(),
            statistics.GetProperty("failed_errors").GetInt32(), statistics.GetProperty("failed_warnings").GetInt32()));
        Assert.True(root.GetProperty("timings").GetProperty("read_seconds").GetDouble() >= 0);
        var results = root.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(0, 13), results.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal([true, true, false, true, false, false, false, false, true, true, true, true, false], results.Select(r => r.GetProperty("success").GetBoolean()));
        var inSet = results[4];
        Assert.Equal(("in_set", "plan", "error", 1, 100), (inSet.GetProperty("kind").GetString(), inSet.GetProperty("column").GetString(),
            inSet.GetProperty("severity").GetString(), inSet.GetProperty("unexpected_count").GetInt32(), inSet.GetProperty("element_count").GetInt32()));
        var example = Assert.Single(inSet.GetProperty("unexpected_examples").EnumerateArray());
        Assert.Equal((30, "gold"), (example.GetProperty("row").GetInt32(), example.GetProperty("value").GetString()));
        Assert.Equal("warn", results[6].GetProperty("severity").GetString());
        Assert.Equal(99, results[6].GetProperty("observed").GetDouble()); // 99 distinct ids of 100
        Assert.Equal(100, results[7].GetProperty("observed").GetDouble());
        Assert.Equal(JsonValueKind.Null, results[7].GetProperty("column").ValueKind);
        Assert.Equal("integer", results[1].GetProperty("observed").GetString());
        Assert.Equal(0.01, results[2].GetProperty("observed").GetDouble());
        Assert.Equal("chi2 p-value", results[11].GetProperty("observed_label").GetString());
        Assert.Contains("no column 'income'", results[12].GetProperty("note").GetString());
    }

    [Fact]
    public async Task The_table_highlights_failures_and_a_passing_suite_exits_0()
    {
        var data = Data();
        var suite = Write("pass.yaml", "expectations:\n  - {kind: between, column: age, min: 0, max: 100}\n  - {kind: unique, column: id, severity: warn}\n");
        var result = (await _cli.RunAsync("validate", data, "--suite", suite)).Ok();
        Assert.Contains("1 of 2 expectations passed; 0 failed, 1 failed as warnings (100 rows;", result.Out);
        Assert.Matches(new Regex(@"│ 1\s+│ unique\s+│ id .*│ 50 .*│ warning"), result.Out);

        var colored = await _cli.RunAsync(ansi: true, "validate", data, "--suite", SuiteFile());
        Assert.Equal(ExitCodes.GateFailed, colored.ExitCode);
        Assert.Matches(new Regex("\u001b\\[[0-9;]*m[^\u001b\n]*FAILED"), colored.Out); // a styled (bold red) cell
    }

    [Fact]
    public async Task Html_report_has_a_section_per_expectation_with_its_plot()
    {
        var html = _cli.Home.Combine("report.html");
        var result = await _cli.RunAsync("validate", Data(), "--suite", SuiteFile(), "--html", html, "--json", _cli.Home.Combine("result.json"));
        Assert.Equal(ExitCodes.GateFailed, result.ExitCode);
        Assert.Contains("HTML report: " + html, result.Out);
        using (var json = JsonDocument.Parse(File.ReadAllText(_cli.Home.Combine("result.json"))))
            Assert.Equal(13, json.RootElement.GetProperty("results").GetArrayLength());
        var page = File.ReadAllText(html);
        var sections = Regex.Matches(page, "<section class=\"expectation (passed|failed|warned)\" data-index=\"(\\d+)\" data-kind=\"([a-z_]+)\" data-column=\"([^\"]*)\">(.*?)</section>", RegexOptions.Singleline);
        Assert.Equal(Enumerable.Range(0, 13).Select(i => i.ToString(CultureInfo.InvariantCulture)), sections.Select(m => m.Groups[2].Value));
        Assert.Equal(["passed", "passed", "failed", "passed", "failed", "failed", "warned", "failed"], sections.Take(8).Select(m => m.Groups[1].Value));
        foreach (Match section in sections)
        {
            var column = section.Groups[4].Value;
            var image = Regex.Match(section.Groups[5].Value, "<img class=\"plot\" alt=\"plot\" src=\"data:image/png;base64,([^\"]+)\">");
            // Every expectation about a column the data has carries its picture; row count and the missing column have none.
            Assert.Equal(column is not ("" or "income"), image.Success);
            if (image.Success) Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], Convert.FromBase64String(image.Groups[1].Value).Take(4));
        }
        Assert.Contains("row 30: <code>gold</code>", sections[4].Groups[5].Value);
        Assert.Equal(5, Regex.Matches(page, "<tr class=\"failed\">").Count);
        Assert.DoesNotContain("src=\"http", page);
    }

    [Theory]
    [InlineData("expectations:\n  - {kind: between, column: age, min: 0, maxi: 3}", "expectation 0 (between): field 'maxi' is not a field of between")]
    [InlineData("expectations:\n  - {kind: matches_regex, column: email, pattern: '(unclosed'}", "expectation 0 (matches_regex): field 'pattern' is not a valid regular expression")]
    [InlineData("expectations:\n  - {kind: column_exists, column: age}\n  - {kind: between, column: age, min: 9, max: 1}", "expectation 1 (between): field 'min' (9) is greater than 'max' (1), so nothing can pass.")]
    [InlineData("expectations:\n  - {kind: not_null}", "expectation 0 (not_null): field 'column' is missing; name the column the expectation is about.")]
    [InlineData("expectations:\n  - {kind: distribution_close, column: plan, reference: ../../etc/passwd}", "field 'reference' '../../etc/passwd' has a '..' segment")]
    public async Task A_bad_suite_exits_2_with_one_line_naming_the_expectation_and_field(string yaml, string message)
    {
        var suite = Write("bad.yaml", yaml);
        var error = (await _cli.RunAsync("validate", Data(), "--suite", suite)).FailedWith(ExitCodes.InvalidInput);
        Assert.StartsWith($"error: {suite}: ", error);
        Assert.Contains(message, error);
    }

    [Fact]
    public async Task Missing_files_and_options_are_refused()
    {
        var data = Data();
        Assert.Contains("suite file not found", (await _cli.RunAsync("validate", data, "--suite", "none.yaml")).FailedWith(ExitCodes.NotFound));
        var suite = Write("s.yaml", "expectations:\n  - {kind: column_exists, column: age}\n");
        (await _cli.RunAsync("validate", "none.csv", "--suite", suite)).FailedWith(ExitCodes.NotFound);
        Assert.Contains("Missing option '--suite'", (await _cli.RunAsync("validate", data)).FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("--suite, --json and --html belong to a validation", (await _cli.RunAsync("validate", "--suggest", data, "--suite", suite)).FailedWith(ExitCodes.InvalidInput));
        var badReference = Write("r.yaml", "expectations:\n  - {kind: distribution_close, column: age, reference: missing.csv}\n");
        (await _cli.RunAsync("validate", data, "--suite", badReference)).FailedWith(ExitCodes.NotFound);
    }

    [Fact]
    public async Task A_parquet_file_is_validated_like_a_csv_file()
    {
        var path = _cli.Home.Combine("data.parquet");
        var age = new DataField<double?>("age");
        var plan = new DataField<string>("plan");
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(age, plan), stream, cancellationToken: TestContext.Current.CancellationToken))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync<double>(age, (ReadOnlyMemory<double?>)Enumerable.Range(0, 30).Select(i => i == 3 ? (double?)null : 20 + i).ToArray(), cancellationToken: TestContext.Current.CancellationToken);
            await group.WriteAsync(plan, Enumerable.Range(0, 30).Select(i => i == 5 ? "gold" : "basic").ToArray());
        }
        var suite = Write("p.yaml", "expectations:\n  - {kind: not_null, column: age, max_null_share: 0.05}\n  - {kind: between, column: age, min: 20, max: 49}\n  - {kind: in_set, column: plan, values: [basic]}\n");
        var result = await _cli.RunAsync("validate", path, "--suite", suite, "--json", "-");
        Assert.Equal(ExitCodes.GateFailed, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal([true, true, false], json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("success").GetBoolean()));
    }

    /// <summary>n rows of one distribution: order_id a key, qty 1..9, price normal(50, 8), channel web/shop/phone.</summary>
    private string Sample(string name, int seed, int rows = 3000, Func<int, string[], string[]>? breakRow = null)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("order_id,qty,price,channel\n");
        for (var r = 0; r < rows; r++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            string[] cells =
            [
                (seed * 1_000_000 + r).ToString(CultureInfo.InvariantCulture), (1 + random.Next(9)).ToString(CultureInfo.InvariantCulture),
                (50 + 8 * normal).ToString("0.00", CultureInfo.InvariantCulture), random.NextDouble() switch { < 0.5 => "web", < 0.8 => "shop", _ => "phone" },
            ];
            csv.AppendJoin(',', breakRow?.Invoke(r, cells) ?? cells).Append('\n');
        }
        return Write(name, csv.ToString());
    }

    [Fact]
    public async Task Suggest_writes_a_suite_another_sample_passes_and_a_broken_copy_fails()
    {
        var yaml = (await _cli.RunAsync("validate", "--suggest", Sample("a.csv", seed: 1))).Ok().Out;
        Assert.StartsWith("# Suggested by cairn validate --suggest from a.csv (3,000 rows).", yaml);
        var suitePath = _cli.Home.Combine("suite.yaml");
        var wrote = (await _cli.RunAsync("validate", "--suggest", Sample("a.csv", seed: 1), "-o", suitePath)).Ok();
        Assert.Contains("to " + suitePath, wrote.Out);
        Assert.Equal(yaml, File.ReadAllText(suitePath));

        (await _cli.RunAsync("validate", Sample("b.csv", seed: 2), "--suite", suitePath)).Ok();
        var broken = Sample("broken.csv", seed: 3, breakRow: (r, cells) => r % 10 == 0 ? [cells[0], "0", cells[2].Replace(".", "", StringComparison.Ordinal), "fax"] : cells);
        var failed = await _cli.RunAsync("validate", broken, "--suite", suitePath, "--json", "-");
        Assert.Equal(ExitCodes.GateFailed, failed.ExitCode);
        using var json = JsonDocument.Parse(failed.Out);
        var failures = json.RootElement.GetProperty("results").EnumerateArray().Where(r => !r.GetProperty("success").GetBoolean())
            .Select(r => $"{r.GetProperty("kind").GetString()} {r.GetProperty("column").GetString()}").ToHashSet();
        Assert.Superset(new HashSet<string> { "in_set qty", "between price", "mean_between price", "in_set channel" }, failures);
    }

    [Fact]
    public async Task A_suite_as_a_pipeline_stage_fails_the_stage_with_the_gate_exit_code()
    {
        using var dir = new TempDir();
        using var cli = CliHarness.InFolder(dir.Path);
        dir.Write("data.csv", "age,plan\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"{20 + i},{(i % 2 == 0 ? "basic" : "pro")}\n")));
        dir.Write("suite.yaml", "expectations:\n  - {kind: between, column: age, min: 0, max: 120}\n  - {kind: in_set, column: plan, values: [basic, pro]}\n");
        var cairn = Path.Combine(AppContext.BaseDirectory, "cairn.dll");
        dir.Write("cairn.yaml", $"stages:\n  validate:\n    cmd: dotnet {cairn} validate data.csv --suite suite.yaml --json report.json\n    deps: [data.csv, suite.yaml]\n    outs: [report.json]\n" +
            "  train:\n    cmd: wc -l data.csv > model.txt\n    deps: [data.csv, report.json]\n    outs: [model.txt]\n");
        var passed = await cli.RunAsync("repro");
        Assert.True(passed.ExitCode == 0, passed.Out + passed.Err);
        Assert.True(File.Exists(dir["model.txt"]));
        using (var report = JsonDocument.Parse(File.ReadAllText(dir["report.json"])))
            Assert.True(report.RootElement.GetProperty("success").GetBoolean());

        // New data breaks the suite: the validate stage fails with exit code 6 and train does not run.
        File.Delete(dir["model.txt"]);
        dir.Write("data.csv", "age,plan\n30,basic\n31,gold\n");
        var failed = await cli.RunAsync("repro");
        Assert.Equal(ExitCodes.Failed, failed.ExitCode);
        Assert.StartsWith("error: stage 'validate' failed with exit code 6 (log: ", failed.Err);
        Assert.Contains("validation failed: 1 of 2 expectations failed: #1 in_set (plan).", failed.Out);
        Assert.False(File.Exists(dir["model.txt"]));
    }
}

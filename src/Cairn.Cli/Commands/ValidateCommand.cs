using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cairn.ML.Validation;
using Cairn.Validation;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn validate DATA --suite S</c>: checks a data file (CSV or Parquet, read by the project's readers) against an
/// expectation suite (<see cref="ExpectationSuite"/>); a table with the failures highlighted, a JSON result (<c>--json FILE|-</c>)
/// and/or an HTML report. Exits 0 when every error-severity expectation holds, 6 when one fails, 2 for a bad suite.
/// <c>cairn validate --suggest DATA</c> writes a suite from the data's profile instead (docs/VALIDATION.md).
/// </summary>
internal static class ValidateCommand
{
    public static Command Create(CliContext app)
    {
        var data = new Argument<string>("DATA") { Description = "The data: a .csv or .parquet file." };
        var suite = new Option<string?>("--suite") { Description = "The expectation suite (YAML) the data must meet." };
        var suggest = new Option<bool>("--suggest") { Description = "Profile DATA and write a suite whose bounds generalise (YAML on stdout, or to -o FILE)." };
        var output = new Option<string?>("--output", "-o") { Description = "With --suggest: the file to write the suite to (default: stdout)." };
        var json = new Option<string?>("--json") { Description = "Write the result as one JSON object to this file, or to stdout alone with '-'." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML report (a section and a plot per expectation) to this file." };
        var command = new Command("validate", "Check a data file against an expectation suite (column types, nulls, ranges, sets, patterns, statistics, drift), or suggest a suite from it.")
        {
            data, suite, suggest, output, json, html,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var dataPath = ctx.FullPath(parse.GetValue(data)!);
            var suitePath = parse.GetValue(suite) is { } s ? ctx.FullPath(s) : null;
            var jsonTarget = parse.GetValue(json);
            var htmlPath = parse.GetValue(html) is { } h ? ctx.FullPath(h) : null;
            var outputPath = parse.GetValue(output) is { } o ? ctx.FullPath(o) : null;
            if (parse.GetValue(suggest))
            {
                if (suitePath is not null || jsonTarget is not null || htmlPath is not null)
                    throw new InvalidParameterValueException("Invalid option for '--suggest': it writes a suite; --suite, --json and --html belong to a validation.");
                return await SuggestAsync(ctx, dataPath, outputPath, cancellationToken);
            }
            if (outputPath is not null) throw new InvalidParameterValueException("Invalid option '--output': it names the file --suggest writes; use --json or --html for a validation's results.");
            if (suitePath is null) throw new InvalidParameterValueException("Missing option '--suite': name the expectation suite to check DATA against, or pass --suggest to write one.");
            if (jsonTarget is { Length: 0 }) throw new InvalidParameterValueException("Invalid value '' for '--json': give a file, or '-' for stdout.");
            var jsonToStdout = jsonTarget == "-";
            // The suite is read and checked before the data.
            var expectations = ExpectationSuite.Load(suitePath);
            var clock = Stopwatch.StartNew();
            var (table, report, readSeconds, checkSeconds) = await CliProgress.RunAsync(ctx, $"Reading {Path.GetFileName(dataPath)}", async bar =>
            {
                bar?.Indeterminate();
                var columns = await Task.Run(() => TableColumns.Read(dataPath), cancellationToken);
                var read = clock.Elapsed.TotalSeconds;
                bar?.Start(expectations.Expectations.Count);
                bar?.Describe($"Checking {expectations.Expectations.Count} expectations");
                var result = SuiteValidator.Validate(expectations, columns, TableColumns.Read, bar is null ? null : new Progress(bar), cancellationToken);
                return (columns, result, read, clock.Elapsed.TotalSeconds - read);
            }, enabled: !jsonToStdout);

            if (htmlPath is not null) ValidationHtmlReport.Write(htmlPath, report, table, Path.GetFileName(dataPath), Path.GetFileName(suitePath));
            if (jsonTarget is not null)
            {
                void WriteResult(Utf8JsonWriter w) => Write(w, report, Path.GetFileName(dataPath), expectations, readSeconds, checkSeconds);
                if (jsonToStdout) WriteJson(ctx, WriteResult);
                else WriteJsonFile(ctx.FullPath(jsonTarget), WriteResult);
            }
            if (!jsonToStdout) Print(ctx, report, readSeconds, checkSeconds, htmlPath, jsonTarget is null ? null : ctx.FullPath(jsonTarget));
            if (!report.Success)
            {
                var failed = report.Results.Where(r => r.FailsValidation).ToList();
                throw new GateFailedException($"validation failed: {failed.Count} of {report.Results.Count} expectations failed: "
                    + string.Join(", ", failed.Take(5).Select(r => $"#{r.Expectation.Index} {r.Expectation.Kind}{(r.Expectation.Column is { } c ? $" ({c})" : "")}"))
                    + (failed.Count > 5 ? ", ..." : "") + ".");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> SuggestAsync(CliContext ctx, string dataPath, string? outputPath, CancellationToken cancellationToken)
    {
        var (suite, rows) = await CliProgress.RunAsync(ctx, $"Profiling {Path.GetFileName(dataPath)}", async bar =>
        {
            bar?.Indeterminate();
            var columns = await Task.Run(() => TableColumns.Read(dataPath), cancellationToken);
            return (SuiteSuggester.Suggest(columns, Path.GetFileNameWithoutExtension(dataPath)), columns.RowCount);
        }, enabled: outputPath is not null);
        var yaml = SuiteWriter.ToYaml(suite,
        [
            string.Create(CultureInfo.InvariantCulture, $"Suggested by cairn validate --suggest from {Path.GetFileName(dataPath)} ({rows:N0} rows)."),
            "Bounds leave a margin beyond what was seen; review them before relying on the suite.",
        ]);
        if (outputPath is null)
        {
            ctx.Out.Write(yaml);
            return ExitCodes.Ok;
        }
        var temporary = outputPath + ".tmp";
        await File.WriteAllTextAsync(temporary, yaml, cancellationToken);
        File.Move(temporary, outputPath, overwrite: true);
        ctx.Out.WriteLine($"Wrote {suite.Expectations.Count} expectations on {suite.Expectations.Select(e => e.Column).Distinct().Count()} columns to {outputPath}");
        return ExitCodes.Ok;
    }

    private static void Print(CliContext ctx, ValidationReport report, double readSeconds, double checkSeconds, string? htmlPath, string? jsonPath)
    {
        var table = new Table().AddColumns("#", "Kind", "Column", "Rule", "Observed", "Unexpected", "Examples", "Result");
        foreach (var r in report.Results)
        {
            var e = r.Expectation;
            string[] cells =
            [
                e.Index.ToString(CultureInfo.InvariantCulture), e.Kind, e.Column ?? "", e.Describe(), ValidationHtmlReport.Observed(r), ValidationHtmlReport.Unexpected(r),
                string.Join(", ", r.UnexpectedExamples.Take(3)), r.Success ? "ok" : r.FailsValidation ? "FAILED" : "warning",
            ];
            var style = r.Success ? null : r.FailsValidation ? "bold red" : "yellow";
            table.AddRow(cells.Select(c => style is null ? new Markup(Markup.Escape(c)) : new Markup($"[{style}]{Markup.Escape(c)}[/]")));
        }
        ctx.Console.Write(table);
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Passed} of {report.Results.Count} expectations passed; {report.FailedErrors} failed, {report.FailedWarnings} failed as warnings ({report.RowCount:N0} rows; read {readSeconds:0.00} s, checks {checkSeconds:0.00} s)."));
        if (jsonPath is not null) ctx.Out.WriteLine($"JSON result: {jsonPath}");
        if (htmlPath is not null) ctx.Out.WriteLine($"HTML report: {htmlPath}");
    }

    /// <summary>The one JSON object of <c>--json</c> (docs/VALIDATION.md has its shape); non-finite numbers are null.</summary>
    private static void Write(Utf8JsonWriter w, ValidationReport report, string dataName, ExpectationSuite suite, double readSeconds, double checkSeconds)
    {
        w.WriteStartObject();
        w.WriteString("data", dataName);
        w.WriteString("suite", Path.GetFileName(suite.Source));
        if (suite.Name is { } name) w.WriteString("suite_name", name);
        w.WriteNumber("rows", report.RowCount);
        w.WriteBoolean("success", report.Success);
        w.WriteStartObject("statistics");
        w.WriteNumber("evaluated", report.Results.Count);
        w.WriteNumber("passed", report.Passed);
        w.WriteNumber("failed_errors", report.FailedErrors);
        w.WriteNumber("failed_warnings", report.FailedWarnings);
        w.WriteEndObject();
        w.WriteStartObject("timings");
        w.WriteNumber("read_seconds", Math.Round(readSeconds, 4));
        w.WriteNumber("check_seconds", Math.Round(checkSeconds, 4));
        w.WriteEndObject();
        w.WriteStartArray("results");
        foreach (var r in report.Results)
        {
            var e = r.Expectation;
            w.WriteStartObject();
            w.WriteNumber("index", e.Index);
            w.WriteString("kind", e.Kind);
            if (e.Column is { } column) w.WriteString("column", column);
            else w.WriteNull("column");
            w.WriteString("severity", e.Severity == Severity.Warn ? "warn" : "error");
            w.WriteString("rule", e.Describe());
            w.WriteBoolean("success", r.Success);
            if (r.ObservedValue is { } v)
            {
                if (double.IsFinite(v)) w.WriteNumber("observed", v);
                else w.WriteNull("observed");
                if (r.Observed is { } label) w.WriteString("observed_label", label);
            }
            else if (r.Observed is { } text) w.WriteString("observed", text);
            else w.WriteNull("observed");
            w.WriteNumber("element_count", r.ElementCount);
            w.WriteNumber("unexpected_count", r.UnexpectedCount);
            w.WriteNumber("unexpected_share", r.ElementCount == 0 ? 0 : (double)r.UnexpectedCount / r.ElementCount);
            w.WriteStartArray("unexpected_examples");
            for (var i = 0; i < r.UnexpectedExamples.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("row", r.UnexpectedRows[i]);
                w.WriteString("value", r.UnexpectedExamples[i]);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (r.Note is { } note) w.WriteString("note", note);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteJsonFile(string path, Action<Utf8JsonWriter> write)
    {
        var temporary = path + ".tmp";
        using (var file = File.Create(temporary))
        using (var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
            write(writer);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Advances the bar once per checked expectation (called from the validator's worker threads).</summary>
    private sealed class Progress(CliProgress.Bar bar) : IProgress<int>
    {
        public void Report(int value) => bar.Advance(value);
    }
}

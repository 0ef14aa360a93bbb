using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Cairn.ML.Monitoring;
using Cairn.ML.Training;
using Cairn.Monitoring;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn drift REF CUR</c>: compares every column the two files share (CSV or Parquet, read by <see cref="CsvTable"/>)
/// with the drift statistics of <see cref="DriftAnalyzer"/>; a table, one JSON object (<c>--json</c>) and/or an HTML report.
/// Exits 0 whenever it ran, drift or not; <c>--fail-on-drift</c> exits 6 when the dataset drifted (docs/MONITORING.md).
/// </summary>
internal static class DriftCommand
{
    public static Command Create(CliContext app)
    {
        var reference = new Argument<string>("REF")
        {
            Description = "The reference data: a .csv or .parquet file (e.g. the training data), or models:/NAME/VERSION or models:/NAME@ALIAS " +
                          "(the training rows `cairn train` keeps with the model package).",
        };
        var trackingUri = TrackingUriOption();
        var sketch = new Option<bool>("--sketch")
        {
            Description = "Compare numeric columns through quantile sketches instead of sorting them (approximate, for data too large to sort; " +
                          "the rank error bound is in each feature's note); with models:/ and a reference_sketch.json in the package, against the sketches of all training rows.",
        };
        var sketchSize = new Option<int>("--sketch-size") { Description = "Values per level of a sketch (16 to 1048576): larger is more exact.", DefaultValueFactory = _ => QuantileSketch.DefaultK };
        var current = new Argument<string>("CUR") { Description = "The current data: a .csv or .parquet file." };
        var json = new Option<bool>("--json") { Description = "Write only one JSON object to stdout: features, drift_share, dataset_drift." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML report (histograms per feature) to this file." };
        var failOnDrift = new Option<bool>("--fail-on-drift") { Description = "Exit with code 6 when the dataset drifts." };
        var numericMethod = new Option<string>("--numeric-method") { Description = "What decides for numeric columns: psi, js, ks or wasserstein.", DefaultValueFactory = _ => "psi" };
        var categoricalMethod = new Option<string>("--categorical-method") { Description = "What decides for categorical columns: psi, js or chi2.", DefaultValueFactory = _ => "psi" };
        var threshold = new Option<string[]>("--threshold") { Description = "METHOD=VALUE: a method's threshold for every feature (repeatable), e.g. psi=0.2 or ks=0.01." };
        var feature = new Option<string[]>("--feature") { Description = "NAME=METHOD[:VALUE] or NAME=:VALUE: one feature's own method and/or threshold (repeatable)." };
        var driftShare = new Option<double>("--drift-share") { Description = "The dataset drifts when at least this share of the features drifted.", DefaultValueFactory = _ => 0.5 };
        var command = new Command("drift", "Compare the distributions of two data files column by column (KS, Wasserstein, PSI, JS, chi-square) and report drift.")
        {
            reference, current, json, html, failOnDrift, numericMethod, categoricalMethod, threshold, feature, driftShare, trackingUri, sketch, sketchSize,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            // Every option is checked before a file is read.
            var options = new DriftOptions
            {
                NumericMethod = DriftOptions.ParseMethod(parse.GetValue(numericMethod)!, "--numeric-method"),
                CategoricalMethod = DriftOptions.ParseMethod(parse.GetValue(categoricalMethod)!, "--categorical-method"),
                DriftShare = parse.GetValue(driftShare),
                SketchK = parse.GetValue(sketch) ? parse.GetValue(sketchSize) : null,
            };
            foreach (var item in parse.GetValue(threshold) ?? []) ParseThreshold(options, item);
            foreach (var item in parse.GetValue(feature) ?? []) ParseFeature(options, item);
            options.Validate();
            var referenceArgument = parse.GetValue(reference)!;
            var currentPath = ctx.FullPath(parse.GetValue(current)!);
            var htmlPath = parse.GetValue(html) is { } h ? ctx.FullPath(h) : null;
            var asJson = parse.GetValue(json);
            DirectoryInfo? scratch = null;
            try
            {
                string referencePath, referenceName;
                Dictionary<string, QuantileSketch>? referenceSketches = null;
                if (IsModelUri(referenceArgument))
                {
                    // The model package is fetched through the tracking store, as `cairn serve` fetches it; its reference sample is the reference.
                    scratch = Directory.CreateTempSubdirectory("cairn-drift-");
                    using (var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken))
                        referencePath = await ReferenceOfModelAsync(client, referenceArgument, scratch.FullName, cancellationToken);
                    referenceName = referenceArgument;
                    // With --sketch, numeric features compare against the sketches of all training rows when the package has them.
                    var sketchPath = Path.Combine(Path.GetDirectoryName(referencePath)!, ReferenceSample.SketchFileName);
                    if (options.SketchK is not null && File.Exists(sketchPath)) referenceSketches = ReferenceSample.ReadSketches(sketchPath);
                }
                else
                {
                    referencePath = ctx.FullPath(referenceArgument);
                    referenceName = Path.GetFileName(referencePath);
                }
                var report = await CliProgress.RunAsync(ctx, $"Reading {referenceName} and {Path.GetFileName(currentPath)}", async bar =>
                {
                    bar?.Indeterminate();
                    // The two files are read at the same time (and each large CSV file in parallel chunks).
                    var readReference = Task.Run(() => CsvTable.ReadAny(referencePath, hash: false), cancellationToken);
                    var readCurrent = Task.Run(() => CsvTable.ReadAny(currentPath, hash: false), cancellationToken);
                    var (refTable, curTable) = (await readReference, await readCurrent);
                    var columns = Columns(refTable, curTable);
                    if (referenceSketches is not null)
                        columns = columns.Select(c => c is NumericDriftColumn n && referenceSketches.TryGetValue(n.Name, out var s) ? new SketchedDriftColumn(n.Name, s, n.Current) : c).ToList();
                    bar?.Start(columns.Count);
                    bar?.Describe($"Comparing {columns.Count} columns");
                    var progress = bar is null ? null : new Progress(bar);
                    return (Report: DriftAnalyzer.Compare(columns, options, progress, cancellationToken), refTable, curTable);
                }, enabled: !asJson);
                return Finish(ctx, parse, report, referenceName, currentPath, htmlPath, asJson, failOnDrift);
            }
            finally
            {
                try { scratch?.Delete(recursive: true); } catch (IOException) { /* a leftover in the temp folder is harmless */ }
            }
        });
        return command;
    }

    private static bool IsModelUri(string argument) =>
        argument.StartsWith("models:/", StringComparison.OrdinalIgnoreCase) || argument.StartsWith("runs:/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The path of the reference sample of the model <paramref name="uri"/> names (fetched into <paramref name="scratch"/> unless
    /// it is a local folder); a package without one (a model logged outside <c>cairn train</c>) is refused with what to do instead.
    /// </summary>
    internal static async Task<string> ReferenceOfModelAsync(Cairn.Client.CairnClient client, string uri, string scratch, CancellationToken cancellationToken)
    {
        var location = await client.LocateModelAsync(uri, scratch, "REF", cancellationToken);
        var path = Path.Combine(location.Folder, ReferenceSample.FileName);
        if (!File.Exists(path))
            throw new InvalidParameterValueException($"Invalid value '{uri}' for 'REF': the model package has no {ReferenceSample.FileName} (`cairn train` keeps one; " +
                                                     "a model logged another way, e.g. from Python, has none); pass the reference data as a .csv or .parquet file.");
        return path;
    }

    private static int Finish(CliContext ctx, ParseResult parse, (DriftReport Report, CsvTable refTable, CsvTable curTable) report, string referenceName,
        string currentPath, string? htmlPath, bool asJson, Option<bool> failOnDrift)
    {
        var (result, refData, curData) = report;
        if (htmlPath is not null) DriftHtmlReport.Write(htmlPath, result, referenceName, Path.GetFileName(currentPath));
        var onlyReference = refData.Names.Where(n => curData.IndexOf(n) < 0).ToList();
        var onlyCurrent = curData.Names.Where(n => refData.IndexOf(n) < 0).ToList();
        if (asJson) WriteJson(ctx, w => Write(w, result, onlyReference, onlyCurrent));
        else Print(ctx, result, onlyReference, onlyCurrent, htmlPath);
        if (parse.GetValue(failOnDrift) && result.DatasetDrift)
            throw new GateFailedException(string.Create(CultureInfo.InvariantCulture,
                $"dataset drift: {result.Features.Count(f => f.Drifted)} of {result.Features.Count} features drifted (share {result.DriftShare:0.###} >= {result.DriftShareThreshold:0.###})."));
        return 0;
    }

    /// <summary>
    /// The columns both files have, in the reference's order: numeric when every non-empty value of both parses as a number,
    /// otherwise categorical (the values as written).
    /// </summary>
    internal static List<DriftColumn> Columns(CsvTable reference, CsvTable current)
    {
        var columns = new List<DriftColumn>();
        foreach (var name in reference.Names)
        {
            if (current.IndexOf(name) < 0) continue;
            if (reference.TryNumbers(name, out var r, out _) && current.TryNumbers(name, out var c, out _))
                columns.Add(new NumericDriftColumn(name, r, c));
            else columns.Add(new CategoricalDriftColumn(name, reference[name], current[name]));
        }
        if (columns.Count == 0)
            throw new InvalidParameterValueException($"{current.Path}: no column in common with {reference.Path} (reference columns: {string.Join(", ", reference.Names.Take(20))}; current columns: {string.Join(", ", current.Names.Take(20))}).");
        return columns;
    }

    private static void ParseThreshold(DriftOptions options, string item)
    {
        var at = item.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0) throw new InvalidParameterValueException($"Invalid value '{item}' for '--threshold': expected METHOD=VALUE, e.g. psi=0.2.");
        var method = DriftOptions.ParseMethod(item[..at], "--threshold");
        options.Thresholds[method] = DriftOptions.CheckThreshold(method, Number(item[(at + 1)..], item, "--threshold"), "--threshold " + item);
    }

    private static void ParseFeature(DriftOptions options, string item)
    {
        var at = item.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0 || at == item.Length - 1)
            throw new InvalidParameterValueException($"Invalid value '{item}' for '--feature': expected NAME=METHOD[:VALUE] or NAME=:VALUE, e.g. tenure=ks:0.01.");
        var name = item[..at];
        var rule = item[(at + 1)..];
        var colon = rule.IndexOf(':', StringComparison.Ordinal);
        var methodText = colon < 0 ? rule : rule[..colon];
        DriftMethod? method = methodText.Length == 0 ? null : DriftOptions.ParseMethod(methodText, "--feature " + item);
        // Without a method the threshold is checked against the column's method once its type is known.
        double? value = colon < 0 ? null : Number(rule[(colon + 1)..], item, "--feature");
        if (method is { } m && value is { } v) DriftOptions.CheckThreshold(m, v, "--feature " + item);
        options.Features[name] = new FeatureRule(method, value);
    }

    private static double Number(string text, string item, string field) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
            : throw new InvalidParameterValueException($"Invalid value '{item}' for '{field}': '{text}' is not a number.");

    private static void Print(CliContext ctx, DriftReport report, List<string> onlyReference, List<string> onlyCurrent, string? htmlPath)
    {
        var table = new Table().AddColumns("Feature", "Type", "n ref", "n cur", "Missing", "KS p", "Wasserstein", "PSI", "JS", "Chi2 p", "Method", "Score", "Drift");
        foreach (var f in report.Features)
        {
            string[] cells =
            [
                f.Name, f.Type == FeatureType.Numeric ? "numeric" : "categorical", Count(f.ReferenceCount), Count(f.CurrentCount),
                $"{Count(f.ReferenceMissing)} / {Count(f.CurrentMissing)}", Short(f.Ks?.PValue), Short(f.Wasserstein), Short(f.Psi), Short(f.Js),
                Short(f.Chi2?.PValue), $"{DriftOptions.NameOf(f.Method)} {(DriftOptions.IsTest(f.Method) ? "<" : ">=")} {Short(f.Threshold)}", Short(f.Score),
                f.Drifted ? "DRIFT" : f.Note is { } note && !note.StartsWith("approximate", StringComparison.Ordinal) ? note : "no",
            ];
            table.AddRow(cells.Select(c => f.Drifted ? new Markup($"[bold red]{Markup.Escape(c)}[/]") : new Markup(Markup.Escape(c))));
        }
        ctx.Console.Write(table);
        var drifted = report.Features.Count(f => f.Drifted);
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{drifted} of {report.Features.Count} features drifted (share {report.DriftShare:0.###}, threshold {report.DriftShareThreshold:0.###}): {(report.DatasetDrift ? "dataset drift" : "no dataset drift")}."));
        if (report.Features.FirstOrDefault(f => f.Note?.StartsWith("approximate", StringComparison.Ordinal) == true) is { } sketched)
            ctx.Out.WriteLine($"Numeric columns were compared through quantile sketches ({sketched.Note}).");
        if (onlyReference.Count > 0) ctx.Out.WriteLine($"Only in the reference (not compared): {string.Join(", ", onlyReference)}");
        if (onlyCurrent.Count > 0) ctx.Out.WriteLine($"Only in the current data (not compared): {string.Join(", ", onlyCurrent)}");
        if (htmlPath is not null) ctx.Out.WriteLine($"HTML report: {htmlPath}");
    }

    /// <summary>The one JSON object of <c>--json</c> (docs/MONITORING.md has its shape); non-finite numbers are null.</summary>
    private static void Write(Utf8JsonWriter w, DriftReport report, List<string> onlyReference, List<string> onlyCurrent)
    {
        w.WriteStartObject();
        w.WriteStartArray("features");
        foreach (var f in report.Features)
        {
            w.WriteStartObject();
            w.WriteString("name", f.Name);
            w.WriteString("type", f.Type == FeatureType.Numeric ? "numeric" : "categorical");
            w.WriteNumber("n_ref", f.ReferenceCount);
            w.WriteNumber("n_cur", f.CurrentCount);
            w.WriteNumber("missing_ref", f.ReferenceMissing);
            w.WriteNumber("missing_cur", f.CurrentMissing);
            if (f.Type == FeatureType.Numeric)
            {
                WriteTest(w, "ks", f.Ks);
                NumberOrNull(w, "wasserstein", f.Wasserstein);
                NumberOrNull(w, "wasserstein_normalized", f.WassersteinNormalized);
            }
            else
            {
                WriteTest(w, "chi2", f.Chi2);
                w.WriteNumber("unseen_categories", f.UnseenCategories);
                w.WriteNumber("unseen_rows", f.UnseenRows);
            }
            NumberOrNull(w, "psi", f.Psi);
            NumberOrNull(w, "js", f.Js);
            w.WriteString("method", DriftOptions.NameOf(f.Method));
            w.WriteNumber("threshold", f.Threshold);
            NumberOrNull(w, "score", f.Score);
            w.WriteBoolean("drifted", f.Drifted);
            if (f.Note is { } note) w.WriteString("note", note);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("drift_share", report.DriftShare);
        w.WriteNumber("drift_share_threshold", report.DriftShareThreshold);
        w.WriteBoolean("dataset_drift", report.DatasetDrift);
        w.WriteStartArray("only_in_reference");
        foreach (var n in onlyReference) w.WriteStringValue(n);
        w.WriteEndArray();
        w.WriteStartArray("only_in_current");
        foreach (var n in onlyCurrent) w.WriteStringValue(n);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTest(Utf8JsonWriter w, string name, TestStatistic? test)
    {
        if (test is not { } t)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        NumberOrNull(w, "statistic", t.Statistic);
        NumberOrNull(w, "p_value", t.PValue);
        w.WriteEndObject();
    }

    private static void NumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static string Count(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Short(double? value) => value is { } v ? v.ToString("G4", CultureInfo.InvariantCulture) : "-";

    /// <summary>Advances the bar once per finished column (called from the analyzer's worker threads).</summary>
    private sealed class Progress(CliProgress.Bar bar) : IProgress<int>
    {
        public void Report(int value) => bar.Advance(value);
    }
}

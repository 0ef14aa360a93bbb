using System.CommandLine;
using System.Globalization;
using Cairn.ML.Training;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn train --recipe recipe.yaml [--register NAME] [-j N]</c>: train with ML.NET and log the run, the metrics, the plots
/// and the model; a recipe with a <c>sweep:</c> section runs its trials as child runs and keeps the best.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var recipe = new Option<string>("--recipe") { Description = "The training recipe (YAML): task, data, label, features, split or cv, trainer, sweep.", Required = true };
        var register = new Option<string?>("--register") { Description = "Register the model (the best trial's, for a sweep) under this name as a new version." };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Sweep trials to train at the same time.", DefaultValueFactory = _ => 1 };
        jobs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("-j/--jobs must be 1 or more.");
        });
        var command = new Command("train", "Train a model from a recipe (or sweep its hyperparameters), evaluate it and log it to a run.")
        {
            recipe, register, jobs, trackingUri, json,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            // Read and check the recipe before opening the store, so a typo costs nothing.
            var loaded = Recipe.Load(ctx.FullPath(parse.GetValue(recipe)!));
            // The data loads while the store opens: neither needs the other.
            var data = Task.Run(() => TrainingData.Load(loaded), cancellationToken);
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var asJson = parse.GetValue(json);
            var options = new TrainOptions { RegisterAs = parse.GetValue(register), Parallelism = parse.GetValue(jobs), Data = data };
            if (loaded.Sweep is null)
            {
                var result = await WithProgress(ctx, asJson, options, o => Trainer.RunAsync(loaded, client, o, cancellationToken));
                PrintTraining(ctx, asJson, result);
            }
            else
            {
                var result = await WithProgress(ctx, asJson, options, o => Sweep.RunAsync(loaded, client, o, cancellationToken));
                PrintSweep(ctx, asJson, result);
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Runs <paramref name="body"/> under a live progress bar when the terminal is interactive (and the output is not JSON);
    /// otherwise writes one line per finished step or trial to stderr, which is what CI logs and pipes should see.
    /// </summary>
    private static async Task<T> WithProgress<T>(CliContext ctx, bool json, TrainOptions options, Func<TrainOptions, Task<T>> body)
    {
        if (!json && ctx.Console.Profile.Capabilities.Interactive)
        {
            return await ctx.Console.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask("training", maxValue: 1);
                    return await body(options with
                    {
                        Progress = new Reporter(p =>
                        {
                            task.MaxValue = Math.Max(1, p.Total);
                            task.Value = p.Completed;
                            task.Description = Markup.Escape(Headline(p));
                        }),
                    });
                });
        }
        return await body(options with
        {
            Progress = new Reporter(p =>
            {
                if (p.Trial is not null || p.Stage is not ("done")) ctx.Error.WriteLine(Describe(p));
            }),
        });
    }

    /// <summary>The live bar's text: the step, or for a sweep the trials done and the best so far.</summary>
    internal static string Headline(TrainingProgress p) =>
        p.Best is { } best && p.Metric is { } metric && best.Metrics.TryGetValue(metric, out var value)
            ? $"trials {p.Completed}/{p.Total}, best {metric} {value.ToString("0.####", CultureInfo.InvariantCulture)} (trial {best.Number})"
            : p.Stage;

    /// <summary>One line: the step, or for a sweep the trial count, the trial that ended and the best so far.</summary>
    internal static string Describe(TrainingProgress p)
    {
        if (p.Trial is not { } trial) return p.Best is { } b ? $"{p.Stage} (best: trial {b.Number})" : $"[{p.Completed}/{p.Total}] {p.Stage}";
        var outcome = trial.Status == Cairn.Tracking.RunStatus.FINISHED
            ? string.Join(", ", trial.Metrics.Take(3).Select(m => $"{m.Key} {m.Value.ToString("0.####", CultureInfo.InvariantCulture)}"))
            : $"FAILED: {trial.Error}";
        var best = p.Best is { } top ? $"; best so far: trial {top.Number}" : "";
        return $"[{p.Completed}/{p.Total}] trial {trial.Number} ({Settings(trial.Settings)}) {trial.Duration.TotalSeconds:0.0} s: {outcome}{best}";
    }

    private static string Settings(TrialSettings settings) =>
        string.Join(" ", new[] { settings.Trainer }.Concat(settings.Hyperparameters.Select(h => $"{h.Key}={h.Value.ToString("G", CultureInfo.InvariantCulture)}")));

    private static void PrintTraining(CliContext ctx, bool json, TrainResult result)
    {
        if (json)
        {
            WriteJson(ctx, w =>
            {
                w.WriteStartObject();
                w.WriteString("run_id", result.RunId);
                w.WriteString("model_uri", result.ModelUri);
                WriteMetrics(w, "metrics", result.Metrics);
                WriteVersion(w, result.Version);
                w.WriteEndObject();
            });
            return;
        }
        var table = new Table().AddColumns("Metric", "Value");
        foreach (var (key, value) in result.Metrics) table.AddRow(key, Number(value));
        ctx.Console.Write(table);
        ctx.Out.WriteLine($"Run {result.RunId}: model logged as {result.ModelUri}");
        if (result.Version is { } version) ctx.Out.WriteLine($"Registered {version.Name} version {version.Version}.");
    }

    private static void PrintSweep(CliContext ctx, bool json, SweepResult result)
    {
        var ranked = result.Trials.Where(t => t.Status == Cairn.Tracking.RunStatus.FINISHED)
            .OrderBy(t => t.Metrics.TryGetValue(result.Metric, out var v) && !double.IsNaN(v) ? (result.Maximize ? -v : v) : double.PositiveInfinity)
            .ThenBy(t => t.Number)
            .Concat(result.Trials.Where(t => t.Status != Cairn.Tracking.RunStatus.FINISHED))
            .ToList();
        if (json)
        {
            WriteJson(ctx, w =>
            {
                w.WriteStartObject();
                w.WriteString("parent_run_id", result.ParentRunId);
                w.WriteString("best_run_id", result.Best.RunId);
                w.WriteNumber("best_trial", result.Best.Number);
                w.WriteString("metric", result.Metric);
                w.WriteString("goal", result.Maximize ? "maximize" : "minimize");
                w.WriteString("model_uri", result.ModelUri);
                WriteMetrics(w, "metrics", result.Best.Metrics);
                w.WriteNumber("trials_skipped", result.Skipped);
                w.WriteStartArray("trials");
                foreach (var t in ranked)
                {
                    w.WriteStartObject();
                    w.WriteNumber("trial", t.Number);
                    w.WriteString("run_id", t.RunId);
                    w.WriteString("status", t.Status.ToString());
                    w.WriteString("trainer", t.Settings.Trainer);
                    WriteMetrics(w, "hyperparameters", t.Settings.Hyperparameters);
                    WriteMetrics(w, "metrics", t.Metrics);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                WriteVersion(w, result.Version);
                w.WriteEndObject();
            });
            return;
        }
        var swept = result.Trials.SelectMany(t => t.Settings.Hyperparameters.Keys).Distinct()
            .Where(k => result.Trials.Select(t => t.Settings.Hyperparameters.GetValueOrDefault(k)).Distinct().Count() > 1).ToList();
        var table = new Table().Title($"{result.Trials.Count} trials, best first by {result.Metric} ({(result.Maximize ? "maximize" : "minimize")})")
            .AddColumns(["", "trial", "trainer", .. swept, result.Metric, "status", "run"]);
        foreach (var t in ranked)
        {
            var metric = t.Metrics.TryGetValue(result.Metric, out var v) ? v.ToString("0.####", CultureInfo.InvariantCulture) : "-";
            table.AddRow([t.Number == result.Best.Number ? "*" : "", t.Number.ToString(CultureInfo.InvariantCulture), t.Settings.Trainer,
                .. swept.Select(k => t.Settings.Hyperparameters.TryGetValue(k, out var h) ? h.ToString("G", CultureInfo.InvariantCulture) : "-"),
                metric, t.Status.ToString(), t.RunId]);
        }
        ctx.Console.Write(table);
        if (result.StoppedByTimeBudget) ctx.Out.WriteLine($"The time budget ran out: {result.Skipped} trial(s) did not start.");
        ctx.Out.WriteLine($"Best: trial {result.Best.Number} (run {result.Best.RunId}). Sweep run {result.ParentRunId}: model logged as {result.ModelUri}");
        if (result.Version is { } version) ctx.Out.WriteLine($"Registered {version.Name} version {version.Version}.");
    }

    private static void WriteMetrics(System.Text.Json.Utf8JsonWriter w, string name, IReadOnlyDictionary<string, double> values)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in values)
        {
            if (double.IsFinite(value)) w.WriteNumber(key, value);
            else w.WriteString(key, value.ToString(CultureInfo.InvariantCulture));
        }
        w.WriteEndObject();
    }

    private static void WriteVersion(System.Text.Json.Utf8JsonWriter w, Cairn.Registry.ModelVersion? version)
    {
        if (version is null) return;
        w.WriteString("registered_model", version.Name);
        w.WriteString("version", version.Version);
    }

    /// <summary>Reports synchronously on the reporting thread (<see cref="Progress{T}"/> would post, and could print after the result).</summary>
    private sealed class Reporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        private readonly Lock _gate = new();

        public void Report(TrainingProgress value)
        {
            lock (_gate) report(value);
        }
    }
}

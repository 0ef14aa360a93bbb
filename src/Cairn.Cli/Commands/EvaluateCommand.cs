using System.CommandLine;
using Cairn.ML.Evaluation;
using Cairn.ML.Training;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn evaluate --model URI --data test.csv --require "accuracy >= 0.85"</c>: score, log an evaluation run, gate.</summary>
internal static class EvaluateCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var model = new Option<string>("--model") { Description = "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/<run_id>/model or a model folder.", Required = true };
        var data = new Option<string>("--data") { Description = "A labelled CSV or Parquet file.", Required = true };
        var require = new Option<string[]>("--require") { Description = "A gate such as \"accuracy >= 0.85\" (repeatable); a failed gate exits with code 6." };
        var experiment = new Option<string>("--experiment") { Description = "The experiment of the evaluation run.", DefaultValueFactory = _ => "Default" };
        var task = new Option<string?>("--task") { Description = "binary, multiclass or regression, for a model that does not record it." };
        task.AcceptOnlyFromAmong("binary", "multiclass", "regression");
        var label = new Option<string?>("--label") { Description = "The label column, for a model that does not record it." };
        var command = new Command("evaluate", "Score a model on labelled data, log an evaluation run and check requirements.")
        {
            model, data, require, experiment, task, label, trackingUri, json,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            // Requirements are checked for syntax before the model, the data or the store is opened.
            foreach (var requirement in parse.GetValue(require) ?? []) _ = Requirement.Parse(requirement);
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var result = await Evaluator.RunAsync(ModelArgument(ctx, parse.GetValue(model)!), ctx.FullPath(parse.GetValue(data)!), client, new EvaluationOptions
            {
                Experiment = parse.GetValue(experiment)!,
                Task = parse.GetValue(task) is { } t ? Enum.Parse<MlTask>(t, ignoreCase: true) : null,
                Label = parse.GetValue(label),
                Requirements = parse.GetValue(require) ?? [],
            }, cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("run_id", result.RunId);
                    w.WriteBoolean("passed", result.Passed);
                    w.WriteStartObject("metrics");
                    // JSON has no NaN or infinity: a metric the rows cannot give is null, not a made-up number.
                    foreach (var (key, value) in result.Metrics) WriteNumberOrNull(w, key, value);
                    w.WriteEndObject();
                    w.WriteStartArray("requirements");
                    foreach (var r in result.Requirements)
                    {
                        w.WriteStartObject();
                        w.WriteString("requirement", r.Requirement.Text);
                        WriteNumberOrNull(w, "value", r.Value);
                        w.WriteBoolean("passed", r.Passed);
                        if (r.Reason is { } reason) w.WriteString("reason", reason);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            }
            else
            {
                var table = new Table().AddColumns("Metric", "Value");
                foreach (var (key, value) in result.Metrics) table.AddRow(key, Number(value));
                ctx.Console.Write(table);
                ctx.Out.WriteLine($"Evaluation run {result.RunId}.");
            }
            if (result.Requirements.FirstOrDefault(r => !r.Passed) is { } failed)
            {
                throw new GateFailedException($"requirement '{failed.Requirement.Text}' failed: {failed.Reason ?? $"{failed.Requirement.Metric} = {Number(failed.Value)}"}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>A model folder resolves against the command's folder (-C); models:/ and runs:/ URIs stay as they are.</summary>
    private static string ModelArgument(CliContext ctx, string model) =>
        model.Contains(":/", StringComparison.Ordinal) ? model : ctx.FullPath(model);

    private static void WriteNumberOrNull(System.Text.Json.Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumber(name, value);
        else writer.WriteNull(name);
    }
}

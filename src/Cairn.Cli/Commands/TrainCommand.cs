using System.CommandLine;
using Cairn.ML.Training;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn train --recipe recipe.yaml [--register NAME]</c>: train with ML.NET and log the run, the metrics, the plots and the model.</summary>
internal static class TrainCommand
{
    public static Command Create(CliIO io)
    {
        var trackingUri = TrackingUriOption(io);
        var json = JsonOption();
        var recipe = new Option<string>("--recipe") { Description = "The training recipe (YAML): task, data, label, features, split or cv, trainer.", Required = true };
        var register = new Option<string?>("--register") { Description = "Register the model under this name (created when missing) as a new version." };
        var command = new Command("train", "Train a model from a recipe, evaluate it and log it to a run (optionally registering it).") { recipe, register, trackingUri, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // Read and check the recipe before opening the store, so a typo costs nothing.
            var loaded = Recipe.Load(parse.GetValue(recipe)!);
            using var client = await OpenAsync(parse, trackingUri, cancellationToken);
            var result = await Trainer.RunAsync(loaded, client, parse.GetValue(register), cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(io, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("run_id", result.RunId);
                    w.WriteString("model_uri", result.ModelUri);
                    w.WriteStartObject("metrics");
                    foreach (var (key, value) in result.Metrics) w.WriteNumber(key, value);
                    w.WriteEndObject();
                    if (result.Version is { } v)
                    {
                        w.WriteString("registered_model", v.Name);
                        w.WriteString("version", v.Version);
                    }
                    w.WriteEndObject();
                });
                return 0;
            }
            var table = new Table().AddColumns("Metric", "Value");
            foreach (var (key, value) in result.Metrics) table.AddRow(key, Number(value));
            io.Console.Write(table);
            io.Out.WriteLine($"Run {result.RunId}: model logged as {result.ModelUri}");
            if (result.Version is { } version) io.Out.WriteLine($"Registered {version.Name} version {version.Version}.");
            return 0;
        });
        return command;
    }
}

using System.CommandLine;
using Cairn.ML.Evaluation;
using Cairn.ML.Models;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn predict --model models:/churn@champion --input data.csv --output predictions.parquet</c>: batch scoring without
/// a server, as <c>mlflow models predict</c> does; streams any file size in batches, with a progress bar in a terminal.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var model = new Option<string>("--model") { Description = "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/<run_id>/model or a model folder.", Required = true };
        var input = new Option<string>("--input") { Description = "The rows to score: a .csv or .parquet file.", Required = true };
        var output = new Option<string>("--output") { Description = "Where the input's columns and the predictions go: a .csv or .parquet file.", Required = true };
        var flavor = new Option<string?>("--flavor") { Description = "mlnet or onnx, for a package that holds both." };
        flavor.AcceptOnlyFromAmong("mlnet", "onnx");
        var batchSize = new Option<int>("--batch-size") { Description = "Rows scored at a time (memory grows with it, not with the file).", DefaultValueFactory = _ => 10_000 };
        var command = new Command("predict", "Score a CSV or Parquet file with a model and write the predictions (CSV or Parquet), in batches.")
        {
            model, input, output, flavor, batchSize, trackingUri,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var modelArgument = parse.GetValue(model)!;
            var inputPath = ctx.FullPath(parse.GetValue(input)!);
            var outputPath = ctx.FullPath(parse.GetValue(output)!);
            var result = await CliProgress.RunAsync(ctx, "Scoring " + Path.GetFileName(inputPath), async bar =>
            {
                long done = 0;
                var options = new BatchScoringOptions
                {
                    BatchSize = parse.GetValue(batchSize),
                    Flavor = parse.GetValue(flavor),
                    TotalRows = total => bar?.Start(total),
                    Progress = new RowProgress(rows =>
                    {
                        done += rows;
                        bar?.Advance(rows);
                        bar?.Describe($"Scoring {Path.GetFileName(inputPath)}: {done:N0} rows");
                    }),
                };
                if (modelArgument.Contains(":/", StringComparison.Ordinal))
                {
                    using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
                    return await BatchScoring.PredictAsync(modelArgument, inputPath, outputPath, client, options, cancellationToken);
                }
                // A folder needs no tracking store.
                var folder = ctx.FullPath(modelArgument);
                if (!Directory.Exists(folder)) throw new ResourceDoesNotExistException($"Model folder '{folder}' does not exist.");
                using var package = ModelPackage.Load(folder, options.Flavor);
                return await BatchScoring.PredictAsync(package.Predictor, inputPath, outputPath, options, cancellationToken);
            });
            ctx.Out.WriteLine($"Scored {result.Rows:N0} rows in {result.Batches} batches into {parse.GetValue(output)} (prediction columns: {string.Join(", ", result.PredictionColumns)}).");
            return 0;
        });
        return command;
    }

    /// <summary>Reports on the scoring thread (<see cref="Progress{T}"/> would post to the thread pool and could lag).</summary>
    private sealed class RowProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}

using System.Diagnostics;
using System.Globalization;
using Cairn.Monitoring;
using Cairn.Serving;
using Cairn.Storage;

namespace Cairn.Bench;

/// <summary>
/// One monitoring window: N logged predictions (20 float features, a bool label, a float score and probability) over one
/// hour in a fresh SQLite prediction log, ground truth for a tenth of them, and a reference of N rows of the same 20 features
/// (every other feature shifted, so half drift). Times, per trial: the window's read (<see cref="WindowEvaluator.ReadAsync"/>:
/// rows decoded and grouped, ground truth joined) and its scoring (<see cref="WindowEvaluator.Compute"/>: drift of 20 features
/// and the prediction, performance), and as the reference of the same run the bare prediction-log read of the same rows
/// (<see cref="SqlPredictionStore.ReadAsync"/>, every column decoded). Medians of the trials.
/// </summary>
internal static class MonitorBench
{
    private const int Features = 20;

    private const int RequestRows = 100;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var rows = options.Rows;
        Console.WriteLine($"# Cairn monitor window benchmark (SQLite, {Environment.ProcessorCount} cores, {rows:N0} rows x {Features} features over one hour, "
            + $"{options.Trials} trials, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        var folder = Path.Combine(options.Work, "monitor");
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        using var stores = await CairnStores.OpenAsync(folder, new CairnStoreOptions { DefaultArtifactRoot = Path.Combine(folder, "artifacts") });
        var t0 = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        await LogAsync(stores, rows, t0);
        var reference = Reference(rows);
        var model = new MonitorModel("binary", "label", null, new Dictionary<string, double>(), reference);
        var models = new Dictionary<(string?, string?), MonitorModel> { [("churn", "1")] = model };
        var evaluator = new WindowEvaluator(stores.Predictions!);

        var (read, score, total, bare) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var trial = 0; trial < options.Trials; trial++)
        {
            var clock = Stopwatch.StartNew();
            long bareRows = 0;
            await foreach (var part in stores.Predictions!.ReadAsync("bench", null, t0, t0.AddHours(1), pageRows: 100_000)) bareRows += part.Count;
            bare.Add(clock.Elapsed.TotalSeconds);

            clock.Restart();
            var window = await evaluator.ReadAsync("bench", t0, t0.AddHours(1));
            var readSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var result = WindowEvaluator.Compute(window, new MonitorSettings(), models, 0, DateTimeOffset.UtcNow).Single();
            var scoreSeconds = clock.Elapsed.TotalSeconds;
            if (result.Rows != rows || bareRows != rows) throw new InvalidOperationException($"read {result.Rows} and {bareRows} rows of {rows}");
            if (result.InputDrift!.Features.Count(f => f.Drifted) != Features / 2) throw new InvalidOperationException("expected half the features to drift");
            if (result.LabeledRows != rows / 10 || !result.Performance.ContainsKey("auc")) throw new InvalidOperationException("performance missing");
            read.Add(readSeconds);
            score.Add(scoreSeconds);
            total.Add(readSeconds + scoreSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"trial {trial + 1}: read {readSeconds:0.000} s, score {scoreSeconds:0.000} s, total {readSeconds + scoreSeconds:0.000} s; bare log read {bare[^1]:0.000} s"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median: window read {Median(read):0.000} s + score {Median(score):0.000} s = {Median(total):0.000} s (min {total.Min():0.000}); "
            + $"reference: bare prediction-log read of the same rows {Median(bare):0.000} s"));
        return 0;
    }

    private static async Task LogAsync(CairnStores stores, int rows, DateTimeOffset t0)
    {
        var random = new Random(1);
        var requests = rows / RequestRows;
        var step = 3_600_000.0 / requests;
        var batches = new List<PredictionBatch>(requests);
        for (var i = 0; i < requests; i++)
        {
            var inputs = Enumerable.Range(0, Features).Select(f => new KeyValuePair<string, Array>($"f{f}",
                Enumerable.Range(0, RequestRows).Select(_ => (float)(random.NextDouble() + (f % 2 == 0 ? 0.5 : 0))).ToArray())).ToList();
            var scores = Enumerable.Range(0, RequestRows).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            batches.Add(new PredictionBatch($"req-{i}", "bench", "churn", "1", t0.AddMilliseconds(i * step), 0.4, RequestRows, inputs,
            [
                new("PredictedLabel", scores.Select(s => s > 0).ToArray()),
                new("Score", scores),
                new("Probability", scores.Select(s => (float)(1 / (1 + Math.Exp(-s)))).ToArray()),
            ]));
        }
        await stores.Predictions!.AppendAsync(batches);
        // Ground truth for every tenth request.
        for (var i = 0; i < requests; i += 10)
            await stores.Predictions.RecordFeedbackAsync("bench", $"req-{i}", null, Enumerable.Range(0, RequestRows).Select(r => r % 3 == 0 ? "true" : "false").ToList());
    }

    /// <summary>The training data's 20 features in [0, 1) and its label; the logged even features are shifted by 0.5.</summary>
    private static MonitorReference Reference(int rows)
    {
        var random = new Random(2);
        var columns = new Dictionary<string, Array>(StringComparer.Ordinal);
        for (var f = 0; f < Features; f++) columns[$"f{f}"] = Enumerable.Range(0, rows).Select(_ => random.NextDouble()).ToArray();
        columns["label"] = Enumerable.Range(0, rows).Select(r => (string?)(r % 2 == 0 ? "1" : "0")).ToArray();
        return new MonitorReference("reference", columns);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

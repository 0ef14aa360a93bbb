using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Server.Scoring;

namespace Cairn.Bench;

/// <summary>
/// Where a scoring request's time goes, in-process and without HTTP, on the serve bench's model (FastTree, 20 float
/// columns): the JSON document, the typed columns, the prediction (tree walk and ML.NET's row engines side by side) and
/// the answer's JSON, for a 10,000-row and a 1-row <c>dataframe_split</c> body; then single-row requests from 32
/// concurrent callers scored one by one against micro-batched, for that model and for an ONNX graph of the same width. Each figure is the median of the trials.
/// </summary>
internal static class ServeProfileBench
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var work = Path.Combine(options.Work, "serve-profile");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        Console.WriteLine($"# scoring profile ({Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()})");
        var folder = ServeModels.TrainFastTree(Path.Combine(work, "model"), ServeModels.Rows(options.Rows));
        using var model = ServedModel.Load(folder, "bench", null, folder);
        var predictor = (MlNetPredictor)model.Predictor;
        Console.WriteLine($"tree walk: {(predictor.Trees is { } trees ? trees.Direct ? "yes, straight from the columns" : "yes, through the chain's featurization" : "no")}");

        Console.WriteLine();
        Console.WriteLine("| stage (median of " + options.Trials + " trials) | 10,000 rows | per row | 1 row |");
        Console.WriteLine("|---|---|---|---|");
        var big = Stages(model, predictor, Encoding.UTF8.GetBytes(ServeModels.Body(new Random(1), 10_000)), options.Trials, repeat: 10);
        var one = Stages(model, predictor, Encoding.UTF8.GetBytes(ServeModels.Body(new Random(2), 1)), options.Trials, repeat: 20_000);
        foreach (var (name, ms) in big)
            Console.WriteLine($"| {name} | {ms:0.00} ms | {ms * 1000 / 10_000:0.000} µs | {one[name] * 1000:0.0} µs |");

        Console.WriteLine();
        var seconds = Math.Max(1, options.Seconds);
        var rows = Enumerable.Range(0, 64).Select(i => ScoringRequestParser.ParseJson(JsonDocument.Parse(ServeModels.Body(new Random(100 + i), 1)).RootElement, model).Batch).ToArray();
        // An ONNX graph of the same width (20 inputs, a 20x2 MatMul, Add, Softmax): ONNX Runtime's cost per Run call dominates.
        var onnxPath = Path.Combine(work, "model.onnx");
        var random = new Random(4);
        var weights = new float[20, 2];
        for (var i = 0; i < 20; i++) (weights[i, 0], weights[i, 1]) = ((float)random.NextDouble() - 0.5f, (float)random.NextDouble() - 0.5f);
        await File.WriteAllBytesAsync(onnxPath, Cairn.Tests.Models.OnnxFixture.ClassifierModel(weights, [0.1f, -0.1f], "Softmax"));
        using var onnx = new ServedModel(new OnnxPredictor(onnxPath), "onnx", null, onnxPath);
        var tensors = rows.Select(row => new ColumnBatch().Add("X", new[] { Enumerable.Range(0, 20).Select(f => ((float[])row[$"f{f}"])[0]).ToArray() })).ToArray();
        Console.WriteLine($"| single-row scoring, 32 callers, {seconds:0} s trials (median of {options.Trials}) | ML.NET FastTree rows/s | ONNX rows/s |");
        Console.WriteLine("|---|---|---|");
        foreach (var max in new[] { 0, 16, 64 })
        {
            var rates = new List<double>();
            var onnxRates = new List<double>();
            for (var trial = 0; trial < options.Trials; trial++)
            {
                rates.Add(await CallersAsync(model, max == 0 ? null : new MicroBatcher(model.Predict, max, TimeSpan.Zero, 4096), rows, 32, seconds));
                onnxRates.Add(await CallersAsync(onnx, max == 0 ? null : new MicroBatcher(onnx.Predict, max, TimeSpan.Zero, 4096), tensors, 32, seconds));
            }
            Console.WriteLine($"| {(max == 0 ? "one by one" : $"micro-batched, up to {max} rows, no wait")} | {Median(rates):N0} | {Median(onnxRates):N0} |");
        }
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    /// <summary>Median milliseconds per call of each stage over <paramref name="repeat"/> calls, per trial.</summary>
    private static Dictionary<string, double> Stages(ServedModel model, MlNetPredictor predictor, byte[] body, int trials, int repeat)
    {
        using var document = JsonDocument.Parse(body);
        var (batch, shape) = ScoringRequestParser.ParseJson(document.RootElement, model);
        var output = model.Predict(batch);
        var buffer = new ArrayBufferWriter<byte>();
        var stages = new (string Name, Action Run)[]
        {
            ("JSON document (JsonDocument.Parse)", () => JsonDocument.Parse(body).Dispose()),
            ("typed columns (ScoringRequestParser)", () => ScoringRequestParser.ParseJson(document.RootElement, model)),
            ("predict: tree walk", () => model.Predict(batch)),
            ("predict: ML.NET row engines (before)", () => predictor.PredictWithMlNet(batch)),
            ("answer JSON (WritePredictions)", () => { buffer.ResetWrittenCount(); ScoringService.WritePredictions(buffer, model, output, shape); }),
            ("whole request, tree walk", () =>
            {
                using var parsed = JsonDocument.Parse(body);
                var input = ScoringRequestParser.ParseJson(parsed.RootElement, model);
                buffer.ResetWrittenCount();
                ScoringService.WritePredictions(buffer, model, model.Predict(input.Batch), input.Shape);
            }),
        };
        var result = new Dictionary<string, double>();
        foreach (var (name, run) in stages)
        {
            for (var i = 0; i < Math.Min(repeat, 50); i++) run();
            var times = new List<double>();
            for (var trial = 0; trial < trials; trial++)
            {
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < repeat; i++) run();
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / repeat);
            }
            result[name] = Median(times);
        }
        return result;
    }

    /// <summary>Rows per second scored by <paramref name="callers"/> concurrent loops of single-row calls.</summary>
    private static async Task<double> CallersAsync(ServedModel model, MicroBatcher? batcher, ColumnBatch[] rows, int callers, double seconds)
    {
        long done = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            var i = c;
            while (!stop.IsCancellationRequested)
            {
                var row = rows[i++ % rows.Length];
                if (batcher is null) model.Predict(row);
                else await batcher.ScoreAsync(row);
                Interlocked.Increment(ref done);
            }
        })));
        return done / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}

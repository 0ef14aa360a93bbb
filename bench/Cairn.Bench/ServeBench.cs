using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cairn.ML.Models;
using Microsoft.ML;

namespace Cairn.Bench;

/// <summary>
/// `cairn serve` under wrk: a FastTree binary classifier on 20 features trained on generated rows (ML.NET directly),
/// served by the built `cairn serve`; single-row POST /invocations at 32 connections against GET /ping at 32 connections
/// (the same server, alternating trials), and 10,000-row batches. Figures are medians of the trials; wrk shares the cores.
/// </summary>
internal static class ServeBench
{
    private const int Features = 20;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var work = Path.Combine(options.Work, "serve");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        var seconds = Math.Max(3, (int)options.Seconds);
        Console.WriteLine($"# cairn serve benchmark ({Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()})");

        var clock = Stopwatch.StartNew();
        var folder = Train(Path.Combine(work, "model"), options.Rows);
        Console.WriteLine($"trained FastTree on {options.Rows:N0} rows x {Features} features in {clock.Elapsed.TotalSeconds:0.0} s");

        await using var server = await ServerProcess.StartCommandAsync(options.Cli, ["serve", folder], "ping");
        var url = server.BaseAddress.ToString().TrimEnd('/');
        var random = new Random(1);
        var single = Script(Path.Combine(work, "single.lua"), Body(random, 1));
        var batch = Script(Path.Combine(work, "batch.lua"), Body(random, 10_000));

        // Warm-up: JIT, tiering, engine pools.
        await WrkAsync(url + "/invocations", single, 32, 3);
        await WrkAsync(url + "/ping", null, 32, 3);
        await WrkAsync(url + "/invocations", batch, 4, 3);

        var rows = new List<(double Rps, double P99)>();
        var ping = new List<(double Rps, double P99)>();
        var batches = new List<double>();
        for (var trial = 0; trial < options.Trials; trial++)
        {
            rows.Add(await WrkAsync(url + "/invocations", single, 32, seconds));
            ping.Add(await WrkAsync(url + "/ping", null, 32, seconds));
            batches.Add((await WrkAsync(url + "/invocations", batch, 4, seconds)).Rps * 10_000);
            Console.WriteLine($"trial {trial + 1}: single-row {rows[^1].Rps:N0} req/s p99 {rows[^1].P99:0.00} ms; /ping {ping[^1].Rps:N0} req/s p99 {ping[^1].P99:0.00} ms; 10k-row batches {batches[^1]:N0} rows/s");
        }
        double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
        var (rowsRps, rowsP99, pingRps, pingP99) = (Median(rows.Select(r => r.Rps)), Median(rows.Select(r => r.P99)), Median(ping.Select(r => r.Rps)), Median(ping.Select(r => r.P99)));
        Console.WriteLine();
        Console.WriteLine("| measure (median of " + options.Trials + " trials) | value | target |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| single-row /invocations, 32 connections | {rowsRps:N0} req/s, p99 {rowsP99:0.00} ms | >= 15,000 req/s |");
        Console.WriteLine($"| GET /ping, 32 connections (same server) | {pingRps:N0} req/s, p99 {pingP99:0.00} ms | |");
        Console.WriteLine($"| single-row p99 / ping p99 | {rowsP99 / pingP99:0.00} | <= 2 |");
        Console.WriteLine($"| 10,000-row batches, 4 connections | {Median(batches):N0} rows/s | >= 1,000,000 rows/s |");
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    internal static string Train(string folder, int rows)
    {
        var random = new Random(42);
        var weights = Enumerable.Range(0, Features).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var fields = Enumerable.Range(0, Features).Select(f => typeof(WideRow).GetField($"f{f}")!).ToArray();
        var data = new List<WideRow>(rows);
        for (var r = 0; r < rows; r++)
        {
            var row = new WideRow();
            var sum = 0.0;
            for (var f = 0; f < Features; f++)
            {
                var v = (float)(random.NextDouble() * 2 - 1);
                fields[f].SetValue(row, v);
                sum += v * weights[f];
            }
            row.Label = sum + (random.NextDouble() - 0.5) * 0.5 > 0;
            data.Add(row);
        }
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromEnumerable(data);
        // One float column per feature, as a CSV or a dataframe has them; the chain concatenates them.
        var pipeline = ml.Transforms.Concatenate("Features", Enumerable.Range(0, Features).Select(f => $"f{f}").ToArray())
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 20, numberOfTrees: 100));
        var model = pipeline.Fit(view);
        ModelPackage.SaveMlNet(folder, ml, model, view.Schema, Enumerable.Range(0, Features).Select(f => new ColumnSpec($"f{f}", "float")).ToList());
        return folder;
    }

#pragma warning disable CS0649 // set by reflection
    private sealed class WideRow
    {
        public float f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19;
        public bool Label;
    }
#pragma warning restore CS0649

    internal static string Body(Random random, int rows)
    {
        var text = new StringBuilder("{\"dataframe_split\":{\"columns\":[");
        text.AppendJoin(',', Enumerable.Range(0, Features).Select(f => $"\"f{f}\""));
        text.Append("],\"data\":[");
        for (var r = 0; r < rows; r++)
        {
            if (r > 0) text.Append(',');
            text.Append('[');
            text.AppendJoin(',', Enumerable.Range(0, Features).Select(_ => (random.NextDouble() * 2 - 1).ToString("0.####", CultureInfo.InvariantCulture)));
            text.Append(']');
        }
        return text.Append("]}}").ToString();
    }

    private static string Script(string path, string body)
    {
        File.WriteAllText(path, $"wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n");
        return path;
    }

    /// <summary>Runs wrk (2 threads) and returns requests/s and the 99th percentile latency in ms.</summary>
    private static async Task<(double Rps, double P99)> WrkAsync(string url, string? script, int connections, int seconds)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-t2", $"-c{connections}", $"-d{seconds}s", "--latency" }) start.ArgumentList.Add(arg);
        if (script is not null)
        {
            start.ArgumentList.Add("-s");
            start.ArgumentList.Add(script);
        }
        start.ArgumentList.Add(url);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var lines = output.Split('\n');
        if (lines.FirstOrDefault(l => l.Contains("Non-2xx", StringComparison.Ordinal)) is { } failures)
            throw new InvalidOperationException($"wrk saw failed requests on {url}: {failures.Trim()}");
        var rps = double.Parse(lines.First(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal)).Split(':')[1].Trim(), CultureInfo.InvariantCulture);
        var p99 = Milliseconds(lines.First(l => l.TrimStart().StartsWith("99%", StringComparison.Ordinal)).Trim()[3..].Trim());
        return (rps, p99);
    }

    private static double Milliseconds(string text)
    {
        var unit = text.EndsWith("us", StringComparison.Ordinal) ? 0.001 : text.EndsWith("ms", StringComparison.Ordinal) ? 1 : text.EndsWith('s') ? 1000 : 1;
        return double.Parse(text.TrimEnd('u', 'm', 's'), CultureInfo.InvariantCulture) * unit;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}

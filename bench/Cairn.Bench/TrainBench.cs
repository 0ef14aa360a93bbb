using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Cairn.Bench;

/// <summary>
/// Training overhead and model quality: <c>cairn train</c> (the CLI process on an embedded store, as a user runs it) against a
/// bare ML.NET program (bench/Cairn.Bench.BareMlNet) doing the same training on the same split of the same file,
/// 100,000 rows (--rows) x 20 features, FastTree and LightGbm. The bare program runs twice, with the runtime's defaults and with the
/// setting cairn's runtimeconfig changes (QuickJitForLoops off), so the overhead is shown against both. The programs
/// rotate, so machine load hits all alike; medians. Pass <c>--cli</c> and <c>--bare</c> to time published builds, and
/// <c>--baseline</c> (another cairn build, e.g. of the commit before a change) to time it in the same rotation.
/// </summary>
internal static class TrainBench
{
    private const int Features = 20;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = ServerProcess.RepoRoot();
        var cli = options.Cli ?? Path.Combine(root, "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        var bare = options.Bare ?? Path.Combine(root, "bench", "Cairn.Bench.BareMlNet", "bin", "Release", "net10.0", "Cairn.Bench.BareMlNet.dll");
        foreach (var program in new[] { cli, bare })
            if (!File.Exists(program)) throw new FileNotFoundException($"{program} not found: build it with -c Release first (or publish it and pass --cli/--bare).");
        var work = Path.Combine(options.Work, "train");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        var data = Path.Combine(work, "data.csv");
        var rows = options.Rows;
        Generate(data, rows);
        Console.WriteLine($"# Training benchmark ({rows:N0} rows x {Features} features, {new FileInfo(data).Length / 1e6:F1} MB CSV, {Environment.ProcessorCount} cores, " +
            $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {Load()})");
        Console.WriteLine($"cairn: {cli}");
        Console.WriteLine($"bare:  {bare}");

        var reps = options.Trials;
        foreach (var trainer in new[] { "fasttree", "lightgbm" })
        {
            var recipe = Path.Combine(work, $"{trainer}.yaml");
            var lean = Path.Combine(work, $"{trainer}-lean.yaml");
            var text = $"experiment: bench\ntask: binary\ndata: data.csv\nlabel: y\nsplit: {{test_fraction: 0.2, seed: 42}}\ntrainer: {trainer}\n";
            File.WriteAllText(recipe, text);
            File.WriteAllText(lean, text + "feature_importance: false\n");
            // bare; bare with the runtime settings cairn's runtimeconfig carries; cairn; cairn without importance; and, with
            // --baseline, another cairn build (the code before a change) on the full recipe, in the same rotation.
            var programs = options.Baseline is null ? 4 : 5;
            var times = Enumerable.Range(0, programs).Select(_ => new List<double>()).ToArray();
            JsonElement cairnMetrics = default, bareMetrics = default, baselineMetrics = default;
            for (var r = 0; r < reps; r++)
            {
                // Rotate which goes first, so load drifts hit all four alike.
                foreach (var which in Enumerable.Range(0, programs).Select(k => (k + r) % programs))
                {
                    if (which < 2)
                    {
                        var settings = which == 0 ? [] : new Dictionary<string, string> { ["DOTNET_TC_QuickJitForLoops"] = "0" };
                        var (seconds, output) = await TimeAsync(work, settings, bare, data, trainer, Path.Combine(work, "bare-model.zip"));
                        times[which].Add(seconds);
                        bareMetrics = JsonDocument.Parse(output).RootElement.Clone();
                        continue;
                    }
                    var home = Path.Combine(work, "home");
                    if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
                    var (cairnSeconds, cairnOutput) = await TimeAsync(work, new Dictionary<string, string> { ["CAIRN_HOME"] = home }, which == 4 ? options.Baseline! : cli,
                        "train", "--recipe", which == 3 ? lean : recipe, "--json");
                    times[which].Add(cairnSeconds);
                    var metrics = JsonDocument.Parse(cairnOutput).RootElement.GetProperty("metrics").Clone();
                    if (which == 4) baselineMetrics = metrics;
                    else cairnMetrics = metrics;
                }
            }
            var bareMedian = Median(times[0]);
            var tunedMedian = Median(times[1]);
            string Runs(List<double> t) => string.Join(", ", t.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)));
            // Each round runs all four back to back, so a round's ratio compares runs under the same load: the median of those
            // ratios is steadier on a shared machine than the ratio of the medians when the load swings between rounds.
            string Paired(List<double> t, List<double> reference) => $"{(Median(t.Select((v, i) => v / reference[i]).ToList()) - 1) * 100:F0}%";
            string Overhead(List<double> t) => $"overhead {(Median(t) / bareMedian - 1) * 100:F0}% (vs the tuned bare program {(Median(t) / tunedMedian - 1) * 100:F0}%); " +
                $"paired by round {Paired(t, times[0])} (vs tuned {Paired(t, times[1])})";
            Console.WriteLine($"## {trainer}");
            Console.WriteLine($"- bare ML.NET program:                  median {bareMedian:F2} s (runs {Runs(times[0])})");
            Console.WriteLine($"- bare, QuickJitForLoops off like cairn: median {tunedMedian:F2} s (runs {Runs(times[1])})");
            Console.WriteLine($"- cairn train:                          median {Median(times[2]):F2} s (runs {Runs(times[2])}), {Overhead(times[2])}");
            Console.WriteLine($"- cairn train, feature_importance off:  median {Median(times[3]):F2} s (runs {Runs(times[3])}), {Overhead(times[3])}");
            double Get(JsonElement e, string key) => e.GetProperty(key).GetDouble();
            if (options.Baseline is not null)
            {
                Console.WriteLine($"- cairn train, baseline build:          median {Median(times[4]):F2} s (runs {Runs(times[4])}); this build against it: " +
                    $"{(Median(times[2]) / Median(times[4]) - 1) * 100:F0}%, paired by round {Paired(times[2], times[4])}");
                Console.WriteLine($"- metrics equal to the baseline build's: {cairnMetrics.GetRawText() == baselineMetrics.GetRawText()}");
            }
            Console.WriteLine($"- accuracy: cairn {Get(cairnMetrics, "accuracy"):F4}, bare {Get(bareMetrics, "accuracy"):F4} " +
                $"(difference {(Get(cairnMetrics, "accuracy") - Get(bareMetrics, "accuracy")) * 100:F2} points; target: within 1)");
            Console.WriteLine($"- auc:      cairn {Get(cairnMetrics, "auc"):F4}, bare {Get(bareMetrics, "auc"):F4}");
        }
        Console.WriteLine($"load at the end: {Load()}");
        return 0;
    }

    /// <summary>A binary label with a nonlinear signal in 8 of the 20 features plus noise; the same file on every run.</summary>
    private static void Generate(string path, int rows)
    {
        var random = new Random(1);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.WriteLine(string.Join(",", Enumerable.Range(0, Features).Select(i => $"f{i}")) + ",y");
        var row = new double[Features];
        var line = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < Features; i++) row[i] = Normal(random);
            var logit = row[0] * row[1] + 2 * Math.Sin(row[2]) + row[3] * row[3] - 1 + 0.8 * row[4] - 0.6 * row[5] + (row[6] > 0.5 ? 1 : 0) - Math.Abs(row[7]) + Normal(random);
            line.Clear();
            foreach (var value in row) line.Append(value.ToString("0.#####", CultureInfo.InvariantCulture)).Append(',');
            line.Append(logit > 0 ? "true" : "false");
            writer.WriteLine(line);
        }
    }

    /// <summary>Runs a program (a <c>.dll</c> through <c>dotnet</c>, anything else as an executable, such as a published apphost).</summary>
    internal static async Task<(double Seconds, string Output)> TimeAsync(string folder, Dictionary<string, string> environment, string program, params string[] args)
    {
        var viaDotnet = program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(viaDotnet ? "dotnet" : program) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        if (viaDotnet) start.ArgumentList.Add(program);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} exited {process.ExitCode}: {await error}");
        return (seconds, (await output).Trim());
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static string Load() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

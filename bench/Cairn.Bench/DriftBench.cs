using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Cairn.Bench;

/// <summary>
/// <c>cairn drift</c> on two generated CSV files of 20 numeric columns x N rows (default 1,000,000): KS, Wasserstein, PSI and
/// JS for every column, reading both files included, timed as a whole process. References in the same run: <c>cat</c> of
/// both files to /dev/null (reading the bytes), <c>sha256sum</c> of both, and, when Debian's python3-scipy and
/// python3-pandas are installed, the same statistics with pandas + SciPy (<c>bench/drift_scipy.py</c>). The split of the work,
/// in this process after a warm-up: reading both files (at the same time, as the command does) and the statistics.
/// </summary>
internal static class DriftBench
{
    private const int Features = 20;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = ServerProcess.RepoRoot();
        var cli = options.Cli ?? Path.Combine(root, "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        if (!File.Exists(cli)) throw new FileNotFoundException($"{cli} not found: build src/Cairn.Cli with -c Release first (or pass --cli).");
        var rows = options.Rows;
        var work = Path.Combine(options.Work, "drift");
        Directory.CreateDirectory(work);
        var reference = Path.Combine(work, $"ref-{rows}.csv");
        var current = Path.Combine(work, $"cur-{rows}.csv");
        if (!File.Exists(reference)) Generate(reference, rows, seed: 1, shift: 0);
        if (!File.Exists(current)) Generate(current, rows, seed: 2, shift: 0.02);
        var megabytes = (new FileInfo(reference).Length + new FileInfo(current).Length) / 1e6;
        Console.WriteLine($"# Drift benchmark ({Features} numeric columns x {rows:N0} rows in each of two CSV files, {megabytes:F0} MB in all, " +
            $"{Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {TrainBench.Load()})");
        var scipyScript = Path.Combine(root, "bench", "drift_scipy.py");
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : null;
        var withScipy = python is not null && await HasScipyAsync(python);

        var names = new List<string> { "cat (read both files)", "sha256sum (both files)", "cairn drift --json", "in process: read both files", "in process: statistics" };
        if (withScipy) names.Add("pandas + SciPy");
        // The in-process split is one slot of the rotation giving two figures (read, then statistics on what was read).
        var slots = names.Count - 1;
        InProcess(reference, current); // warm-up: JIT and the page cache
        var times = names.Select(_ => new List<double>()).ToList();
        string cairnOutput = "", scipyOutput = "";
        // One untimed run first (page cache, JIT of the runtime's own code), then rotated trials.
        await TrainBench.TimeAsync(work, [], "cat", reference, current);
        for (var trial = 0; trial < options.Trials; trial++)
        {
            foreach (var slot in Enumerable.Range(0, slots).Select(k => (k + trial) % slots))
            {
                if (slot == 3)
                {
                    var (read, statistics) = InProcess(reference, current);
                    times[3].Add(read);
                    times[4].Add(statistics);
                    continue;
                }
                var which = slot < 3 ? slot : 5;
                (double Seconds, string Output) run = which switch
                {
                    0 => await TimeShellAsync(work, $"cat '{reference}' '{current}' > /dev/null"),
                    1 => await TrainBench.TimeAsync(work, [], "sha256sum", reference, current),
                    2 => await TrainBench.TimeAsync(work, [], cli, "drift", reference, current, "--json"),
                    _ => await TrainBench.TimeAsync(work, [], python!, scipyScript, reference, current),
                };
                times[which].Add(run.Seconds);
                if (which == 2) cairnOutput = run.Output;
                if (which == 5) scipyOutput = run.Output;
            }
        }
        Console.WriteLine($"| what | median of {options.Trials} (s) | min (s) |");
        Console.WriteLine("|---|---|---|");
        for (var i = 0; i < names.Count; i++)
            Console.WriteLine($"| {names[i]} | {TrainBench.Median(times[i]):F3} | {times[i].Min():F3} |");
        using var report = JsonDocument.Parse(cairnOutput);
        var features = report.RootElement.GetProperty("features");
        Console.WriteLine($"cairn: {features.GetArrayLength()} features, drift_share {report.RootElement.GetProperty("drift_share").GetDouble()}");
        if (withScipy)
        {
            Console.WriteLine($"pandas + SciPy phases: {scipyOutput.Split('\n')[0]}");
            CompareWithScipy(features, scipyOutput);
        }
        return 0;
    }

    /// <summary>The statistics both computed agree (statistic 1e-9 relative, p-value 1e-6): the work timed is the same work.</summary>
    private static void CompareWithScipy(JsonElement features, string scipyOutput)
    {
        using var scipy = JsonDocument.Parse(scipyOutput.Split('\n')[1]);
        var worst = 0.0;
        foreach (var feature in features.EnumerateArray())
        {
            var expected = scipy.RootElement.GetProperty(feature.GetProperty("name").GetString()!);
            foreach (var (name, actual) in new[]
                     {
                         ("ks", feature.GetProperty("ks").GetProperty("statistic").GetDouble()), ("wasserstein", feature.GetProperty("wasserstein").GetDouble()),
                         ("psi", feature.GetProperty("psi").GetDouble()), ("js", feature.GetProperty("js").GetDouble()),
                     })
            {
                var e = expected.GetProperty(name).GetDouble();
                worst = Math.Max(worst, Math.Abs(e - actual) / Math.Max(1, Math.Abs(e)));
            }
            worst = Math.Max(worst, Math.Abs(expected.GetProperty("ks_p").GetDouble() - feature.GetProperty("ks").GetProperty("p_value").GetDouble()) / 1000);
        }
        Console.WriteLine($"largest difference from SciPy (statistics relative, p-values / 1000): {worst:E2}" + (worst <= 1e-9 ? " (within 1e-9)" : " (OUT OF TOLERANCE)"));
    }

    /// <summary>Reads both files at the same time as <c>cairn drift</c> does, then compares every column: the seconds of each part.</summary>
    private static (double Read, double Statistics) InProcess(string reference, string current)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var readReference = Task.Run(() => Cairn.ML.Training.CsvTable.ReadAny(reference, hash: false));
        var readCurrent = Task.Run(() => Cairn.ML.Training.CsvTable.ReadAny(current, hash: false));
        var (r, c) = (readReference.GetAwaiter().GetResult(), readCurrent.GetAwaiter().GetResult());
        var read = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var columns = new List<Cairn.Monitoring.DriftColumn>();
        foreach (var name in r.Names)
        {
            if (!r.TryNumbers(name, out var x, out _) || !c.TryNumbers(name, out var y, out _)) throw new InvalidOperationException($"column {name} is not numeric");
            columns.Add(new Cairn.Monitoring.NumericDriftColumn(name, x, y));
        }
        var report = Cairn.Monitoring.DriftAnalyzer.Compare(columns, new Cairn.Monitoring.DriftOptions());
        var statistics = watch.Elapsed.TotalSeconds;
        if (report.Features.Count != Features) throw new InvalidOperationException($"{report.Features.Count} features compared");
        return (read, statistics);
    }

    private static async Task<bool> HasScipyAsync(string python)
    {
        try
        {
            await TrainBench.TimeAsync(".", [], python, "-c", "import scipy, pandas");
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // no SciPy here: the reference run is optional
        }
    }

    private static Task<(double Seconds, string Output)> TimeShellAsync(string folder, string command) =>
        TrainBench.TimeAsync(folder, [], "/bin/sh", "-c", command);

    /// <summary>Deterministic data: column i is normal with mean i/10 (+ shift) and standard deviation 1 + i/20, five decimals.</summary>
    private static void Generate(string path, int rows, int seed, double shift)
    {
        var random = new Random(seed);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.WriteLine(string.Join(",", Enumerable.Range(0, Features).Select(i => $"f{i}")));
        var line = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            line.Clear();
            for (var i = 0; i < Features; i++)
            {
                if (i > 0) line.Append(',');
                var value = i / 10.0 + shift + (1 + i / 20.0) * Normal(random);
                line.Append(value.ToString("0.#####", CultureInfo.InvariantCulture));
            }
            writer.WriteLine(line);
        }
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Cairn.Bench;

/// <summary>
/// <c>cairn validate</c> of a generated CSV file of N rows (default 1,000,000) x 20 columns against a 40-expectation suite,
/// timed as a whole process, with the command's own split into reading the file and running the checks (its JSON
/// <c>timings</c>). References in the same run: <c>cat</c> of the file to /dev/null and <c>sha256sum</c> of it.
/// </summary>
internal static class ValidateBench
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = ServerProcess.RepoRoot();
        var cli = options.Cli ?? Path.Combine(root, "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        if (!File.Exists(cli)) throw new FileNotFoundException($"{cli} not found: build src/Cairn.Cli with -c Release first (or pass --cli).");
        var rows = options.Rows;
        var work = Path.Combine(options.Work, "validate");
        Directory.CreateDirectory(work);
        var data = Path.Combine(work, $"data-{rows}.csv");
        if (!File.Exists(data)) Generate(data, rows);
        var suite = Path.Combine(work, "suite.yaml");
        File.WriteAllText(suite, Suite(rows));
        Console.WriteLine($"# Validation benchmark (20 columns x {rows:N0} rows, {new FileInfo(data).Length / 1e6:F0} MB, 40 expectations, " +
            $"{Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {TrainBench.Load()})");

        string[] names = ["cat (read the file)", "sha256sum (the file)", "cairn validate --json -"];
        var times = names.Select(_ => new List<double>()).ToList();
        var reads = new List<double>();
        var checks = new List<double>();
        var passed = 0;
        await TrainBench.TimeAsync(work, [], "cat", data); // page cache
        for (var trial = 0; trial < options.Trials; trial++)
        {
            foreach (var which in Enumerable.Range(0, names.Length).Select(k => (k + trial) % names.Length))
            {
                (double Seconds, string Output) run = which switch
                {
                    0 => await TrainBench.TimeAsync(work, [], "/bin/sh", "-c", $"cat '{data}' > /dev/null"),
                    1 => await TrainBench.TimeAsync(work, [], "sha256sum", data),
                    _ => await TrainBench.TimeAsync(work, [], cli, "validate", data, "--suite", suite, "--json", "-"),
                };
                times[which].Add(run.Seconds);
                if (which != 2) continue;
                using var json = JsonDocument.Parse(run.Output);
                var timings = json.RootElement.GetProperty("timings");
                reads.Add(timings.GetProperty("read_seconds").GetDouble());
                checks.Add(timings.GetProperty("check_seconds").GetDouble());
                passed = json.RootElement.GetProperty("statistics").GetProperty("passed").GetInt32();
                if (json.RootElement.GetProperty("statistics").GetProperty("evaluated").GetInt32() != 40)
                    throw new InvalidOperationException("the suite should hold 40 expectations");
            }
        }
        Console.WriteLine($"| what | median of {options.Trials} (s) | min (s) |");
        Console.WriteLine("|---|---|---|");
        for (var i = 0; i < names.Length; i++)
            Console.WriteLine($"| {names[i]} | {TrainBench.Median(times[i]):F3} | {times[i].Min():F3} |");
        Console.WriteLine($"| of which reading the CSV (the command's timing) | {TrainBench.Median(reads):F3} | {reads.Min():F3} |");
        Console.WriteLine($"| of which the 40 checks (the command's timing) | {TrainBench.Median(checks):F3} | {checks.Min():F3} |");
        Console.WriteLine($"cairn: {passed} of 40 expectations passed (all should: the suite fits the data)");
        return 0;
    }

    /// <summary>
    /// 40 expectations over the 20 columns: id unique and integer; f1..f15 each between, with a mean, std or median bound;
    /// qty in a set and between; channel and region in sets; channel not null; code matching a pattern; the row count;
    /// region existing.
    /// </summary>
    private static string Suite(int rows)
    {
        var yaml = new StringBuilder("name: bench\nexpectations:\n");
        yaml.Append("  - {kind: unique, column: id}\n  - {kind: column_type, column: id, type: integer}\n");
        for (var i = 1; i <= 15; i++)
        {
            var mean = i / 10.0;
            var std = 1 + i / 20.0;
            yaml.Append(CultureInfo.InvariantCulture, $"  - {{kind: between, column: f{i}, min: {mean - 8 * std}, max: {mean + 8 * std}}}\n");
            yaml.Append(i switch
            {
                <= 5 => string.Create(CultureInfo.InvariantCulture, $"  - {{kind: mean_between, column: f{i}, min: {mean - 0.1}, max: {mean + 0.1}}}\n"),
                <= 10 => string.Create(CultureInfo.InvariantCulture, $"  - {{kind: std_between, column: f{i}, min: {std * 0.9}, max: {std * 1.1}}}\n"),
                _ => string.Create(CultureInfo.InvariantCulture, $"  - {{kind: quantile_between, column: f{i}, quantile: 0.5, min: {mean - 0.1}, max: {mean + 0.1}}}\n"),
            });
        }
        yaml.Append("  - {kind: in_set, column: qty, values: [1, 2, 3, 4, 5, 6, 7, 8, 9]}\n  - {kind: between, column: qty, min: 1, max: 9}\n");
        yaml.Append("  - {kind: in_set, column: channel, values: [web, shop, phone]}\n  - {kind: not_null, column: channel}\n");
        yaml.Append("  - {kind: matches_regex, column: code, pattern: '^[A-Z]{2}-[0-9]{4}$'}\n");
        yaml.Append("  - {kind: in_set, column: region, values: [north, south, east, west, centre]}\n");
        yaml.Append(CultureInfo.InvariantCulture, $"  - {{kind: row_count_between, min: {rows}, max: {rows}}}\n");
        yaml.Append("  - {kind: column_exists, column: region}\n");
        return yaml.ToString();
    }

    /// <summary>
    /// Deterministic data: id 1..N; f_i normal with mean i/10 and standard deviation 1 + i/20 (five decimals); qty 1..9;
    /// channel of 3 values; code two capitals, a dash and four digits; region of 5 values.
    /// </summary>
    private static void Generate(string path, int rows)
    {
        var random = new Random(7);
        string[] channels = ["web", "shop", "phone"];
        string[] regions = ["north", "south", "east", "west", "centre"];
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.WriteLine("id," + string.Join(",", Enumerable.Range(1, 15).Select(i => $"f{i}")) + ",qty,channel,code,region");
        var line = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            line.Clear().Append(r + 1);
            for (var i = 1; i <= 15; i++)
            {
                var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                line.Append(',').Append((i / 10.0 + (1 + i / 20.0) * normal).ToString("0.#####", CultureInfo.InvariantCulture));
            }
            line.Append(',').Append(1 + random.Next(9)).Append(',').Append(channels[random.Next(3)]).Append(',')
                .Append((char)('A' + random.Next(26))).Append((char)('A' + random.Next(26))).Append('-').Append(random.Next(10_000).ToString("D4", CultureInfo.InvariantCulture))
                .Append(',').Append(regions[random.Next(5)]);
            writer.WriteLine(line);
        }
    }
}

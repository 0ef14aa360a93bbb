using System.Diagnostics;
using Cairn.Serving;
using Cairn.Storage;

namespace Cairn.Bench;

/// <summary>
/// The prediction log: append throughput (rows/s from the first TryAppend to the flush, requests of 1, 10 and 100 rows with
/// 20 float inputs and a label and two probabilities out) and the window read (one hour, all columns decoded, rows/s),
/// medians of the trials, on SQLite (or PostgreSQL with --postgres).
/// </summary>
internal static class PredictionLogBench
{
    private const int Features = 20;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var rows = options.Rows;
        Console.WriteLine($"# Cairn prediction log benchmark ({(options.Postgres is null ? "SQLite" : "PostgreSQL")}, {Environment.ProcessorCount} cores, "
            + $"{rows:N0} rows over one hour, {options.Trials} trials, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        foreach (var size in new[] { 1, 10, 100 })
        {
            var total = size == 1 ? Math.Min(rows, 200_000) : rows;
            var append = new List<double>();
            var read = new List<double>();
            for (var trial = 0; trial < options.Trials; trial++)
            {
                var (appendRate, readRate) = await TrialAsync(options, total, size, trial);
                append.Add(appendRate);
                read.Add(readRate);
            }
            Console.WriteLine($"requests of {size,3} rows ({total:N0} rows): append median {Median(append):N0} rows/s (min {append.Min():N0}, max {append.Max():N0}); "
                + $"one-hour window read median {Median(read):N0} rows/s");
        }
        return 0;
    }

    private static async Task<(double Append, double Read)> TrialAsync(BenchOptions options, int totalRows, int size, int trial)
    {
        string backend;
        if (options.Postgres is { } pg)
        {
            var schema = $"bench_predlog_{Guid.NewGuid():N}"[..28];
            backend = new Npgsql.NpgsqlConnectionStringBuilder(pg) { SearchPath = schema }.ToString();
        }
        else
        {
            var folder = Path.Combine(options.Work, "predlog", $"{size}-{trial}");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            backend = folder;
        }
        using var stores = await CairnStores.OpenAsync(backend, new CairnStoreOptions { DefaultArtifactRoot = Path.Combine(options.Work, "predlog-artifacts") });
        var random = new Random(trial);
        // The columns are shared by every request (the log encodes them anew each time; what is measured is the log, not the data).
        var inputs = Enumerable.Range(0, Features)
            .Select(f => new KeyValuePair<string, Array>($"f{f}", Enumerable.Range(0, size).Select(_ => (float)random.NextDouble()).ToArray())).ToList();
        var outputs = new List<KeyValuePair<string, Array>>
        {
            new("label", Enumerable.Range(0, size).Select(r => r % 2 == 0).ToArray()),
            new("probabilities", Enumerable.Range(0, size).Select(_ => new[] { 0.3f, 0.7f }).ToArray()),
        };
        var requests = totalRows / size;
        var t0 = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        var step = 3_600_000.0 / requests;
        var batches = new PredictionBatch[requests];
        for (var i = 0; i < requests; i++)
            batches[i] = new PredictionBatch($"req-{trial}-{i}", "bench", "churn", "1", t0.AddMilliseconds(i * step), 0.4, size, inputs, outputs);

        var log = PredictionLog.Open(stores, new PredictionLogOptions { QueueCapacity = requests + 1 });
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches)
            if (!log.TryAppend(batch)) throw new InvalidOperationException("dropped: the queue holds every request of the trial");
        await log.FlushAsync();
        clock.Stop();
        var written = log.Written;
        await log.DisposeAsync();
        if (written != (long)requests * size) throw new InvalidOperationException($"wrote {written} rows, expected {requests * size}");
        var appendRate = written / clock.Elapsed.TotalSeconds;

        var readClock = Stopwatch.StartNew();
        long readRows = 0;
        double checksum = 0;
        await foreach (var part in stores.Predictions!.ReadAsync("bench", null, t0, t0.AddHours(1), pageRows: 100_000))
        {
            readRows += part.Count;
            checksum += ((float[])part.Inputs[0].Value)[0];
        }
        readClock.Stop();
        if (readRows != written) throw new InvalidOperationException($"read {readRows} rows of {written}");
        GC.KeepAlive(checksum);
        return (appendRate, readRows / readClock.Elapsed.TotalSeconds);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

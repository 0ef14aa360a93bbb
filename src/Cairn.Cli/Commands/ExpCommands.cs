using System.CommandLine;
using Cairn.Pipelines;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn exp run|show</c>: pipeline experiments with changed params.</summary>
internal static class ExpCommands
{
    /// <summary>Builds the <c>exp</c> command.</summary>
    public static Command Create(CliContext app)
    {
        var exp = new Command("exp", "Run the pipeline with changed params without touching the working tree, and compare the results");
        exp.Subcommands.Add(Run(app));
        exp.Subcommands.Add(Show(app));
        return exp;
    }

    private static Command Run(CliContext app)
    {
        var set = new Option<string[]>("--set-param", "-S") { Description = "Override a param: key=value (params.yaml) or file.yaml:key=value", AllowMultipleArgumentsPerToken = false };
        var name = new Option<string?>("--name", "-n") { Description = "Experiment name" };
        var queue = new Option<bool>("--queue") { Description = "Add to the queue instead of running now" };
        var runAll = new Option<bool>("--run-all") { Description = "Run every queued experiment" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "With --run-all: experiments at once; otherwise: stages at once", DefaultValueFactory = _ => 1 };
        var noTrack = PipelineTracking.NoTrackOption();
        var cmd = new Command("run", "Run (or queue) an experiment") { set, name, queue, runAll, jobs, noTrack };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            var manager = new ExperimentManager(repo);
            if (pr.GetValue(jobs) < 1) throw new InvalidParameterValueException("--jobs: must be at least 1");
            var gate = new Lock();
            void Say(string line) { lock (gate) ctx.Out.WriteLine(line); }
            IPipelineRunRecorder Recorder() => PipelineTracking.CreateRecorder(ctx, repo, !pr.GetValue(noTrack));
            if (pr.GetValue(runAll))
            {
                if ((pr.GetValue(set) ?? []).Length > 0 || pr.GetValue(queue))
                    throw new InvalidParameterValueException("--run-all: runs the queue; do not combine it with --set-param or --queue");
                _ = Pipeline.Load(repo.Root); // refuse a bad pipeline before anything runs
                var queuedRecorder = Recorder();
                using var disposeQueued = queuedRecorder as IDisposable;
                var results = await manager.RunQueuedAsync(pr.GetValue(jobs), queuedRecorder, Say, ct);
                if (results.Count == 0) { ctx.Out.WriteLine("the queue is empty (add with 'cairn exp run --queue --set-param ...')"); return ExitCodes.Ok; }
                foreach (var r in results) ctx.Out.WriteLine($"{r.Name}: {r.Status}{(r.Error is null ? "" : " - " + r.Error)}");
                return results.All(r => r.Status == "succeeded") ? ExitCodes.Ok : ExitCodes.Failed;
            }
            var overrides = manager.ParseSetParams(pr.GetValue(set) ?? []);
            _ = Pipeline.Load(repo.Root);
            if (pr.GetValue(queue))
            {
                var q = manager.Queue(overrides, pr.GetValue(name));
                ctx.Out.WriteLine($"queued {q.Name} ({string.Join(", ", overrides.Select(kv => $"{kv.Key}={kv.Value}"))}); run with 'cairn exp run --run-all'");
                return ExitCodes.Ok;
            }
            var recorder = Recorder();
            using var disposeRecorder = recorder as IDisposable;
            var rec = await manager.RunAsync(overrides, pr.GetValue(name), pr.GetValue(jobs), recorder, Say, ct);
            ctx.Out.WriteLine($"{rec.Name}: {rec.Status}; metrics: {string.Join(", ", rec.Metrics.Select(kv => $"{kv.Key}={kv.Value}"))}");
            if (rec.Error is not null) ctx.Error.WriteLine("error: " + rec.Error);
            return rec.Status == "succeeded" ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return cmd;
    }

    private static Command Show(CliContext app)
    {
        var all = new Option<bool>("--all-params") { Description = "Show every param, not only those that differ" };
        var cmd = new Command("show", "Table the experiments with their params and metrics") { all };
        cmd.SetHandler(app, (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            var exps = new ExperimentManager(repo).List();
            var pipeline = Pipeline.Load(repo.Root);
            // The working tree as the baseline row.
            var baseParams = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var f in pipeline.Stages.SelectMany(s => s.Params).Select(p => p.File).Distinct())
                foreach (var (k, v) in ParamsFile.Load(repo.ToFull(f), f).Leaves) baseParams[f == PipelineFile.DefaultParamsFile ? k : f + ":" + k] = v;
            var baseMetrics = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var path in MetricsCommands.MetricPaths(pipeline))
                foreach (var (k, v) in MetricsFile.Read(repo.ToFull(path)) ?? new Dictionary<string, string>()) baseMetrics[k] = v;

            var rows = new List<(string Name, string Status, IReadOnlyDictionary<string, string> Params, IReadOnlyDictionary<string, string> Metrics)>
            {
                ("workspace", "", baseParams, baseMetrics),
            };
            rows.AddRange(exps.Select(e => (e.Name, e.Status, e.Params.Count > 0 ? e.Params : Merge(baseParams, e.SetParams), e.Metrics)));
            var paramKeys = rows.SelectMany(r => r.Params.Keys).Distinct().Order(StringComparer.Ordinal)
                .Where(k => pr.GetValue(all) || rows.Select(r => r.Params.GetValueOrDefault(k)).Distinct().Count() > 1).ToList();
            var metricKeys = rows.SelectMany(r => r.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            var table = new Table().AddColumn("experiment").AddColumn("status");
            foreach (var k in paramKeys) table.AddColumn(Markup.Escape(k));
            foreach (var k in metricKeys) table.AddColumn(Markup.Escape(k));
            foreach (var r in rows)
            {
                table.AddRow(new[] { r.Name, r.Status }
                    .Concat(paramKeys.Select(k => r.Params.GetValueOrDefault(k) ?? "-"))
                    .Concat(metricKeys.Select(k => r.Metrics.GetValueOrDefault(k) ?? "-")).Select(Markup.Escape).ToArray());
            }
            ctx.Console.Write(table);
            if (exps.Count == 0) ctx.Out.WriteLine("no experiments yet (cairn exp run --set-param key=value)");
            return Task.FromResult(ExitCodes.Ok);
        });
        return cmd;
    }

    private static IReadOnlyDictionary<string, string> Merge(IReadOnlyDictionary<string, string> baseline, IReadOnlyDictionary<string, string> overrides)
    {
        var d = new SortedDictionary<string, string>(baseline.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
        foreach (var (k, v) in overrides) d[k.StartsWith(PipelineFile.DefaultParamsFile + ":", StringComparison.Ordinal) ? k[(PipelineFile.DefaultParamsFile.Length + 1)..] : k] = v;
        return d;
    }
}

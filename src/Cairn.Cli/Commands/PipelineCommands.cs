using System.CommandLine;
using Cairn.Data;
using Cairn.Pipelines;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn repro</c>, <c>cairn status</c> and <c>cairn dag</c>.</summary>
internal static class PipelineCommands
{
    /// <summary>
    /// Makes the recorder stage runs are logged to. Defaults to JSON lines in <c>.cairn/runs/runs.jsonl</c>;
    /// the tracking side replaces it with a recorder over the tracking store.
    /// </summary>
    public static Func<DataRepository, IPipelineRunRecorder> RecorderFactory { get; set; }
        = repo => new JsonLinesRunRecorder(Path.Combine(repo.CairnDir, "runs", "runs.jsonl"));

    internal static (DataRepository Repo, Pipeline Pipeline) Open(CliContext ctx)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var repo = DataCli.OpenRepository(ctx);
        var opened = sw.Elapsed;
        var pipeline = Pipeline.Load(repo.Root);
        if (ctx.GetEnvironmentVariable("CAIRN_TIMING") is "1")
            ctx.Error.WriteLine($"timing: open repository {opened.TotalMilliseconds:0} ms, load pipeline {(sw.Elapsed - opened).TotalMilliseconds:0} ms");
        return (repo, pipeline);
    }

    /// <summary><c>cairn repro [STAGE] [-j N] [--force]</c>.</summary>
    public static Command CreateRepro(CliContext app)
    {
        var stage = new Argument<string?>("stage") { Arity = ArgumentArity.ZeroOrOne, Description = "Stage (or foreach group) to bring up to date, with what it depends on" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Stages to run in parallel", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force", "-f") { Description = "Run the selected stages even if up to date" };
        var noTrack = PipelineTracking.NoTrackOption();
        var cmd = new Command("repro", "Run the stages of cairn.yaml whose deps, params or cmd changed") { stage, jobs, force, noTrack };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            if (pr.GetValue(jobs) < 1) throw new InvalidParameterValueException("--jobs: must be at least 1");
            if (pr.GetValue(stage) is null && !pr.GetValue(force))
            {
                // Fast path: nothing the last up-to-date verdict depended on has changed (stat only, no YAML).
                var quick = DataCli.OpenRepository(ctx);
                if (UpToDateStamp.IsValid(quick))
                {
                    ctx.Out.WriteLine("Pipeline is up to date. Nothing to reproduce.");
                    return ExitCodes.Ok;
                }
            }
            var (repo, pipeline) = Open(ctx);
            var recorder = PipelineTracking.CreateRecorder(ctx, repo, !pr.GetValue(noTrack));
            using var disposeRecorder = recorder as IDisposable;
            var result = await RunAsync(ctx, repo, pipeline, new ReproOptions
            {
                Target = pr.GetValue(stage),
                Jobs = pr.GetValue(jobs),
                Force = pr.GetValue(force),
                Recorder = recorder,
            }, ct);
            return result.Succeeded ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return cmd;
    }

    internal static async Task<ReproResult> RunAsync(CliContext ctx, DataRepository repo, Pipeline pipeline, ReproOptions options, CancellationToken ct)
    {
        var gate = new Lock();
        var withOutput = new ReproOptions
        {
            Target = options.Target, Jobs = options.Jobs, Force = options.Force, Recorder = options.Recorder, Experiment = options.Experiment,
            Output = line => { lock (gate) ctx.Out.WriteLine(line); },
        };
        var result = await new PipelineRunner(repo, pipeline).ReproAsync(withOutput, ct);
        int ran = result.Stages.Count(s => s.Kind == StageOutcomeKind.Ran);
        int restored = result.Stages.Count(s => s.Kind == StageOutcomeKind.Restored);
        int unchanged = result.Stages.Count(s => s.Kind == StageOutcomeKind.Unchanged);
        var failed = result.Stages.Where(s => s.Kind == StageOutcomeKind.Failed).ToList();
        var skipped = result.Stages.Where(s => s.Kind == StageOutcomeKind.Skipped).ToList();
        if (ran + restored + failed.Count + skipped.Count == 0)
        {
            ctx.Out.WriteLine("Pipeline is up to date. Nothing to reproduce.");
        }
        else
        {
            ctx.Out.WriteLine($"{ran} stage(s) ran, {restored} restored from cache, {unchanged} unchanged, {failed.Count} failed, {skipped.Count} skipped");
        }
        foreach (var f in failed) ctx.Error.WriteLine("error: " + f.Error);
        if (failed.Count > 0) ctx.Error.WriteLine("fix the failure and run 'cairn repro' again: it resumes at the failed stage");
        return result;
    }

    /// <summary><c>cairn status [STAGE]</c>: stale stages and why.</summary>
    public static Command CreateStatus(CliContext app)
    {
        var stage = new Argument<string?>("stage") { Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("status", "Show which pipeline stages are stale and why") { stage };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            if (pr.GetValue(stage) is null && UpToDateStamp.IsValid(DataCli.OpenRepository(ctx)))
            {
                ctx.Out.WriteLine("Pipeline is up to date.");
                return ExitCodes.Ok;
            }
            var (repo, pipeline) = Open(ctx);
            var statuses = await new PipelineRunner(repo, pipeline).StatusAsync(pr.GetValue(stage), ct);
            bool any = false;
            foreach (var s in statuses.Where(s => s.State != StageState.UpToDate))
            {
                any = true;
                ctx.Out.WriteLine($"{s.Stage}: {(s.State == StageState.Restorable ? "outs can be restored from the cache" : "stale")}");
                foreach (var r in s.Reasons) ctx.Out.WriteLine("    " + r);
            }
            if (!any) ctx.Out.WriteLine("Pipeline is up to date.");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary><c>cairn dag [--format text|mermaid|dot]</c>.</summary>
    public static Command CreateDag(CliContext app)
    {
        var format = new Option<string>("--format") { Description = "text, mermaid or dot", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "mermaid", "dot");
        var mermaid = new Option<bool>("--mermaid") { Description = "Same as --format mermaid" };
        var dot = new Option<bool>("--dot") { Description = "Same as --format dot" };
        var cmd = new Command("dag", "Show the pipeline's stages and how they depend on each other") { format, mermaid, dot };
        cmd.SetHandler(app, (pr, ctx, ct) =>
        {
            var (_, pipeline) = Open(ctx);
            string f = pr.GetValue(mermaid) ? "mermaid" : pr.GetValue(dot) ? "dot" : pr.GetValue(format)!;
            ctx.Console.Write(new Text(f switch { "mermaid" => pipeline.ToMermaid(), "dot" => pipeline.ToDot(), _ => pipeline.ToText() }));
            return Task.FromResult(ExitCodes.Ok);
        });
        return cmd;
    }
}

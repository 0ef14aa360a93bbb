using System.CommandLine;
using System.Globalization;
using Cairn.Pipelines;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn metrics show|diff</c> and <c>cairn params diff</c>.</summary>
internal static class MetricsCommands
{
    /// <summary>Builds <c>metrics</c> with <c>show</c> and <c>diff [REV]</c>.</summary>
    public static Command Create(CliContext app)
    {
        var metrics = new Command("metrics", "Show metrics files of the pipeline and compare them with a git revision");
        var show = new Command("show", "Show the current metrics");
        show.SetHandler(app, (pr, ctx, ct) =>
        {
            var (repo, pipeline) = PipelineCommands.Open(ctx);
            var table = new Table().AddColumns("path", "metric", "value");
            int rows = 0;
            foreach (var path in MetricPaths(pipeline))
            {
                var values = MetricsFile.Read(repo.ToFull(path));
                if (values is null) { table.AddRow(Markup.Escape(path), "-", "(missing)"); continue; }
                foreach (var (k, v) in values) { table.AddRow(Markup.Escape(path), Markup.Escape(k), Markup.Escape(v)); rows++; }
            }
            if (rows == 0 && table.Rows.Count == 0) ctx.Out.WriteLine("no metrics files in cairn.yaml");
            else ctx.Console.Write(table);
            return Task.FromResult(ExitCodes.Ok);
        });
        var rev = new Argument<string>("rev") { Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "HEAD", Description = "Git revision to compare with (default HEAD)" };
        var all = new Option<bool>("--all") { Description = "Also list unchanged values" };
        var diff = new Command("diff", "Compare the workspace's metrics with a git revision") { rev, all };
        diff.SetHandler(app, (pr, ctx, ct) =>
        {
            var (repo, pipeline) = PipelineCommands.Open(ctx);
            string r = pr.GetValue(rev)!;
            var table = new Table().AddColumns("path", "metric", r, "workspace", "change");
            foreach (var path in MetricPaths(pipeline))
            {
                var now = MetricsFile.Read(repo.ToFull(path)) ?? new Dictionary<string, string>();
                string? oldText = GitInfo.Show(repo.Root, r, path);
                var old = oldText is null ? new Dictionary<string, string>() : MetricsFile.Parse(oldText, path);
                AddDiffRows(table, path, old, now, pr.GetValue(all));
            }
            if (table.Rows.Count == 0) ctx.Out.WriteLine($"no metric changed since {r}");
            else ctx.Console.Write(table);
            return Task.FromResult(ExitCodes.Ok);
        });
        metrics.Subcommands.Add(show);
        metrics.Subcommands.Add(diff);
        return metrics;
    }

    /// <summary>Builds <c>params</c> with <c>diff [REV]</c>.</summary>
    public static Command CreateParams(CliContext app)
    {
        var parameters = new Command("params", "Compare the pipeline's params with a git revision");
        var rev = new Argument<string>("rev") { Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "HEAD", Description = "Git revision to compare with (default HEAD)" };
        var all = new Option<bool>("--all") { Description = "Also list unchanged values" };
        var diff = new Command("diff", "Compare the workspace's params with a git revision") { rev, all };
        diff.SetHandler(app, (pr, ctx, ct) =>
        {
            var (repo, pipeline) = PipelineCommands.Open(ctx);
            string r = pr.GetValue(rev)!;
            var files = pipeline.Stages.SelectMany(s => s.Params.Select(p => p.File)).Distinct().ToList();
            if (files.Count == 0 && File.Exists(repo.ToFull(PipelineFile.DefaultParamsFile))) files.Add(PipelineFile.DefaultParamsFile);
            var table = new Table().AddColumns("path", "param", r, "workspace", "change");
            foreach (var f in files.Order(StringComparer.Ordinal))
            {
                var now = ParamsFile.Load(repo.ToFull(f), f).Leaves.ToDictionary(kv => kv.Key, kv => kv.Value);
                string? oldText = GitInfo.Show(repo.Root, r, f);
                var old = oldText is null ? new Dictionary<string, string>() : ParamsFile.Parse(oldText, $"{r}:{f}").Leaves.ToDictionary(kv => kv.Key, kv => kv.Value);
                AddDiffRows(table, f, old, now, pr.GetValue(all));
            }
            if (table.Rows.Count == 0) ctx.Out.WriteLine($"no param changed since {r}");
            else ctx.Console.Write(table);
            return Task.FromResult(ExitCodes.Ok);
        });
        parameters.Subcommands.Add(diff);
        return parameters;
    }

    internal static IEnumerable<string> MetricPaths(Pipeline pipeline)
        => pipeline.Stages.SelectMany(s => s.Metrics).Select(m => m.Path).Distinct().Order(StringComparer.Ordinal);

    private static void AddDiffRows(Table table, string path, IReadOnlyDictionary<string, string> old, IReadOnlyDictionary<string, string> now, bool all)
    {
        foreach (var key in old.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            string? o = old.GetValueOrDefault(key);
            string? n = now.GetValueOrDefault(key);
            if (o == n && !all) continue;
            table.AddRow(Markup.Escape(path), Markup.Escape(key), Markup.Escape(o ?? "-"), Markup.Escape(n ?? "-"), Markup.Escape(Change(o, n)));
        }
    }

    private static string Change(string? o, string? n)
    {
        if (o is null) return "added";
        if (n is null) return "removed";
        if (o == n) return "";
        if (double.TryParse(o, NumberStyles.Float, CultureInfo.InvariantCulture, out double a)
            && double.TryParse(n, NumberStyles.Float, CultureInfo.InvariantCulture, out double b))
        {
            return (b - a).ToString("+0.######;-0.######;0", CultureInfo.InvariantCulture);
        }
        return "changed";
    }
}

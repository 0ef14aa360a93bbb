using System.CommandLine;
using Cairn.Data;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn data …</c>: versioning of large files and folders outside git.</summary>
internal static partial class DataCommands
{
    private static Option<int> JobsOption() => new("--jobs", "-j") { Description = "Parallel workers (default: processor count, 8 for transfers)" };

    /// <summary>Builds the <c>data</c> command with its subcommands.</summary>
    public static Command Create(CliContext app)
    {
        var data = new Command("data", "Version large files and folders: pointer files in git, content in the cache and remotes");
        data.Subcommands.Add(Add(app));
        data.Subcommands.Add(Status(app));
        data.Subcommands.Add(Checkout(app));
        data.Subcommands.Add(List(app));
        data.Subcommands.Add(Gc(app));
        AddTransferCommands(data, app);
        return data;
    }

    private static Command Add(CliContext app)
    {
        var paths = new Argument<string[]>("paths") { Arity = ArgumentArity.OneOrMore, Description = "Files or folders to track" };
        var name = new Option<string?>("--name") { Description = "Register the data as a dataset with this name" };
        var source = new Option<string?>("--source") { Description = "Where the dataset came from (URL), recorded with --name" };
        var jobs = JobsOption();
        var noTrack = PipelineTracking.NoTrackOption();
        var cmd = new Command("add", "Store files or folders in the cache and write their pointer files") { paths, name, source, jobs, noTrack };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx, jobs: pr.GetValue(jobs));
            var targets = DataCli.Targets(ctx, pr.GetValue(paths))!;
            if (pr.GetValue(name) is not null && targets.Length > 1)
                throw new InvalidParameterValueException("--name: a dataset name needs exactly one path");
            foreach (var t in targets)
            {
                var r = await CliProgress.RunAsync(ctx, $"adding {Path.GetRelativePath(repo.Root, t)}", bar =>
                {
                    // The bar counts bytes hashed; the total is a stat of the files, cheap next to hashing them.
                    bar?.Start(SizeOf(t));
                    return repo.AddAsync(t, new DataAddOptions { DatasetName = pr.GetValue(name), Source = pr.GetValue(source), Progress = bar?.Bytes() }, ct);
                });
                var p = r.Entry.Pointer;
                string what = p.Kind == EntryKind.Dir ? $"{p.Files} files, " : "";
                ctx.Out.WriteLine($"added {r.Entry.Path} ({what}{DataCli.FormatBytes(p.Size)}) sha256:{p.Digest[..12]} -> {r.Entry.PointerFile}");
                if (r.Dataset is { } ds)
                {
                    ctx.Out.WriteLine($"registered dataset {ds.Name} (digest {ds.Digest[..12]}{(ds.Rows is long rows ? $", {rows} rows, {ds.Schema!.Count} columns" : "")})");
                    if (!pr.GetValue(noTrack)) await PipelineTracking.RegisterDatasetAsync(ctx, repo, ds, ct);
                }
            }
            ctx.Out.WriteLine("commit the pointer files and .gitignore changes to git");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command Status(CliContext app)
    {
        var targets = new Argument<string[]>("targets") { Arity = ArgumentArity.ZeroOrMore, Description = "Tracked paths (default: all)" };
        var cmd = new Command("status", "Show tracked data whose workspace content differs from its pointer file") { targets };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            var result = await repo.StatusAsync(DataCli.Targets(ctx, pr.GetValue(targets)), ct);
            int changed = 0;
            foreach (var s in result)
            {
                string cache = s.InCache ? "" : " (not in cache: run 'cairn data pull')";
                switch (s.Change)
                {
                    case DataChange.Unchanged:
                        if (!s.InCache) ctx.Out.WriteLine($"{s.Entry.Path}: unchanged{cache}");
                        break;
                    case DataChange.Missing:
                        changed++;
                        ctx.Out.WriteLine($"{s.Entry.Path}: missing from the workspace{cache}");
                        break;
                    default:
                        changed++;
                        ctx.Out.WriteLine(s.Entry.Pointer.Kind == EntryKind.Dir && s.InCache
                            ? $"{s.Entry.Path}: modified ({s.Added.Count} added, {s.Modified.Count} modified, {s.Deleted.Count} deleted)"
                            : $"{s.Entry.Path}: modified{cache}");
                        foreach (var f in s.Added.Take(20)) ctx.Out.WriteLine($"    added:    {f}");
                        foreach (var f in s.Modified.Take(20)) ctx.Out.WriteLine($"    modified: {f}");
                        foreach (var f in s.Deleted.Take(20)) ctx.Out.WriteLine($"    deleted:  {f}");
                        break;
                }
            }
            if (changed == 0) ctx.Out.WriteLine(result.Count == 0 ? "no tracked data" : $"{result.Count} tracked path(s) up to date");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command Checkout(CliContext app)
    {
        var targets = new Argument<string[]>("targets") { Arity = ArgumentArity.ZeroOrMore, Description = "Tracked paths (default: all)" };
        var force = new Option<bool>("--force", "-f") { Description = "Discard workspace changes that are not in the cache" };
        var verify = new Option<bool>("--verify") { Description = "Rehash cache objects before using them" };
        var link = new Option<string?>("--link-type") { Description = "Override link types, e.g. hardlink,copy" };
        var jobs = JobsOption();
        var cmd = new Command("checkout", "Restore tracked data from the cache to match the pointer files") { targets, force, verify, link, jobs };
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx, pr.GetValue(link), pr.GetValue(jobs));
            var r = await CheckoutAsync(ctx, repo, DataCli.Targets(ctx, pr.GetValue(targets)), pr.GetValue(force), pr.GetValue(verify), ct);
            ctx.Out.WriteLine($"{r.Linked} file(s) restored, {r.Unchanged} unchanged, {r.Removed} removed");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>
    /// Checks out <paramref name="targets"/>; in a terminal one tracked path at a time under a bar (the repository reports
    /// no progress of its own), otherwise in one call.
    /// </summary>
    internal static async Task<CheckoutResult> CheckoutAsync(CliContext ctx, DataRepository repo, string[]? targets, bool force, bool verify, CancellationToken ct)
        => await CliProgress.RunAsync(ctx, "checking out", async bar =>
        {
            if (bar is null) return await repo.CheckoutAsync(targets, force, verify, ct);
            var entries = repo.FindTracked(targets).ToList();
            bar.Start(entries.Count);
            int linked = 0, unchanged = 0, removed = 0;
            foreach (var entry in entries)
            {
                bar.Describe($"checking out {entry.Path}");
                var r = await repo.CheckoutAsync([repo.ToFull(entry.Path)], force, verify, ct);
                (linked, unchanged, removed) = (linked + r.Linked, unchanged + r.Unchanged, removed + r.Removed);
                bar.Advance();
            }
            return new CheckoutResult(linked, unchanged, removed);
        });

    /// <summary>Bytes under a path (a file's length, a folder's files), for the bar's total.</summary>
    private static long SizeOf(string path) =>
        File.Exists(path) ? new FileInfo(path).Length
        : Directory.Exists(path) ? new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
        : 0;

    private static Command List(CliContext app)
    {
        var cmd = new Command("ls", "List tracked data with size, digest and cache presence");
        cmd.SetHandler(app, (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            var items = repo.List();
            var table = new Table().AddColumns("path", "type", "files", "size", "sha256", "cache");
            foreach (var i in items)
            {
                var p = i.Entry.Pointer;
                table.AddRow(Markup.Escape(i.Entry.Path), p.Kind == EntryKind.Dir ? "dir" : "file", (p.Files ?? 1).ToString(),
                    DataCli.FormatBytes(p.Size), p.Digest[..12], i.InCache ? "yes" : "no");
            }
            if (items.Count == 0) ctx.Out.WriteLine("no tracked data");
            else ctx.Console.Write(table);
            return Task.FromResult(ExitCodes.Ok);
        });
        return cmd;
    }

    private static Command Gc(CliContext app)
    {
        var dry = new Option<bool>("--dry-run", "-n") { Description = "Only report what would be removed" };
        var wait = new Option<int>("--wait")
        {
            Description = "Seconds to wait while another command (add, checkout, repro, fetch) uses the cache; default 0: fail at once (exit 5)",
        };
        var cmd = new Command("gc", "Remove cache objects no pointer file, lock file or experiment refers to") { dry, wait };
        cmd.SetHandler(app, (pr, ctx, ct) =>
        {
            if (pr.GetValue(wait) < 0) throw new InvalidParameterValueException($"--wait: must be 0 or more seconds, not {pr.GetValue(wait)}");
            var repo = DataCli.OpenRepository(ctx);
            var r = repo.CollectGarbage(() => ExtraCacheRoots(repo), pr.GetValue(dry), TimeSpan.FromSeconds(pr.GetValue(wait)));
            ctx.Out.WriteLine($"{(pr.GetValue(dry) ? "would remove" : "removed")} {r.Removed} object(s) ({DataCli.FormatBytes(r.BytesFreed)}), kept {r.Kept}");
            return Task.FromResult(ExitCodes.Ok);
        });
        return cmd;
    }
}

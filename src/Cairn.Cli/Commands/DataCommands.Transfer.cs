using System.CommandLine;
using Cairn.Data;
using Cairn.Data.Remotes;
using Spectre.Console;

namespace Cairn.Cli.Commands;

internal static partial class DataCommands
{
    private static void AddTransferCommands(Command data, CliContext app)
    {
        data.Subcommands.Add(Transfer(app, "push", "Upload cached data to a remote (skips what it has)"));
        data.Subcommands.Add(Transfer(app, "fetch", "Download data from a remote into the cache, verifying every object"));
        data.Subcommands.Add(Transfer(app, "pull", "Fetch, then check out into the workspace"));
        data.Subcommands.Add(Remote(app));
    }

    private static Command Transfer(CliContext app, string verb, string description)
    {
        var targets = new Argument<string[]>("targets") { Arity = ArgumentArity.ZeroOrMore, Description = "Tracked paths (default: all pointers and pipeline outputs)" };
        var remoteName = new Option<string?>("--remote", "-r") { Description = "Remote name (default: the configured default remote)" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Parallel transfers", DefaultValueFactory = _ => 8 };
        var verify = new Option<bool>("--verify") { Description = "push: rehash local objects before uploading" };
        var force = new Option<bool>("--force", "-f") { Description = "pull: discard workspace changes not in the cache" };
        var cmd = new Command(verb, description) { targets, remoteName, jobs };
        if (verb == "push") cmd.Options.Add(verify);
        if (verb == "pull") cmd.Options.Add(force);
        cmd.SetHandler(app, async (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            var given = DataCli.Targets(ctx, pr.GetValue(targets));
            var roots = repo.FindTracked(given).Select(t => new CacheRoot(t.Pointer.Digest, t.Pointer.Kind)).ToList();
            if (given is null) roots.AddRange(ExtraCacheRoots(repo));
            using var remote = OpenRemote(repo, ctx, pr.GetValue(remoteName));
            var transfer = new DataTransfer(repo, remote, pr.GetValue(jobs));
            var r = await WithProgressAsync(ctx, verb == "push" ? "uploading" : "downloading", p => verb == "push"
                ? transfer.PushAsync(roots, pr.GetValue(verify), p, ct)
                : transfer.FetchAsync(roots, p, ct));
            ctx.Out.WriteLine($"{verb}: {r.Transferred} object(s) {(verb == "push" ? "uploaded to" : "downloaded from")} '{remote.Name}' ({DataCli.FormatBytes(r.Bytes)}), {r.Skipped} already there");
            if (verb == "pull")
            {
                var co = await CheckoutAsync(ctx, repo, given, pr.GetValue(force), verify: false, ct);
                ctx.Out.WriteLine($"{co.Linked} file(s) restored, {co.Unchanged} unchanged, {co.Removed} removed");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    internal static IDataRemote OpenRemote(DataRepository repo, CliContext ctx, string? name)
    {
        var remotes = repo.Config.Remotes;
        name ??= repo.Config.DefaultRemote ?? (remotes.Count == 1 ? remotes.Keys.First() : null);
        if (name is null)
        {
            throw new InvalidParameterValueException(remotes.Count == 0
                ? "no remote configured; run 'cairn data remote add NAME URL --default'"
                : $"several remotes configured ({string.Join(", ", remotes.Keys)}); pick one with -r or set a default");
        }
        if (!remotes.TryGetValue(name, out var cfg))
            throw new ResourceDoesNotExistException($"remote '{name}' is not configured (.cairn/config.yaml has: {string.Join(", ", remotes.Keys)})");
        cfg.AccessKeyId ??= ctx.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        cfg.SecretAccessKey ??= ctx.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        return DataRemoteFactory.Create(name, cfg, repo.Root);
    }

    private static async Task<TransferResult> WithProgressAsync(CliContext ctx, string label, Func<ITransferProgress?, Task<TransferResult>> run)
    {
        if (!ctx.Console.Profile.Capabilities.Interactive) return await run(null);
        TransferResult result = null!; // assigned inside StartAsync before it returns
        await ctx.Console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                     new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async pc =>
            {
                var sink = new SpectreTransferProgress(pc.AddTask(label), pc.AddTask("files", autoStart: true, maxValue: 1));
                result = await run(sink);
                sink.Finish();
            });
        return result;
    }

    private sealed class SpectreTransferProgress(ProgressTask bytes, ProgressTask files) : ITransferProgress
    {
        private int _done, _total;

        public void Started(int fileCount, long byteCount)
        {
            _total = fileCount;
            bytes.MaxValue = Math.Max(1, byteCount);
            files.MaxValue = Math.Max(1, fileCount);
            files.Description = $"files 0/{fileCount}";
        }

        public void Advance(long delta) => bytes.Increment(delta);

        public void FileCompleted()
        {
            int n = Interlocked.Increment(ref _done);
            files.Increment(1);
            files.Description = $"files {n}/{_total}";
        }

        public void Finish()
        {
            bytes.Value = bytes.MaxValue;
            files.Value = files.MaxValue;
        }
    }

    private static Command Remote(CliContext app)
    {
        var remote = new Command("remote", "Configure remotes (folders or S3-compatible buckets)");
        var name = new Argument<string>("name");
        var url = new Argument<string>("url") { Description = "Folder path, file:// URL or s3://bucket/prefix" };
        var isDefault = new Option<bool>("--default", "-d") { Description = "Make it the default remote" };
        var endpoint = new Option<string?>("--endpoint") { Description = "S3 endpoint URL (MinIO, s3rver, …)" };
        var region = new Option<string?>("--region") { Description = "S3 region (default us-east-1)" };
        var pathStyle = new Option<bool?>("--path-style") { Description = "Path-style bucket addressing (default: on with --endpoint)" };
        var chunk = new Option<bool?>("--chunk-encoding") { Description = "aws-chunked uploads (default true; false for servers like s3rver)" };
        var local = new Option<bool>("--local") { Description = "Write to .cairn/config.local.yaml (not committed)" };
        var add = new Command("add", "Add or replace a remote") { name, url, isDefault, endpoint, region, pathStyle, chunk, local };
        add.SetHandler(app, (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            string file = Path.Combine(repo.CairnDir, pr.GetValue(local) ? "config.local.yaml" : "config.yaml");
            var cfg = DataConfig.Load(file);
            string n = pr.GetValue(name)!;
            if (n.Length == 0 || !n.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw new InvalidParameterValueException($"remote name '{n}' may only hold letters, digits, '-' and '_'");
            cfg.Remotes[n] = new RemoteConfig
            {
                Url = pr.GetValue(url)!,
                Endpoint = pr.GetValue(endpoint),
                Region = pr.GetValue(region),
                PathStyle = pr.GetValue(pathStyle),
                ChunkEncoding = pr.GetValue(chunk),
            };
            _ = DataRemoteFactory.Create(n, cfg.Remotes[n], repo.Root); // validates the URL
            if (pr.GetValue(isDefault)) cfg.DefaultRemote = n;
            cfg.Save(file);
            ctx.Out.WriteLine($"remote '{n}' -> {pr.GetValue(url)}{(pr.GetValue(isDefault) ? " (default)" : "")}");
            return Task.FromResult(ExitCodes.Ok);
        });
        var list = new Command("list", "List remotes");
        list.SetHandler(app, (pr, ctx, ct) =>
        {
            var repo = DataCli.OpenRepository(ctx);
            foreach (var (n, r) in repo.Config.Remotes.OrderBy(k => k.Key, StringComparer.Ordinal))
                ctx.Out.WriteLine($"{n}\t{r.Url}{(r.Endpoint is null ? "" : " endpoint=" + r.Endpoint)}{(repo.Config.DefaultRemote == n ? " (default)" : "")}");
            return Task.FromResult(ExitCodes.Ok);
        });
        remote.Subcommands.Add(add);
        remote.Subcommands.Add(list);
        return remote;
    }

    /// <summary>Cache objects the pipeline lock file refers to (cached outs), so gc keeps them and push sends them.</summary>
    internal static IEnumerable<CacheRoot> ExtraCacheRoots(DataRepository repo)
        => Cairn.Pipelines.LockFile.Load(Path.Combine(repo.Root, Cairn.Pipelines.LockFile.FileName)).Stages.Values
            .SelectMany(s => s.Outs).Where(o => repo.Cache.Contains(o.Digest)).Select(o => new CacheRoot(o.Digest, o.Kind))
            .Concat(ExperimentRoots(repo));

    private static IEnumerable<CacheRoot> ExperimentRoots(DataRepository repo) => new Cairn.Pipelines.ExperimentManager(repo).CacheRoots();
}

using System.CommandLine;
using Cairn.Artifacts;
using Cairn.Tracking;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn gc</c>: removes for good the runs and experiments deleted more than N days ago, artifacts first
/// (MLflow's <c>mlflow gc</c>). A crash between the two steps leaves rows without artifacts, which a rerun cleans;
/// the other order could leave artifacts no row points to any more.
/// </summary>
internal static class GcCommand
{
    public static Command Create(CliContext app)
    {
        var olderThan = new Option<double>("--older-than")
        {
            Description = "Only remove what was deleted at least this many days ago (0: everything deleted).",
            Required = true,
        };
        var backend = new Option<string?>("--backend-store-uri") { Description = "Folder, sqlite:///path.db or postgresql://... (default: CAIRN_HOME)." };
        var artifacts = new Option<string?>("--artifacts-destination") { Description = "Folder behind mlflow-artifacts:/ locations (default: CAIRN_HOME/artifacts)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be removed and remove nothing." };
        var allowedRoots = new Option<string?>("--allowed-artifact-roots")
        {
            Description = "Comma list of folders or s3://bucket/prefix roots, besides --artifacts-destination, inside which gc deletes; " +
                "deleted experiments located elsewhere lose their rows but keep their files.",
        };

        var command = new Command("gc", "Permanently remove deleted runs and experiments, with their artifacts.")
        {
            olderThan, backend, artifacts, dryRun, allowedRoots,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var days = parse.GetValue(olderThan);
            if (!double.IsFinite(days) || days < 0)
                throw new InvalidParameterValueException($"Invalid value {days} for '--older-than': it must be a number of days, zero or more.");
            var roots = ArtifactStores.SplitRoots(parse.GetValue(allowedRoots)).Select(ctx.AbsoluteUri).ToList();
            if (roots.Select(ArtifactStores.CheckRoot).FirstOrDefault(p => p is not null) is { } problem)
                throw new InvalidParameterValueException($"Invalid value for '--allowed-artifact-roots': {problem}.");
            // Stores open through the one client; artifacts are deleted where the server would put them (mlflow-artifacts:).
            using var client = await ctx.OpenClientAsync(ctx.AbsoluteUri(parse.GetValue(backend) ?? ctx.CairnHome), cancellationToken,
                options => options.DefaultArtifactRoot = "mlflow-artifacts:");
            var store = client.Store;
            var s3 = Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(ctx.GetEnvironmentVariable);
            var artifactStore = ArtifactStores.Open(ctx.AbsoluteUri(parse.GetValue(artifacts) ?? ctx.CairnHomeArtifacts), s3);
            using var disposeArtifacts = artifactStore as IDisposable;
            var allowed = roots.Select(root => ArtifactStores.Open(root, s3)).ToList();
            using var disposeAllowed = new Disposables(allowed);
            // The one check of where the server may delete: the destination and the allowed roots, nothing else.
            var resolver = new ArtifactLocationResolver(artifactStore, allowed);
            var cutoff = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)(days * TimeSpan.FromDays(1).TotalMilliseconds);
            return await CliProgress.RunAsync(ctx, "collecting garbage", progress =>
                new Collector(store, resolver, parse.GetValue(dryRun), ctx, progress).RunAsync(cutoff, cancellationToken));
        });
        return command;
    }

    private sealed class Disposables(IEnumerable<IArtifactStore> stores) : IDisposable
    {
        public void Dispose()
        {
            foreach (var store in stores) (store as IDisposable)?.Dispose();
        }
    }

    private sealed class Collector(ITrackingStore store, ArtifactLocationResolver resolver, bool dryRun, CliContext ctx, CliProgress.Bar? progress)
    {
        private int _runs;
        private int _experiments;
        private long _files;
        private int _failures;
        private readonly List<string> _kept = [];

        public async Task<int> RunAsync(long deletedBefore, CancellationToken cancellationToken)
        {
            var (runs, experiments) = await store.FindDeletedAsync(deletedBefore, cancellationToken);
            progress?.Start(runs.Count + experiments.Count);
            // Runs of a deleted experiment are reported with it, once.
            var experimentRoots = experiments.Select(e => e.ArtifactLocation.TrimEnd('/') + "/").ToList();
            foreach (var run in runs)
            {
                progress?.Advance(); // counts what has been taken up, whether it ends removed or kept
                var report = !experimentRoots.Any(root => run.ArtifactLocation.StartsWith(root, StringComparison.Ordinal));
                if (!await RemoveArtifactsAsync("run", run.Id, run.ArtifactLocation, report, cancellationToken)) continue;
                if (!dryRun) await store.PurgeRunAsync(run.Id, cancellationToken);
                _runs++;
            }
            foreach (var experiment in experiments)
            {
                progress?.Advance();
                // Its runs go with it (MLflow does the same), restored or not, so their artifacts go first.
                var ok = true;
                // A location outside the managed roots is reported once, for the experiment, not for each of its runs.
                foreach (var run in await RunsOfAsync(experiment.Id, cancellationToken))
                    ok &= await RemoveArtifactsAsync("run", run.RunId, run.ArtifactUri, report: false, cancellationToken);
                ok = ok && await RemoveArtifactsAsync("experiment", experiment.Id, experiment.ArtifactLocation, report: true, cancellationToken);
                if (!ok) continue;
                if (!dryRun) await store.PurgeExperimentAsync(experiment.Id, cancellationToken);
                _experiments++;
            }

            var verb = dryRun ? "would remove" : "removed";
            Say(
                $"gc: {verb} {_runs} run(s), {_experiments} experiment(s){(dryRun ? "" : $", {_files} artifact file(s)")}" +
                (_failures > 0 ? $"; {_failures} left in place (see errors above)" : "") +
                (_kept.Count > 0 ? $"; {(dryRun ? "would keep" : "kept")} the files of {_kept.Count} outside the artifact roots it manages" : "") + ".");
            foreach (var line in _kept) Say(line);
            return _failures > 0 ? ExitCodes.Failed : ExitCodes.Ok;
        }

        /// <summary>One line of the report: above the live bar in a terminal, on stdout otherwise.</summary>
        private void Say(string line)
        {
            if (progress is not null) progress.WriteLine(line);
            else ctx.Out.WriteLine(line);
        }

        private async Task<List<RunInfo>> RunsOfAsync(string experimentId, CancellationToken cancellationToken)
        {
            var runs = new List<RunInfo>();
            string? token = null;
            do
            {
                var page = await store.SearchRunsAsync(new RunSearch([experimentId], ViewType: ViewType.ALL,
                    MaxResults: TrackingLimits.SearchMaxResultsThreshold, PageToken: token), cancellationToken);
                runs.AddRange(page.Items.Select(r => r.Info));
                token = page.NextPageToken;
            } while (token is not null);
            return runs;
        }

        /// <summary>
        /// Deletes one location; on failure says why and keeps the rows so nothing is orphaned. A location the server does
        /// not manage (outside the destination and the allowed roots, a whole root, another scheme) keeps its files and
        /// counts as done, so its rows go: the files were never the server's to delete.
        /// </summary>
        private async Task<bool> RemoveArtifactsAsync(string kind, string id, string location, bool report, CancellationToken cancellationToken)
        {
            ArtifactLocation resolved;
            try
            {
                resolved = resolver.Resolve(location);
                if (resolved.Prefix.Length == 0)
                    throw new ArtifactLocationOutsideRootsException($"Artifact location '{location}' is a whole artifact root, not a location inside one.");
            }
            catch (CairnException e)
            {
                if (report) _kept.Add($"{(dryRun ? "would keep" : "kept")} the files of {kind} {id}: {e.Message}");
                return true;
            }
            try
            {
                if (dryRun)
                {
                    Say($"would remove {kind} {id} and its artifacts at {location}");
                    return true;
                }
                var files = await resolved.Store.DeletePrefixAsync(resolved.Prefix, cancellationToken);
                _files += files;
                Say($"removed {kind} {id}: {files} artifact file(s) at {location}");
                return true;
            }
            catch (Exception e) when (e is CairnException or IOException or UnauthorizedAccessException)
            {
                _failures++;
                ctx.Error.WriteLine($"error: kept {kind} {id}: cannot remove its artifacts at {location}: {e.Message}");
                return false;
            }
        }
    }
}

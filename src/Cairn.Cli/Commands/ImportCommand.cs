using System.CommandLine;
using System.Globalization;
using Cairn.Storage;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn import mlflow --backend-store-uri URI --artifacts-root PATH_OR_S3</c>: moves an MLflow 2.x tracking database and its
/// artifacts into the Cairn store of the tracking URI, keeping ids (<see cref="MlflowImporter"/>). Safe to run again: what is
/// there already is skipped, so a killed import resumes where it stopped.
/// </summary>
internal static class ImportCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var backend = new Option<string>("--backend-store-uri")
        {
            Description = "MLflow's database: sqlite:////absolute/path/mlflow.db or postgresql://user:password@host:port/database.",
            Required = true,
        };
        var artifactsRoot = new Option<string>("--artifacts-root")
        {
            Description = "Where MLflow's artifacts are: the folder or s3://bucket/prefix behind mlflow-artifacts:/ and its artifact locations.",
            Required = true,
        };
        var mlflow = new Command("mlflow", "Copy experiments, runs, metrics, models, versions, aliases and artifacts from an MLflow 2.x store, keeping ids.")
        {
            backend, artifactsRoot, trackingUri, json,
        };
        mlflow.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var root = parse.GetValue(artifactsRoot)!;
            if (!root.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            {
                root = ctx.FullPath(root.StartsWith("file:", StringComparison.OrdinalIgnoreCase) ? new Uri(root).LocalPath : root);
                if (!Directory.Exists(root))
                    throw new ResourceDoesNotExistException($"Invalid value for '--artifacts-root': the folder '{root}' does not exist.");
            }
            // Bad input is refused before the Cairn store is opened (and so created).
            var source = MlflowImporter.CheckBackendStoreUri(ctx.AbsoluteUri(parse.GetValue(backend)!));
            using var client = await ctx.OpenClientAsync(ctx.TrackingUri(parse.GetValue(trackingUri)), cancellationToken);
            var summary = await CliProgress.RunAsync(ctx, "importing from MLflow", bar =>
            {
                var done = -1;
                var synchronous = bar is null ? null : new SynchronousProgress(p =>
                {
                    if (done < 0) bar.Start(p.RunsTotal);
                    bar.Describe($"importing from MLflow: {p.RunsDone}/{p.RunsTotal} runs");
                    bar.Advance(p.RunsDone - Math.Max(done, 0));
                    done = p.RunsDone;
                });
                return MlflowImporter.RunAsync(client, source, root,
                    Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(ctx.GetEnvironmentVariable), synchronous, cancellationToken);
            }, enabled: !parse.GetValue(json));

            foreach (var warning in summary.Warnings) ctx.Error.WriteLine($"warning: {warning}");
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    foreach (var kind in summary.Kinds)
                    {
                        w.WriteStartObject(kind.Replace(' ', '_'));
                        w.WriteNumber("found", summary.Found.GetValueOrDefault(kind));
                        w.WriteNumber("imported", summary.Imported.GetValueOrDefault(kind));
                        w.WriteEndObject();
                    }
                    w.WriteNumber("artifact_bytes", summary.ArtifactBytes);
                    w.WriteNumber("warnings", summary.Warnings.Count);
                    w.WriteEndObject();
                });
            }
            else
            {
                var table = new Table().AddColumns("What", "In MLflow", "Imported", "Already in Cairn");
                foreach (var kind in summary.Kinds)
                {
                    var found = summary.Found.GetValueOrDefault(kind);
                    var imported = summary.Imported.GetValueOrDefault(kind);
                    table.AddRow(kind, Count(found), Count(imported), kind == "artifact files copied" ? "-" : Count(Math.Max(0, found - imported)));
                }
                ctx.Console.Write(table);
                ctx.Out.WriteLine($"Imported from MLflow into {client.TrackingUri}; {summary.ArtifactBytes.ToString("N0", CultureInfo.InvariantCulture)} artifact bytes copied" +
                    (summary.Warnings.Count > 0 ? $", {summary.Warnings.Count} warning(s)." : "."));
            }
            return ExitCodes.Ok;
        });
        return new Command("import", "Bring history from another tool into Cairn.") { mlflow };
    }

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool and could report after the bar is gone).</summary>
    private sealed class SynchronousProgress(Action<MlflowImportProgress> report) : IProgress<MlflowImportProgress>
    {
        public void Report(MlflowImportProgress value) => report(value);
    }
}

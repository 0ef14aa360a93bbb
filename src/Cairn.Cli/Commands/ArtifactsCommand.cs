using System.CommandLine;
using Cairn.Client;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn artifacts list|download</c>: through a server's artifact proxy, or the run's folder for a local store.</summary>
internal static class ArtifactsCommand
{
    public static Command Create(CliContext app) => new("artifacts", "List and download a run's artifacts.")
    {
        List(app), Download(app),
    };

    private static Command List(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var runId = new Argument<string>("run-id") { Description = "The run's id." };
        var path = new Argument<string?>("path") { Description = "A folder below the run's artifact root (default: the root).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("list", "List one folder of a run's artifacts.") { runId, path, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var listing = await client.ListArtifactsAsync(parse.GetValue(runId)!, parse.GetValue(path), cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("root_uri", listing.RootUri);
                    w.WriteStartArray("files");
                    foreach (var f in listing.Files)
                    {
                        w.WriteStartObject();
                        w.WriteString("path", f.Path);
                        w.WriteBoolean("is_dir", f.IsDir);
                        if (f.FileSize is { } size) w.WriteNumber("file_size", size);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return 0;
            }
            var table = new Table().AddColumns("Path", "Type", "Size");
            foreach (var f in listing.Files)
                table.AddRow(Markup.Escape(f.Path), f.IsDir ? "dir" : "file", f.FileSize is { } size ? Size(size) : "");
            ctx.Console.Write(table);
            if (listing.Files.Count == 0) ctx.Error.WriteLine("No artifacts here.");
            return 0;
        });
        return command;
    }

    private static Command Download(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var runId = new Argument<string>("run-id") { Description = "The run's id." };
        var path = new Argument<string?>("path") { Description = "A file or folder below the artifact root (default: everything).", Arity = ArgumentArity.ZeroOrOne };
        var dest = new Option<string>("--dest", "-d") { Description = "Folder to download into; artifact paths are kept below it.", DefaultValueFactory = _ => "." };
        var command = new Command("download", "Download a run's artifacts.") { runId, path, dest, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var destination = ctx.FullPath(parse.GetValue(dest)!);
            // A folder's size is known only once it is walked: the bar pulses and counts the files written so far.
            var files = await CliProgress.RunAsync(ctx, "downloading artifacts", bar =>
            {
                bar?.Indeterminate();
                var done = 0;
                var progress = bar is null ? null : new FileCount(f => bar.Describe($"downloading artifacts: {Interlocked.Increment(ref done)} file(s), last {Path.GetFileName(f)}"));
                return client.DownloadArtifactsAsync(parse.GetValue(runId)!, parse.GetValue(path), destination, progress, cancellationToken);
            }, enabled: !parse.GetValue(json));
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("files");
                    foreach (var f in files) w.WriteStringValue(f);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return 0;
            }
            foreach (var f in files) ctx.Out.WriteLine(f);
            ctx.Error.WriteLine($"Downloaded {files.Count} file(s) to {destination}.");
            return 0;
        });
        return command;
    }

    private static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.#} GB",
    };

    /// <summary>Runs on the reporting thread (<see cref="Progress{T}"/> would post, and could lag the result).</summary>
    private sealed class FileCount(Action<string> onFile) : IProgress<string>
    {
        public void Report(string value) => onFile(value);
    }
}

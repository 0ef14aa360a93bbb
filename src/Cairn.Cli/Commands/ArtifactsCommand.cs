using System.CommandLine;
using Cairn.Client;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn artifacts list|download</c>: through a server's artifact proxy, or the run's folder for a local store.</summary>
internal static class ArtifactsCommand
{
    public static Command Create(CliIO io) => new("artifacts", "List and download a run's artifacts.")
    {
        List(io), Download(io),
    };

    private static Command List(CliIO io)
    {
        var trackingUri = TrackingUriOption(io);
        var json = JsonOption();
        var runId = new Argument<string>("run-id") { Description = "The run's id." };
        var path = new Argument<string?>("path") { Description = "A folder below the run's artifact root (default: the root).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("list", "List one folder of a run's artifacts.") { runId, path, trackingUri, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = await OpenAsync(parse, trackingUri, cancellationToken);
            var listing = await client.ListArtifactsAsync(parse.GetValue(runId)!, parse.GetValue(path), cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(io, w =>
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
            io.Console.Write(table);
            if (listing.Files.Count == 0) io.Error.WriteLine("No artifacts here.");
            return 0;
        });
        return command;
    }

    private static Command Download(CliIO io)
    {
        var trackingUri = TrackingUriOption(io);
        var json = JsonOption();
        var runId = new Argument<string>("run-id") { Description = "The run's id." };
        var path = new Argument<string?>("path") { Description = "A file or folder below the artifact root (default: everything).", Arity = ArgumentArity.ZeroOrOne };
        var dest = new Option<string>("--dest", "-d") { Description = "Folder to download into; artifact paths are kept below it.", DefaultValueFactory = _ => "." };
        var command = new Command("download", "Download a run's artifacts.") { runId, path, dest, trackingUri, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = await OpenAsync(parse, trackingUri, cancellationToken);
            var files = await client.DownloadArtifactsAsync(parse.GetValue(runId)!, parse.GetValue(path), parse.GetValue(dest)!, cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(io, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("files");
                    foreach (var f in files) w.WriteStringValue(f);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return 0;
            }
            foreach (var f in files) io.Out.WriteLine(f);
            io.Error.WriteLine($"Downloaded {files.Count} file(s) to {Path.GetFullPath(parse.GetValue(dest)!)}.");
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
}

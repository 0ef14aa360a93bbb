using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Cairn.Client;
using Cairn.Tracking;

namespace Cairn.Cli.Commands;

/// <summary>What the tracking commands share: --tracking-uri, --json, opening the client, resolving names, formatting.</summary>
internal static class CliCommon
{
    /// <summary>--tracking-uri; unset, the command's context resolves the environment (<see cref="CliContext.TrackingUri"/>).</summary>
    public static Option<string?> TrackingUriOption() => new("--tracking-uri")
    {
        Description = "A folder, sqlite:///path.db, postgresql://... or http(s)://server (default: CAIRN_TRACKING_URI, MLFLOW_TRACKING_URI, then CAIRN_HOME).",
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Write JSON (MLflow's shapes, snake_case, times in ms) instead of tables." };

    /// <summary>Opens the client behind --tracking-uri or the environment, relative paths against the command's folder (-C).</summary>
    public static Task<CairnClient> OpenAsync(CliContext ctx, ParseResult parse, Option<string?> trackingUri, CancellationToken cancellationToken) =>
        ctx.OpenClientAsync(ctx.TrackingUri(parse.GetValue(trackingUri)), cancellationToken);

    /// <summary>An experiment given by id or by name (an id is tried first).</summary>
    public static async Task<Experiment> ResolveExperimentAsync(ITrackingStore store, string nameOrId, CancellationToken cancellationToken)
    {
        if (long.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            try
            {
                return await store.GetExperimentAsync(nameOrId, cancellationToken);
            }
            catch (ResourceDoesNotExistException)
            {
                // Not an id after all: a name made of digits is allowed.
            }
        }
        return await store.FindExperimentByNameAsync(nameOrId, cancellationToken)
            ?? throw new ResourceDoesNotExistException($"No experiment with id or name '{nameOrId}'. See them with: cairn experiments list --view all");
    }

    public static ViewType ParseView(string view) => view switch
    {
        "active" => ViewType.ACTIVE_ONLY,
        "deleted" => ViewType.DELETED_ONLY,
        "all" => ViewType.ALL,
        _ => throw new InvalidParameterValueException($"Invalid value '{view}' for '--view': expected active, deleted or all."),
    };

    public static Option<string> ViewOption()
    {
        var option = new Option<string>("--view") { Description = "Which to show: active, deleted or all.", DefaultValueFactory = _ => "active" };
        option.AcceptOnlyFromAmong("active", "deleted", "all");
        return option;
    }

    /// <summary>A ms-since-epoch time as local "yyyy-MM-dd HH:mm:ss", or "-".</summary>
    public static string Time(long? ms) =>
        ms is null or 0 ? "-" : DateTimeOffset.FromUnixTimeMilliseconds(ms.Value).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Duration(long start, long? end)
    {
        if (end is null || end < start) return "-";
        var span = TimeSpan.FromMilliseconds(end.Value - start);
        return span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes}m"
            : span.TotalMinutes >= 1 ? $"{span.Minutes}m {span.Seconds}s"
            : $"{span.TotalSeconds:0.0}s";
    }

    public static string Number(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    /// <summary>Writes one JSON document to stdout, indented, with a final newline.</summary>
    public static void WriteJson(CliContext ctx, Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(writer);
        ctx.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}

using System.CommandLine;
using Cairn.Client;
using Cairn.Data;
using Cairn.Pipelines;

namespace Cairn.Cli.Commands;

/// <summary>Where <c>cairn repro</c>, <c>cairn exp run</c> and <c>cairn data add --name</c> record into tracking.</summary>
internal static class PipelineTracking
{
    /// <summary>The <c>--no-track</c> option.</summary>
    public static Option<bool> NoTrackOption() => new("--no-track")
    {
        Description = "Do not record into experiment tracking (CAIRN_TRACKING_URI, MLFLOW_TRACKING_URI, CAIRN_HOME or .cairn/cairn.db)",
    };

    /// <summary>
    /// CAIRN_TRACKING_URI, else MLFLOW_TRACKING_URI, else the embedded store in CAIRN_HOME, else the repository's
    /// <c>.cairn</c> folder (its <c>cairn.db</c> and <c>artifacts/</c>, beside the data cache).
    /// </summary>
    public static string ResolveTrackingUri(CliContext ctx, DataRepository repo)
    {
        if (ctx.GetEnvironmentVariable("CAIRN_TRACKING_URI") is { Length: > 0 }
            || ctx.GetEnvironmentVariable("MLFLOW_TRACKING_URI") is { Length: > 0 }
            || ctx.GetEnvironmentVariable("CAIRN_HOME") is { Length: > 0 })
            return ctx.TrackingUri();
        return repo.CairnDir;
    }

    /// <summary>The experiment of pipeline runs: CAIRN_EXPERIMENT, else the repository folder's name.</summary>
    public static string ExperimentName(CliContext ctx, DataRepository repo)
        => ctx.GetEnvironmentVariable("CAIRN_EXPERIMENT") is { Length: > 0 } name ? name
           : Path.GetFileName(repo.Root.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)) is { Length: > 0 } folder ? folder
           : "Default";

    /// <summary>Opens the tracking client, authenticating to a server as the environment says.</summary>
    public static Task<CairnClient> OpenAsync(CliContext ctx, DataRepository repo, CancellationToken ct)
        => ctx.OpenClientAsync(ResolveTrackingUri(ctx, repo), ct);

    /// <summary>
    /// The JSON-lines recorder of <see cref="PipelineCommands.RecorderFactory"/> and, unless <paramref name="track"/> is false,
    /// a <see cref="TrackingRunRecorder"/> beside it whose failures print one warning. Dispose it when the run is over.
    /// </summary>
    public static IPipelineRunRecorder CreateRecorder(CliContext ctx, DataRepository repo, bool track)
    {
        var lines = PipelineCommands.RecorderFactory(repo);
        if (!track) return lines;
        var tracking = new TrackingRunRecorder(ct => OpenAsync(ctx, repo, ct), ExperimentName(ctx, repo), Path.Combine(repo.CairnDir, "datasets"));
        return new BestEffortRunRecorder(lines, tracking, ctx.Error.WriteLine);
    }

    /// <summary>Registers a dataset in tracking; a failure prints one warning line and is otherwise ignored.</summary>
    public static async Task RegisterDatasetAsync(CliContext ctx, DataRepository repo, DatasetRecord dataset, CancellationToken ct)
    {
        try
        {
            using var client = await OpenAsync(ctx, repo, ct).ConfigureAwait(false);
            await DatasetTracking.RegisterAsync(client, dataset, ct).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // tracking is best effort: the data is added either way
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            ctx.Error.WriteLine($"warning: dataset {dataset.Name} not registered in tracking ({e.GetType().Name}: {e.Message.Split('\n', 2)[0].Trim()})");
        }
    }
}

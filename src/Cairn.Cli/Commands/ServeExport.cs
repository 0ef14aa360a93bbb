using System.Globalization;
using Cairn.Client;
using Cairn.Server.Scoring.Export;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn serve --export grafana|bundle|k8s</c>: checks which arguments go with which export and hands over to the
/// generators in <c>Cairn.Server.Scoring.Export</c>. Text exports go to stdout or <c>-o FILE</c>; the bundle to DIR.
/// </summary>
internal static class ServeExport
{
    public const string Grafana = "grafana";
    public const string Bundle = "bundle";
    public const string Kubernetes = "k8s";

    /// <summary>The serve command's arguments that exports read.</summary>
    public sealed record Request(string? ModelUri, string? Dir, string? Output, string? Image, int Replicas, int Port, string? Name, string? Flavor,
        string? TrackingUri, bool Force);

    public static async Task<int> RunAsync(CliContext ctx, string kind, Request request, Func<CliContext, CancellationToken, Task<CairnClient>> openClient,
        CancellationToken cancellationToken)
    {
        if (kind != Bundle)
        {
            if (request.Dir is not null)
                throw new InvalidParameterValueException($"Unexpected argument '{request.Dir}': only --export bundle takes a DIR; --export {kind} writes to stdout or -o FILE.");
            if (request.Force)
                throw new InvalidParameterValueException($"'--force' goes with --export bundle, not --export {kind}.");
        }
        switch (kind)
        {
            case Grafana:
                if (request.ModelUri is not null)
                    throw new InvalidParameterValueException($"Unexpected argument '{request.ModelUri}': --export grafana takes no MODEL_URI (the dashboard covers every model, filtered by its variables).");
                await WriteTextAsync(ctx, request.Output, ScoringDashboard.ToJson() + "\n", "Grafana dashboard", cancellationToken);
                return 0;
            case Kubernetes:
                var modelUri = request.ModelUri ?? KubernetesOptions.DefaultModelUri;
                var options = new KubernetesOptions(modelUri, KubernetesManifest.NameFor(request.Name ?? request.ModelUri),
                    request.Image ?? KubernetesOptions.DefaultImage, request.Replicas, request.Port, request.TrackingUri) { ModelName = request.Name };
                KubernetesManifest.Validate(options);
                await WriteTextAsync(ctx, request.Output, KubernetesManifest.ToYaml(options), "Kubernetes manifest", cancellationToken);
                if (request.ModelUri is null)
                    ctx.Error.WriteLine($"No MODEL_URI given: the manifest serves {KubernetesOptions.DefaultModelUri}; change it in the container's args.");
                return 0;
            default:
                return await BundleAsync(ctx, request, openClient, cancellationToken);
        }
    }

    private static async Task<int> BundleAsync(CliContext ctx, Request request, Func<CliContext, CancellationToken, Task<CairnClient>> openClient,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.ModelUri) || string.IsNullOrEmpty(request.Dir))
            throw new InvalidParameterValueException("--export bundle needs MODEL_URI and DIR: cairn serve MODEL_URI --export bundle DIR.");
        if (request.Output is not null)
            throw new InvalidParameterValueException("'--output' does not go with --export bundle: the bundle is written to DIR.");
        var uri = request.ModelUri;
        if (!uri.Contains(":/", StringComparison.Ordinal))
        {
            uri = ctx.FullPath(uri);
            if (!Directory.Exists(uri))
                throw new ResourceDoesNotExistException($"Invalid value for 'MODEL_URI': '{request.ModelUri}' is neither a model folder nor a models:/ or runs:/ URI.");
        }
        using var client = await openClient(ctx, cancellationToken);
        var result = await CliProgress.RunAsync(ctx, "Bundling cairn", async bar =>
        {
            long last = 0;
            return await ServingBundle.WriteAsync(ctx.FullPath(request.Dir), request.Force, uri, request.Name, request.Flavor,
                (folder, token) => client.DownloadModelAsync(uri, folder, token), AppContext.BaseDirectory,
                (copied, total) =>
                {
                    if (bar is null) return;
                    if (copied == 0) bar.Start(total);
                    bar.Advance(copied - last);
                    last = copied;
                }, cancellationToken);
        });
        ctx.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Wrote {request.Dir}: model/ ({result.ModelName}), server/ ({result.Files} files, {result.Bytes / 1048576.0:0.#} MB), openapi.json, run.sh, README.md. Start it with {Path.Combine(request.Dir, ServingBundle.RunScript)}"));
        return 0;
    }

    /// <summary>Writes <paramref name="text"/> to stdout, or to <paramref name="output"/> (relative to -C) through a temporary file moved into place.</summary>
    private static async Task WriteTextAsync(CliContext ctx, string? output, string text, string what, CancellationToken cancellationToken)
    {
        if (output is null)
        {
            await ctx.Out.WriteAsync(text.AsMemory(), cancellationToken);
            return;
        }
        var path = ctx.FullPath(output);
        if (Directory.Exists(path))
            throw new InvalidParameterValueException($"Invalid value for '--output': '{output}' is a folder; give a file name.");
        var folder = Path.GetDirectoryName(path);
        if (folder is null || !Directory.Exists(folder))
            throw new ResourceDoesNotExistException($"Invalid value for '--output': the folder of '{output}' does not exist.");
        var temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await File.WriteAllTextAsync(temporary, text, cancellationToken);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
        ctx.Error.WriteLine($"Wrote the {what} to {output}");
    }
}

using Cairn.Client;
using Cairn.Registry;

namespace Cairn.ML.Evaluation;

/// <summary>Finds a model package on disk from <c>models:/NAME@ALIAS</c>, <c>models:/NAME/3</c>, <c>runs:/&lt;id&gt;/model</c> or a folder.</summary>
public static class ModelLocator
{
    /// <summary>
    /// A local folder holding the package: a folder is used in place; a registry or run URI is downloaded into
    /// <paramref name="scratch"/>. Returns the folder and the run that logged the model, when known.
    /// </summary>
    public static async Task<(string Folder, string? RunId)> LocateAsync(string model, CairnClient client, string scratch, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        var uri = model;
        for (var depth = 0; depth < 8; depth++)
        {
            if (!ModelUri.IsModelReference(uri))
            {
                if (Directory.Exists(uri)) return (Path.GetFullPath(uri), null);
                throw new ResourceDoesNotExistException($"Model '{model}' not found: '{uri}' is neither a folder nor a runs:/ or models:/ URI.");
            }
            switch (ModelUri.Parse(uri, "--model"))
            {
                case ModelUri.Run run:
                    var target = Path.Combine(scratch, "model-" + Guid.NewGuid().ToString("N")[..8]);
                    await client.DownloadArtifactsAsync(run.RunId, run.Path, target, cancellationToken).ConfigureAwait(false);
                    var folder = run.Path.Length == 0 ? target : Path.Combine(target, run.Path);
                    return (folder, run.RunId);
                case var registered:
                    uri = (await ModelUri.FindVersionAsync(registered, client.Registry, cancellationToken).ConfigureAwait(false)).Source;
                    break;
            }
        }
        throw new InvalidParameterValueException($"Model '{model}' refers to models:/ URIs more than 8 levels deep.");
    }
}

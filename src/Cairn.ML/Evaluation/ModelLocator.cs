using Cairn.Client;

namespace Cairn.ML.Evaluation;

/// <summary>
/// Finds a model package on disk from <c>models:/NAME@ALIAS</c>, <c>models:/NAME/3</c>, <c>runs:/&lt;id&gt;/model</c> or a folder,
/// through the one resolver, <see cref="CairnClient.LocateModelAsync"/>.
/// </summary>
public static class ModelLocator
{
    /// <summary>
    /// A local folder holding the package: a folder is used in place; a registry or run URI is downloaded into
    /// <paramref name="scratch"/>. Returns the folder and the run that logged the model, when known.
    /// </summary>
    public static async Task<(string Folder, string? RunId)> LocateAsync(string model, CairnClient client, string scratch, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentNullException.ThrowIfNull(client);
        var location = await client.LocateModelAsync(model, scratch, "--model", cancellationToken).ConfigureAwait(false);
        return (location.Folder, location.RunId);
    }
}

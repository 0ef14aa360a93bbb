using Cairn.Client;
using Cairn.Registry;

namespace Cairn.ML.Training;

/// <summary>Registers a trained model: the registered model (created when missing) and a new version of it.</summary>
public static class ModelRegistration
{
    /// <summary>Creates the registered model when missing, then a version with source <paramref name="modelUri"/>.</summary>
    public static async Task<ModelVersion> RegisterAsync(CairnClient client, string name, string modelUri, string runId, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.Registry.GetRegisteredModelAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceDoesNotExistException)
        {
            try
            {
                await client.Registry.CreateRegisteredModelAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (ResourceAlreadyExistsException)
            {
                // Another trainer registered it in between: use it.
            }
        }
        return await client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest(name, modelUri, runId), cancellationToken).ConfigureAwait(false);
    }
}

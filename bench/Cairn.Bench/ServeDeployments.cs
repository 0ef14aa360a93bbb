using Cairn.Registry;
using Cairn.Serving;
using Cairn.Storage;

namespace Cairn.Bench;

/// <summary>
/// The routing scenario's `cairn server`: the FastTree package registered three times as model <c>bench</c> (versions 1-3,
/// each its own copy of the files), a deployment <c>single</c> with one route (version 1 at 100%), a deployment <c>split</c>
/// splitting 90/10 between versions 1 and 2, and a deployment <c>ab</c> with the same split plus version 3 as a shadow that
/// scores a copy of every request off the request path. Prediction logging is off on this server (sample rate 0), as it is
/// off on the plain `cairn serve` it is compared with, so the figures differ by routing alone.
/// </summary>
internal static class ServeDeployments
{
    public const string Single = "single";
    public const string Split = "split";
    public const string AbShadow = "ab";

    public static async Task<ServerProcess> StartAsync(BenchOptions options, string home, string package)
    {
        Directory.CreateDirectory(home);
        var artifacts = Path.Combine(home, "artifacts");
        using (var stores = await CairnStores.OpenAsync(home, new CairnStoreOptions { DefaultArtifactRoot = artifacts }))
        {
            await stores.Registry.CreateRegisteredModelAsync("bench");
            for (var version = 1; version <= 3; version++)
            {
                var copy = Path.Combine(home, "packages", $"bench-{version}");
                Directory.CreateDirectory(copy);
                foreach (var file in Directory.GetFiles(package)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
                await stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("bench", copy));
            }
            await stores.Deployments.CreateDeploymentAsync(new DeploymentSpec(Single, [DeploymentRoute.Primary("models:/bench/1", 100)]), "bench");
            await stores.Deployments.CreateDeploymentAsync(new DeploymentSpec(Split,
                [DeploymentRoute.Primary("models:/bench/1", 90), DeploymentRoute.Primary("models:/bench/2", 10)]), "bench");
            await stores.Deployments.CreateDeploymentAsync(new DeploymentSpec(AbShadow,
                [DeploymentRoute.Primary("models:/bench/1", 90), DeploymentRoute.Primary("models:/bench/2", 10), DeploymentRoute.Shadow("models:/bench/3")]), "bench");
        }
        return await ServerProcess.StartAsync(options.Cli, ServerProcess.ServerArgs(home, artifacts), environment: new Dictionary<string, string?>
        {
            ["CAIRN_HOME"] = home,
            ["Cairn__PredictionLog__SampleRate"] = "0",
        });
    }

    /// <summary>The scoring path of deployment <paramref name="name"/>.</summary>
    public static string ScoringPath(string name) => $"api/cairn/v1/deployments/{name}/invocations";
}

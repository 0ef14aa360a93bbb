using System.Globalization;
using Cairn.Client;

namespace Cairn.Serving;

/// <summary>
/// Deployments over a Cairn server's REST API (<c>/api/cairn/v1/deployments</c>), through the transport the tracking and
/// registry stores share (one connection pool, credentials, retries, MLflow's error bodies turned back into the exceptions
/// the database store throws). <c>user</c> travels in the X-Cairn-User header, as the registry's audit user does; a server
/// with access control records the signed-in user instead. Input is checked here first, so a bad request fails the same way
/// without a round trip.
/// </summary>
public sealed class HttpDeploymentStore : IDeploymentStore, IDisposable
{
    private const string Api = "api/cairn/v1/deployments";

    private readonly MlflowHttpTransport _transport;
    private readonly bool _ownsTransport;
    private readonly DeploymentJson _json = DeploymentJson.Default;

    /// <summary>Connects to the server at <paramref name="trackingUri"/> (http:// or https://, optionally with a path prefix).</summary>
    public HttpDeploymentStore(string trackingUri, HttpTrackingStoreOptions? options = null)
        : this(new MlflowHttpTransport(trackingUri, options), ownsTransport: true)
    {
    }

    internal HttpDeploymentStore(MlflowHttpTransport transport, bool ownsTransport)
    {
        _transport = transport;
        _ownsTransport = ownsTransport;
    }

    public async Task<Deployment> CreateDeploymentAsync(DeploymentSpec spec, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateSpec(spec);
        return One(await _transport.SendJsonAsync(HttpMethod.Post, Api, spec.ToRequest(), _json.DeploymentRequest, _json.DeploymentResponse,
            idempotent: false, user, cancellationToken).ConfigureAwait(false));
    }

    public async Task<Deployment> GetDeploymentAsync(string name, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        return One(await _transport.GetJsonAsync(Path(name), _json.DeploymentResponse, cancellationToken).ConfigureAwait(false));
    }

    public async Task<IReadOnlyList<Deployment>> ListDeploymentsAsync(CancellationToken cancellationToken = default) =>
        (await _transport.GetJsonAsync(Api, _json.DeploymentsResponse, cancellationToken).ConfigureAwait(false)).Deployments?.Select(d => d.ToDomain()).ToList() ?? [];

    public async Task<Deployment> UpdateDeploymentAsync(string name, DeploymentUpdate update, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        DeploymentValidator.ValidateUpdate(update);
        // Not retried: each change writes a revision, so a repeat after a lost answer would write two.
        return One(await _transport.SendJsonAsync(HttpMethod.Patch, Path(name), update.ToRequest(), _json.DeploymentRequest, _json.DeploymentResponse,
            idempotent: false, user, cancellationToken).ConfigureAwait(false));
    }

    public async Task<Deployment> CanaryAsync(string name, string modelUri, int percent, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        DeploymentValidator.ParseRouteUri(modelUri, "model_uri");
        DeploymentValidator.ValidatePercent(percent);
        return One(await _transport.SendJsonAsync(HttpMethod.Post, Path(name) + "/canary", new CanaryRequest { ModelUri = modelUri, Percent = percent },
            _json.CanaryRequest, _json.DeploymentResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));
    }

    public async Task<Deployment> PromoteAsync(string name, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        return One(await _transport.SendJsonAsync(HttpMethod.Post, Path(name) + "/promote", new DeploymentEmpty(), _json.DeploymentEmpty,
            _json.DeploymentResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));
    }

    public async Task<Deployment> RollbackAsync(string name, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        return One(await _transport.SendJsonAsync(HttpMethod.Post, Path(name) + "/rollback", new DeploymentEmpty(), _json.DeploymentEmpty,
            _json.DeploymentResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));
    }

    public async Task<IReadOnlyList<DeploymentRevision>> GetHistoryAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        var response = await _transport.GetJsonAsync($"{Path(name)}/history?max_results={maxResults.ToString(CultureInfo.InvariantCulture)}",
            _json.DeploymentHistoryResponse, cancellationToken).ConfigureAwait(false);
        return response.Revisions?.Select(r => r.ToDomain(name)).ToList() ?? [];
    }

    public async Task DeleteDeploymentAsync(string name, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        await _transport.SendJsonAsync(HttpMethod.Delete, Path(name), new DeploymentEmpty(), _json.DeploymentEmpty, _json.DeploymentEmpty,
            idempotent: false, null, cancellationToken).ConfigureAwait(false);
    }

    private static string Path(string name) => $"{Api}/{Uri.EscapeDataString(name)}";

    private static Deployment One(DeploymentResponse response) =>
        (response.Deployment ?? throw new CairnException(ErrorCode.INTERNAL_ERROR, "The server answered without 'deployment'.")).ToDomain();

    /// <summary>Closes the connection pool unless it is shared with the other stores.</summary>
    public void Dispose()
    {
        if (_ownsTransport) _transport.Dispose();
    }
}

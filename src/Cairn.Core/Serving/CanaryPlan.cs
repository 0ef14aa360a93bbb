namespace Cairn.Serving;

/// <summary>
/// The canary steps as pure functions of a deployment's routes (the store runs them under the deployment's row lock):
/// <see cref="Start"/> puts a candidate beside the one primary route, <see cref="Promote"/> gives it all the traffic.
/// Shadow routes are kept as they are.
/// </summary>
public static class CanaryPlan
{
    /// <summary>
    /// The routes after a canary step: the candidate at <paramref name="percent"/> beside the current primary (which keeps
    /// the rest). With a canary already running, the same candidate moves to the new percentage (10%, then 50%); another
    /// candidate is refused until the running one is promoted or rolled back.
    /// </summary>
    public static IReadOnlyList<DeploymentRoute> Start(IReadOnlyList<DeploymentRoute> routes, string modelUri, int percent)
    {
        DeploymentValidator.ParseRouteUri(modelUri, "model_uri");
        DeploymentValidator.ValidatePercent(percent);
        var primaries = routes.Where(r => r.Role == RouteRole.Primary).ToList();
        var shadows = routes.Where(r => r.Role == RouteRole.Shadow);
        if (primaries.FirstOrDefault(r => r.Canary) is { } running)
        {
            if (!string.Equals(running.ModelUri, modelUri, StringComparison.Ordinal))
                throw new InvalidStateException($"A canary of '{running.ModelUri}' is running; promote it or roll it back before starting one of '{modelUri}'.");
            var stable = primaries.Where(r => !r.Canary).ToList();
            if (stable.Count != 1)
                throw new InvalidStateException($"The canary of '{running.ModelUri}' runs beside {stable.Count} primary routes; change its share with an update of the routes.");
            return [stable[0] with { Weight = 100 - percent }, running with { Weight = percent }, .. shadows];
        }
        if (primaries.Count != 1)
            throw new InvalidStateException($"A canary starts from one primary route; this deployment has {primaries.Count}. Update the routes to one primary first.");
        var current = primaries[0];
        if (string.Equals(current.ModelUri, modelUri, StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid value for parameter 'model_uri': '{modelUri}' is already the primary route.");
        return [current with { Weight = 100 - percent }, new DeploymentRoute(modelUri, percent, RouteRole.Primary, Canary: true), .. shadows];
    }

    /// <summary>The routes after promotion: the canary candidate answers every request and the route it ran beside is removed.</summary>
    public static IReadOnlyList<DeploymentRoute> Promote(IReadOnlyList<DeploymentRoute> routes)
    {
        var candidate = routes.FirstOrDefault(r => r.Role == RouteRole.Primary && r.Canary)
            ?? throw new InvalidStateException("No canary is running: start one with canary (model_uri, percent) before promoting.");
        return [candidate with { Weight = 100, Canary = false }, .. routes.Where(r => r.Role == RouteRole.Shadow)];
    }
}

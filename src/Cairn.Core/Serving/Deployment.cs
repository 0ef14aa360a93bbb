namespace Cairn.Serving;

/// <summary>What a route does with a request: a primary route may answer it; a shadow route sees a copy and never answers.</summary>
public enum RouteRole
{
    Primary,
    Shadow,
}

/// <summary>Where the sticky key of a request is read from: a request header or a top-level field of the JSON body.</summary>
public enum StickyKeySource
{
    Header,
    Field,
}

/// <summary>
/// The request value whose hash picks the primary route, so one key always meets the same model (a user sees one variant).
/// </summary>
/// <param name="Source">A header or a JSON field.</param>
/// <param name="Name">The header's or the field's name.</param>
public sealed record StickyKey(StickyKeySource Source, string Name)
{
    public static StickyKey Header(string name) => new(StickyKeySource.Header, name);

    public static StickyKey Field(string name) => new(StickyKeySource.Field, name);
}

/// <summary>
/// One route of a deployment: a registered model by version (<c>models:/churn/3</c>) or by alias (<c>models:/churn@champion</c>,
/// which follows the alias as it moves), its share of the traffic, and its role.
/// </summary>
/// <param name="ModelUri">A <c>models:/name/version</c> or <c>models:/name@alias</c> URI.</param>
/// <param name="Weight">The percentage (0..100) of requests a primary route answers; null for a shadow route.</param>
/// <param name="Role">Primary (answers) or shadow (sees a copy, never answers).</param>
/// <param name="Canary">True for the candidate of a canary step, which <c>promote</c> gives all the traffic.</param>
public sealed record DeploymentRoute(string ModelUri, int? Weight, RouteRole Role = RouteRole.Primary, bool Canary = false)
{
    /// <summary>A primary route answering <paramref name="weight"/> percent of the requests.</summary>
    public static DeploymentRoute Primary(string modelUri, int weight) => new(modelUri, weight);

    /// <summary>A shadow route: it sees a copy of every request and never answers.</summary>
    public static DeploymentRoute Shadow(string modelUri) => new(modelUri, null, RouteRole.Shadow);
}

/// <summary>
/// A named deployment as it is now: its routes, its sticky key (or none), and its revision, which every change increments
/// (<see cref="DeploymentRevision"/> keeps each one). Times are Unix milliseconds; users are who made the change.
/// </summary>
public sealed record Deployment(
    string Name,
    string? Description,
    IReadOnlyList<DeploymentRoute> Routes,
    StickyKey? Sticky,
    long Revision,
    long CreationTime,
    string? CreatedBy,
    long LastUpdatedTime,
    string? UpdatedBy)
{
    /// <summary>
    /// The share (0 to 1) of this deployment's requests the prediction log keeps, decided per request id so a request's
    /// primary and shadow answers are kept or left out together; null follows the server's <c>Cairn:PredictionLog:SampleRate</c>.
    /// </summary>
    public double? LogSampleRate { get; init; }

    /// <summary>The routes that answer requests.</summary>
    public IEnumerable<DeploymentRoute> PrimaryRoutes => Routes.Where(r => r.Role == RouteRole.Primary);

    /// <summary>The routes that see a copy of the traffic and never answer.</summary>
    public IEnumerable<DeploymentRoute> ShadowRoutes => Routes.Where(r => r.Role == RouteRole.Shadow);
}

/// <summary>What was asked to create a deployment; <paramref name="LogSampleRate"/> as <see cref="Deployment.LogSampleRate"/>.</summary>
public sealed record DeploymentSpec(string Name, IReadOnlyList<DeploymentRoute> Routes, StickyKey? Sticky = null, string? Description = null,
    double? LogSampleRate = null);

/// <summary>
/// A change of a deployment: each field that is set replaces the current value; <paramref name="ClearSticky"/> removes the
/// sticky key (requests are then split at random); <paramref name="ClearLogSampleRate"/> makes the deployment follow the server's
/// sample rate again.
/// </summary>
public sealed record DeploymentUpdate(IReadOnlyList<DeploymentRoute>? Routes = null, string? Description = null, StickyKey? Sticky = null, bool ClearSticky = false,
    double? LogSampleRate = null, bool ClearLogSampleRate = false);

/// <summary>What made a revision.</summary>
public static class DeploymentAction
{
    public const string Create = "create";
    public const string Update = "update";
    public const string Canary = "canary";
    public const string Promote = "promote";
    public const string Rollback = "rollback";
}

/// <summary>
/// One revision of a deployment: the routing it set, what made it (<see cref="DeploymentAction"/>), who and when. A rollback
/// names the revision whose routing it restored in <paramref name="RestoredRevision"/>.
/// </summary>
public sealed record DeploymentRevision(
    string Name,
    long Revision,
    string Action,
    IReadOnlyList<DeploymentRoute> Routes,
    StickyKey? Sticky,
    long? RestoredRevision,
    string User,
    long Timestamp);

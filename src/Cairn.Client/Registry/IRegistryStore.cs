using Cairn.Tracking;

namespace Cairn.Registry;

/// <summary>
/// The model registry contract with MLflow 2.x semantics, plus Cairn's audit trail, alias rollback and promotion gates.
/// Implemented over SQLite, PostgreSQL and HTTP. Get* methods throw <see cref="ResourceDoesNotExistException"/>.
/// Every alias and stage change is recorded in the audit trail with <c>user</c> (default "unknown").
/// </summary>
public interface IRegistryStore
{
    Task<RegisteredModel> CreateRegisteredModelAsync(string name, IReadOnlyList<RegisteredModelTag>? tags = null, string? description = null, CancellationToken cancellationToken = default);
    Task<RegisteredModel> GetRegisteredModelAsync(string name, CancellationToken cancellationToken = default);
    Task<RegisteredModel> RenameRegisteredModelAsync(string name, string newName, CancellationToken cancellationToken = default);
    Task<RegisteredModel> UpdateRegisteredModelAsync(string name, string? description, CancellationToken cancellationToken = default);
    /// <summary>Deletes the model with its versions, tags and aliases. The audit trail stays.</summary>
    Task DeleteRegisteredModelAsync(string name, CancellationToken cancellationToken = default);
    Task<Page<RegisteredModel>> SearchRegisteredModelsAsync(RegisteredModelSearch search, CancellationToken cancellationToken = default);
    Task SetRegisteredModelTagAsync(string name, string key, string value, CancellationToken cancellationToken = default);
    Task DeleteRegisteredModelTagAsync(string name, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds the next version (numbers grow per model and are never reused). A <c>runs:/</c> or <c>models:/</c> source must
    /// resolve; a <c>runs:/</c> source also sets the run id when none is given. The source is stored as given (as MLflow does).
    /// </summary>
    Task<ModelVersion> CreateModelVersionAsync(CreateModelVersionRequest request, CancellationToken cancellationToken = default);
    Task<ModelVersion> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken = default);
    Task<ModelVersion> UpdateModelVersionAsync(string name, string version, string? description, CancellationToken cancellationToken = default);
    Task DeleteModelVersionAsync(string name, string version, CancellationToken cancellationToken = default);
    Task<Page<ModelVersion>> SearchModelVersionsAsync(ModelVersionSearch search, CancellationToken cancellationToken = default);
    Task SetModelVersionTagAsync(string name, string version, string key, string value, CancellationToken cancellationToken = default);
    Task DeleteModelVersionTagAsync(string name, string version, string key, CancellationToken cancellationToken = default);
    /// <summary>Moves a version to a stage (case-insensitive name); with <paramref name="archiveExistingVersions"/> the other versions in that stage go to Archived.</summary>
    Task<ModelVersion> TransitionModelVersionStageAsync(string name, string version, string stage, bool archiveExistingVersions = false, string? user = null, CancellationToken cancellationToken = default);
    /// <summary>The newest version of each requested stage (of every stage when <paramref name="stages"/> is empty).</summary>
    Task<IReadOnlyList<ModelVersion>> GetLatestVersionsAsync(string name, IReadOnlyList<string>? stages = null, CancellationToken cancellationToken = default);
    /// <summary>Where a client downloads the version from: its source, as MLflow answers.</summary>
    Task<string> GetModelVersionDownloadUriAsync(string name, string version, CancellationToken cancellationToken = default);

    Task SetRegisteredModelAliasAsync(string name, string alias, string version, string? user = null, CancellationToken cancellationToken = default);
    Task DeleteRegisteredModelAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default);
    /// <summary>The version an alias points at; an unknown alias is INVALID_PARAMETER_VALUE, as in MLflow.</summary>
    Task<ModelVersion> GetModelVersionByAliasAsync(string name, string alias, CancellationToken cancellationToken = default);

    /// <summary>The audit trail of a model's alias and stage changes, newest first.</summary>
    Task<IReadOnlyList<RegistryAuditEntry>> GetAuditTrailAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default);
    /// <summary>Moves <paramref name="alias"/> back to the version it pointed at before its last move; refuses when there is none.</summary>
    Task<ModelVersion> RollbackAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default);
    /// <summary>
    /// Points <paramref name="alias"/> at <paramref name="version"/> if every rule in <paramref name="requirements"/> holds
    /// (see <c>PromotionRule</c> in Cairn.Core); otherwise refuses with INVALID_STATE naming the failed rule, and changes nothing.
    /// </summary>
    Task<ModelVersion> PromoteAsync(string name, string version, string alias, IReadOnlyList<string>? requirements = null, string? user = null, CancellationToken cancellationToken = default);
}

namespace Cairn.Registry;

/// <summary>MLflow's legacy model version stages; the names travel on the wire unchanged.</summary>
public enum ModelStage { None, Staging, Production, Archived }

/// <summary>A model version's registration status, named as on MLflow's wire.</summary>
public enum ModelVersionStatus { PENDING_REGISTRATION, FAILED_REGISTRATION, READY }

public sealed record RegisteredModelTag(string Key, string Value);

public sealed record ModelVersionTag(string Key, string Value);

/// <summary>An alias of a registered model and the version it points at.</summary>
public sealed record RegisteredModelAlias(string Alias, string Version);

public sealed record RegisteredModel(
    string Name,
    long CreationTimestamp,
    long LastUpdatedTimestamp,
    string? Description,
    IReadOnlyList<ModelVersion> LatestVersions,
    IReadOnlyList<RegisteredModelTag> Tags,
    IReadOnlyList<RegisteredModelAlias> Aliases);

public sealed record ModelVersion(
    string Name,
    string Version,
    long CreationTimestamp,
    long LastUpdatedTimestamp,
    string? Description,
    string? UserId,
    ModelStage CurrentStage,
    string Source,
    string? RunId,
    string? RunLink,
    ModelVersionStatus Status,
    string? StatusMessage,
    IReadOnlyList<ModelVersionTag> Tags,
    IReadOnlyList<string> Aliases);

/// <summary>Arguments of model-versions/create.</summary>
public sealed record CreateModelVersionRequest(
    string Name,
    string Source,
    string? RunId = null,
    IReadOnlyList<ModelVersionTag>? Tags = null,
    string? RunLink = null,
    string? Description = null,
    string? UserId = null);

/// <summary>Arguments of registered-models/search.</summary>
public sealed record RegisteredModelSearch(
    string? Filter = null,
    int MaxResults = RegistryLimits.SearchRegisteredModelsDefault,
    IReadOnlyList<string>? OrderBy = null,
    string? PageToken = null);

/// <summary>Arguments of model-versions/search.</summary>
public sealed record ModelVersionSearch(
    string? Filter = null,
    int MaxResults = RegistryLimits.SearchModelVersionsDefault,
    IReadOnlyList<string>? OrderBy = null,
    string? PageToken = null);

/// <summary>What an audit entry records.</summary>
public enum RegistryAction { AliasSet, AliasDeleted, AliasRolledBack, AliasPromoted, StageTransitioned }

/// <summary>
/// One change of an alias or a stage: who made it, when, and which version the alias or stage pointed at before
/// (<see cref="FromVersion"/>) and after (<see cref="ToVersion"/>). For a stage transition, <see cref="FromVersion"/>
/// is the version that was latest in the target stage before and <see cref="PreviousStage"/> the stage the moved version left.
/// </summary>
public sealed record RegistryAuditEntry(
    long Id,
    string Name,
    RegistryAction Action,
    string? Alias,
    ModelStage? Stage,
    ModelStage? PreviousStage,
    string? FromVersion,
    string? ToVersion,
    string User,
    long Timestamp);

/// <summary>Limits of the registry API, as MLflow sets them.</summary>
public static class RegistryLimits
{
    public const int SearchRegisteredModelsDefault = 100;
    public const int SearchRegisteredModelsThreshold = 1000;
    public const int SearchModelVersionsDefault = 10_000;
    public const int SearchModelVersionsThreshold = 200_000;
    public const int MaxNameLength = 256;
    public const int MaxTagKeyLength = 250;
    public const int MaxTagValueLength = 5000;
    public const int MaxAliasLength = 255;
    public const int MaxDescriptionLength = 100_000;
    public const int MaxSourceLength = 4000;
    public const string UnknownUser = "unknown";
}

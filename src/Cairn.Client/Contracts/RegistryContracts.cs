using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Contracts;

// Wire messages of MLflow's model_registry.proto (and Cairn's registry additions), snake_case on the wire.
// Empty lists are left null so they are omitted, as MLflow omits them.

public sealed class RegisteredModelAliasMessage
{
    public string? Alias { get; set; }
    public string? Version { get; set; }
}

public sealed class ModelVersionMessage
{
    public string? Name { get; set; }
    public string? Version { get; set; }
    public long? CreationTimestamp { get; set; }
    public long? LastUpdatedTimestamp { get; set; }
    public string? UserId { get; set; }
    public string? CurrentStage { get; set; }
    public string? Description { get; set; }
    public string? Source { get; set; }
    public string? RunId { get; set; }
    public string? Status { get; set; }
    public string? StatusMessage { get; set; }
    public List<KeyValue>? Tags { get; set; }
    public string? RunLink { get; set; }
    public List<string>? Aliases { get; set; }
}

public sealed class RegisteredModelMessage
{
    public string? Name { get; set; }
    public long? CreationTimestamp { get; set; }
    public long? LastUpdatedTimestamp { get; set; }
    public string? UserId { get; set; }
    public string? Description { get; set; }
    public List<ModelVersionMessage>? LatestVersions { get; set; }
    public List<KeyValue>? Tags { get; set; }
    public List<RegisteredModelAliasMessage>? Aliases { get; set; }
}

/// <summary>One request shape for the registry's many small calls; each endpoint reads the fields it needs.</summary>
public sealed class RegistryRequest
{
    public string? Name { get; set; }
    public string? NewName { get; set; }
    public string? Description { get; set; }
    public string? Version { get; set; }
    public string? Alias { get; set; }
    public string? Key { get; set; }
    public string? Value { get; set; }
    public string? Stage { get; set; }
    public bool? ArchiveExistingVersions { get; set; }
    public List<string>? Stages { get; set; }
    public string? Source { get; set; }
    public string? RunId { get; set; }
    public string? RunLink { get; set; }
    public List<KeyValue>? Tags { get; set; }
    public string? Filter { get; set; }
    public long? MaxResults { get; set; }
    public List<string>? OrderBy { get; set; }
    public string? PageToken { get; set; }
    /// <summary>Cairn's promote: rules such as <c>metrics.auc &gt;= champion</c>.</summary>
    public List<string>? Requirements { get; set; }
}

public sealed class RegisteredModelResponse { public RegisteredModelMessage? RegisteredModel { get; set; } }
public sealed class RegisteredModelsPage
{
    public List<RegisteredModelMessage>? RegisteredModels { get; set; }
    public string? NextPageToken { get; set; }
}
public sealed class ModelVersionResponse { public ModelVersionMessage? ModelVersion { get; set; } }
public sealed class ModelVersionsPage
{
    public List<ModelVersionMessage>? ModelVersions { get; set; }
    public string? NextPageToken { get; set; }
}
public sealed class DownloadUriResponse { public string? ArtifactUri { get; set; } }

/// <summary>One entry of Cairn's registry audit trail.</summary>
public sealed class RegistryAuditEntryMessage
{
    public long Id { get; set; }
    public string? Name { get; set; }
    public string? Action { get; set; }
    public string? Alias { get; set; }
    public string? Stage { get; set; }
    public string? PreviousStage { get; set; }
    public string? FromVersion { get; set; }
    public string? ToVersion { get; set; }
    public string? User { get; set; }
    public long Timestamp { get; set; }
}
public sealed class RegistryAuditResponse { public List<RegistryAuditEntryMessage>? Entries { get; set; } }

/// <summary>
/// The registry's source-generated JSON context, with <see cref="MlflowJson"/>'s options (a second context rather than
/// more attributes on MlflowJson, whose generator takes its attributes from one declaration only).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(RegistryRequest))]
[JsonSerializable(typeof(RegisteredModelResponse))]
[JsonSerializable(typeof(RegisteredModelsPage))]
[JsonSerializable(typeof(ModelVersionResponse))]
[JsonSerializable(typeof(ModelVersionsPage))]
[JsonSerializable(typeof(DownloadUriResponse))]
[JsonSerializable(typeof(RegistryAuditResponse))]
[JsonSerializable(typeof(RunResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(Empty))]
public sealed partial class RegistryJson : JsonSerializerContext
{
    /// <summary>Like <see cref="MlflowJson.Wire"/>: quotes and angle brackets written as they are.</summary>
    public static RegistryJson Wire => s_wire ??= new RegistryJson(new JsonSerializerOptions(Default.GeneratedSerializerOptions ?? Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private static RegistryJson? s_wire;
}

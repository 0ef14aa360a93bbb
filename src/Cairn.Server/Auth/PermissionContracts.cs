using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Server.Auth;

/// <summary>The body (or query string) of MLflow's experiments/permissions/* and registered-models/permissions/* calls.</summary>
internal sealed class PermissionRequest
{
    public string? ExperimentId { get; set; }

    public string? Name { get; set; }

    public string? Username { get; set; }

    public string? Permission { get; set; }
}

/// <summary>MLflow's ExperimentPermission.to_json().</summary>
internal sealed class ExperimentPermissionMessage
{
    public string ExperimentId { get; set; } = "";

    public long UserId { get; set; }

    public string Permission { get; set; } = "";
}

/// <summary>MLflow's RegisteredModelPermission.to_json().</summary>
internal sealed class RegisteredModelPermissionMessage
{
    public string Name { get; set; } = "";

    public long UserId { get; set; }

    public string Permission { get; set; } = "";
}

/// <summary>A deployment permission, shaped as <see cref="RegisteredModelPermissionMessage"/>.</summary>
internal sealed class DeploymentPermissionMessage
{
    public string Name { get; set; } = "";

    public long UserId { get; set; }

    public string Permission { get; set; } = "";
}

internal sealed class DeploymentPermissionResponse
{
    public DeploymentPermissionMessage? DeploymentPermission { get; set; }
}

internal sealed class ExperimentPermissionResponse
{
    public ExperimentPermissionMessage? ExperimentPermission { get; set; }
}

internal sealed class RegisteredModelPermissionResponse
{
    public RegisteredModelPermissionMessage? RegisteredModelPermission { get; set; }
}

/// <summary>Empty answer of update and delete (<c>{}</c>).</summary>
internal sealed class PermissionEmpty;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(PermissionRequest))]
[JsonSerializable(typeof(ExperimentPermissionResponse))]
[JsonSerializable(typeof(RegisteredModelPermissionResponse))]
[JsonSerializable(typeof(ExperimentPermissionMessage))]
[JsonSerializable(typeof(RegisteredModelPermissionMessage))]
[JsonSerializable(typeof(PermissionEmpty))]
[JsonSerializable(typeof(DeploymentPermissionResponse))]
internal sealed partial class PermissionJson : JsonSerializerContext;

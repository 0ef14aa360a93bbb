using System.Text.Json;
using System.Text.Json.Serialization;
using Cairn.Auth;

namespace Cairn.Server.Auth;

/// <summary>The bodies of MLflow's users/* endpoints (mlflow/server/auth): fields read from the JSON body, or the query string for GET.</summary>
internal sealed class UserRequest
{
    public string? Username { get; set; }
    public string? Password { get; set; }
    /// <summary>A JSON boolean as MLflow's client sends it; "true"/"false" strings are accepted too.</summary>
    public JsonElement? IsAdmin { get; set; }
}

/// <summary>MLflow's user entity; the permission lists are filled by authorization.</summary>
internal sealed class UserMessage
{
    public long Id { get; set; }
    public string Username { get; set; } = "";
    public bool IsAdmin { get; set; }
    public List<JsonElement> ExperimentPermissions { get; set; } = [];
    public List<JsonElement> RegisteredModelPermissions { get; set; } = [];

    /// <summary>Cairn's addition beside MLflow's two lists: the user's grants on deployments.</summary>
    public List<JsonElement> DeploymentPermissions { get; set; } = [];

    public static UserMessage From(User user) => new() { Id = user.Id, Username = user.Username, IsAdmin = user.IsAdmin };
}

internal sealed class UserResponse
{
    public UserMessage? User { get; set; }
}

internal sealed class TokenRequest
{
    public string? Name { get; set; }
}

/// <summary>A new token: the only time its secret is shown.</summary>
internal sealed class CreatedTokenResponse
{
    public string Id { get; set; } = "";
    public string Token { get; set; } = "";
}

/// <summary>A token as listed: never its secret or hash.</summary>
internal sealed class TokenMessage
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public long CreationTime { get; set; }
    public long? LastUsedTime { get; set; }
    public long? RevokedTime { get; set; }

    public static TokenMessage From(AccessToken token) => new()
    {
        Id = token.Id, Name = token.Name, CreationTime = token.CreationTime, LastUsedTime = token.LastUsedTime, RevokedTime = token.RevokedTime,
    };
}

internal sealed class TokenListResponse
{
    public List<TokenMessage> Tokens { get; set; } = [];
}

internal sealed class TokenResponse
{
    public TokenMessage? Token { get; set; }
}

internal sealed class EmptyMessage;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(UserRequest))]
[JsonSerializable(typeof(UserResponse))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(CreatedTokenResponse))]
[JsonSerializable(typeof(TokenListResponse))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(EmptyMessage))]
internal sealed partial class AuthJson : JsonSerializerContext;

using System.Text.Json.Serialization;

namespace Cairn.Client;

/// <summary>One entry of a run's artifacts: its path relative to the run's artifact root.</summary>
public sealed record ArtifactFile(string Path, bool IsDir, long? FileSize);

/// <summary>The entries of one artifact folder, and the run's artifact root URI.</summary>
public sealed record ArtifactListing(string RootUri, IReadOnlyList<ArtifactFile> Files);

// MLflow's artifacts/list response. Kept internal to the client: the server side owns the public wire types.
internal sealed class ListArtifactsResponse
{
    public string? RootUri { get; set; }
    public List<ArtifactFileMessage>? Files { get; set; }
}

internal sealed class ArtifactFileMessage
{
    public string? Path { get; set; }
    public bool? IsDir { get; set; }
    public long? FileSize { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(ListArtifactsResponse))]
internal sealed partial class ArtifactJson : JsonSerializerContext;

namespace Cairn.Contracts;

// Wire messages of MLflow's mlflow_artifacts.proto and service.proto's ListArtifacts.

/// <summary>MLflow's FileInfo: file_size is absent for directories and written as a JSON number (as MLflow's message_to_json does).</summary>
public sealed class FileInfoMessage
{
    public required string Path { get; init; }
    public required bool IsDir { get; init; }
    public long? FileSize { get; init; }
}

/// <summary>mlflow.artifacts.ListArtifacts.Response: <c>files</c> names the children of the listed folder by base name.</summary>
public sealed class ListArtifactsProxyResponse
{
    // Protobuf JSON leaves an empty repeated field out; clients read it with .get("files", []).
    public List<FileInfoMessage>? Files { get; init; }
}

/// <summary>mlflow.ListArtifacts.Response: paths are relative to the run's artifact root and include the listed folder.</summary>
public sealed class ListArtifactsResponse
{
    public required string RootUri { get; init; }
    public List<FileInfoMessage>? Files { get; init; }
    public string? NextPageToken { get; init; }
}

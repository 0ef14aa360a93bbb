using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Contracts;

// Wire messages of MLflow's service.proto, named after the messages, snake_case on the wire.
// Requests are classes with settable properties so absent fields stay null and can be reported by name.

public sealed class KeyValue
{
    public string? Key { get; set; }
    public string? Value { get; set; }
}

public sealed class ExperimentMessage
{
    public required string ExperimentId { get; init; }
    public required string Name { get; init; }
    public required string ArtifactLocation { get; init; }
    public required string LifecycleStage { get; init; }
    public long? LastUpdateTime { get; init; }
    public long? CreationTime { get; init; }
    public List<KeyValue>? Tags { get; init; }
}

public sealed class RunInfoMessage
{
    public required string RunId { get; init; }
    public required string RunUuid { get; init; }
    public required string RunName { get; init; }
    public required string ExperimentId { get; init; }
    public string? UserId { get; init; }
    public required string Status { get; init; }
    public long StartTime { get; init; }
    public long? EndTime { get; init; }
    public required string ArtifactUri { get; init; }
    public required string LifecycleStage { get; init; }
}

public sealed class MetricMessage
{
    public string? Key { get; set; }
    public double? Value { get; set; }
    public long? Timestamp { get; set; }
    public long? Step { get; set; }
}

public sealed class RunDataMessage
{
    public List<MetricMessage>? Metrics { get; init; }
    public List<KeyValue>? Params { get; init; }
    public List<KeyValue>? Tags { get; init; }
}

public sealed class DatasetMessage
{
    public string? Name { get; set; }
    public string? Digest { get; set; }
    public string? SourceType { get; set; }
    public string? Source { get; set; }
    public string? Schema { get; set; }
    public string? Profile { get; set; }
}

public sealed class DatasetInputMessage
{
    public List<KeyValue>? Tags { get; set; }
    public DatasetMessage? Dataset { get; set; }
}

public sealed class RunInputsMessage
{
    public List<DatasetInputMessage>? DatasetInputs { get; init; }
}

public sealed class RunMessage
{
    public required RunInfoMessage Info { get; init; }
    public required RunDataMessage Data { get; init; }
    public RunInputsMessage? Inputs { get; init; }
}

public sealed class CreateExperiment
{
    public string? Name { get; set; }
    public string? ArtifactLocation { get; set; }
    public List<KeyValue>? Tags { get; set; }
}

public sealed class ExperimentIdRequest
{
    public string? ExperimentId { get; set; }
}

public sealed class UpdateExperiment
{
    public string? ExperimentId { get; set; }
    public string? NewName { get; set; }
}

public sealed class SetExperimentTag
{
    public string? ExperimentId { get; set; }
    public string? Key { get; set; }
    public string? Value { get; set; }
}

public sealed class SearchExperiments
{
    public long? MaxResults { get; set; }
    public string? PageToken { get; set; }
    public string? Filter { get; set; }
    public List<string>? OrderBy { get; set; }
    public JsonElement? ViewType { get; set; }
}

public sealed class CreateRun
{
    public string? ExperimentId { get; set; }
    public string? UserId { get; set; }
    public string? RunName { get; set; }
    public long? StartTime { get; set; }
    public List<KeyValue>? Tags { get; set; }
}

public sealed class UpdateRun
{
    public string? RunId { get; set; }
    public string? RunUuid { get; set; }
    public JsonElement? Status { get; set; }
    public long? EndTime { get; set; }
    public string? RunName { get; set; }
}

public sealed class RunIdRequest
{
    public string? RunId { get; set; }
    public string? RunUuid { get; set; }
}

public sealed class LogMetric
{
    public string? RunId { get; set; }
    public string? RunUuid { get; set; }
    public string? Key { get; set; }
    public double? Value { get; set; }
    public long? Timestamp { get; set; }
    public long? Step { get; set; }
}

public sealed class RunKeyValue
{
    public string? RunId { get; set; }
    public string? RunUuid { get; set; }
    public string? Key { get; set; }
    public string? Value { get; set; }
}

public sealed class LogBatch
{
    public string? RunId { get; set; }
    public List<MetricMessage>? Metrics { get; set; }
    public List<KeyValue>? Params { get; set; }
    public List<KeyValue>? Tags { get; set; }
}

public sealed class LogInputs
{
    public string? RunId { get; set; }
    public List<DatasetInputMessage>? Datasets { get; set; }
}

public sealed class LogModel
{
    public string? RunId { get; set; }
    public string? ModelJson { get; set; }
}

public sealed class SearchRuns
{
    public List<string>? ExperimentIds { get; set; }
    public string? Filter { get; set; }
    public JsonElement? RunViewType { get; set; }
    public long? MaxResults { get; set; }
    public List<string>? OrderBy { get; set; }
    public string? PageToken { get; set; }
}

public sealed class CreateExperimentResponse { public required string ExperimentId { get; init; } }
public sealed class ExperimentResponse { public required ExperimentMessage Experiment { get; init; } }
public sealed class ExperimentsPage
{
    public required List<ExperimentMessage> Experiments { get; init; }
    public string? NextPageToken { get; init; }
}
public sealed class RunResponse { public required RunMessage Run { get; init; } }
public sealed class RunInfoResponse { public required RunInfoMessage RunInfo { get; init; } }
public sealed class RunsPage
{
    public List<RunMessage>? Runs { get; init; }
    public string? NextPageToken { get; init; }
}
public sealed class MetricsPage
{
    public List<MetricMessage>? Metrics { get; init; }
    public string? NextPageToken { get; init; }
}
public sealed class Empty { }

public sealed class ErrorResponse
{
    public required string ErrorCode { get; init; }
    public required string Message { get; init; }

    /// <summary>Cairn's finer reason for the error (<see cref="PromotionRefusedException.Reason"/>); MLflow clients ignore it.</summary>
    public string? CairnReason { get; init; }

    /// <summary>The rule that failed when <see cref="CairnReason"/> names a refused gate.</summary>
    public string? CairnRule { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    // MLflow's protobuf JSON writes NaN/Infinity as strings and int64 either way; accept both.
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(CreateExperiment))]
[JsonSerializable(typeof(ExperimentIdRequest))]
[JsonSerializable(typeof(UpdateExperiment))]
[JsonSerializable(typeof(SetExperimentTag))]
[JsonSerializable(typeof(SearchExperiments))]
[JsonSerializable(typeof(CreateRun))]
[JsonSerializable(typeof(UpdateRun))]
[JsonSerializable(typeof(RunIdRequest))]
[JsonSerializable(typeof(LogMetric))]
[JsonSerializable(typeof(RunKeyValue))]
[JsonSerializable(typeof(LogBatch))]
[JsonSerializable(typeof(LogInputs))]
[JsonSerializable(typeof(LogModel))]
[JsonSerializable(typeof(SearchRuns))]
[JsonSerializable(typeof(CreateExperimentResponse))]
[JsonSerializable(typeof(ExperimentResponse))]
[JsonSerializable(typeof(ExperimentsPage))]
[JsonSerializable(typeof(RunResponse))]
[JsonSerializable(typeof(RunInfoResponse))]
[JsonSerializable(typeof(RunsPage))]
[JsonSerializable(typeof(MetricsPage))]
[JsonSerializable(typeof(Empty))]
[JsonSerializable(typeof(MetricMessage))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(List<Dictionary<string, JsonElement>>))]
[JsonSerializable(typeof(ListArtifactsProxyResponse))]
[JsonSerializable(typeof(ListArtifactsResponse))]
public sealed partial class MlflowJson : JsonSerializerContext;

public sealed partial class MlflowJson
{
    /// <summary>
    /// The context every endpoint and the HTTP client use: like <see cref="JsonSerializerContext"/>'s Default,
    /// but writing quotes and angle brackets as they are (MLflow's bodies are JSON, not HTML).
    /// </summary>
    public static MlflowJson Wire => s_wire ??= CreateWire();

    private static MlflowJson? s_wire;

    private static MlflowJson CreateWire()
    {
        var options = new JsonSerializerOptions(Default.GeneratedSerializerOptions ?? Default.Options)
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        return new MlflowJson(options);
    }
}

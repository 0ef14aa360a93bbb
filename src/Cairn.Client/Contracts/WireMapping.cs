using System.Text.Json;
using Cairn.Tracking;

namespace Cairn.Contracts;

/// <summary>Maps domain entities to MLflow's wire messages and back. The only place that knows both.</summary>
public static class WireMapping
{
    public static ExperimentMessage ToWire(this Experiment e) => new()
    {
        ExperimentId = e.ExperimentId,
        Name = e.Name,
        ArtifactLocation = e.ArtifactLocation,
        LifecycleStage = e.LifecycleStage == LifecycleStage.Active ? "active" : "deleted",
        CreationTime = e.CreationTime,
        LastUpdateTime = e.LastUpdateTime,
        Tags = e.Tags.Count == 0 ? null : e.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
    };

    public static RunInfoMessage ToWire(this RunInfo r) => new()
    {
        RunId = r.RunId,
        RunUuid = r.RunId,
        RunName = r.RunName,
        ExperimentId = r.ExperimentId,
        UserId = r.UserId ?? "",
        Status = r.Status.ToString(),
        StartTime = r.StartTime,
        EndTime = r.EndTime,
        ArtifactUri = r.ArtifactUri,
        LifecycleStage = r.LifecycleStage == LifecycleStage.Active ? "active" : "deleted",
    };

    public static MetricMessage ToWire(this Metric m) => new() { Key = m.Key, Value = m.Value, Timestamp = m.Timestamp, Step = m.Step };

    public static RunMessage ToWire(this Run r) => new()
    {
        Info = r.Info.ToWire(),
        Data = new RunDataMessage
        {
            Metrics = r.Data.Metrics.Count == 0 ? null : r.Data.Metrics.Select(ToWire).ToList(),
            Params = r.Data.Params.Count == 0 ? null : r.Data.Params.Select(p => new KeyValue { Key = p.Key, Value = p.Value }).ToList(),
            Tags = r.Data.Tags.Count == 0 ? null : r.Data.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        },
        Inputs = new RunInputsMessage
        {
            DatasetInputs = r.Inputs.Count == 0 ? null : r.Inputs.Select(i => new DatasetInputMessage
            {
                Tags = i.Tags.Count == 0 ? null : i.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
                Dataset = new DatasetMessage
                {
                    Name = i.Dataset.Name, Digest = i.Dataset.Digest, SourceType = i.Dataset.SourceType,
                    Source = i.Dataset.Source, Schema = i.Dataset.Schema, Profile = i.Dataset.Profile,
                },
            }).ToList(),
        },
    };

    public static Experiment ToDomain(this ExperimentMessage e) => new(
        e.ExperimentId, e.Name, e.ArtifactLocation, e.LifecycleStage == "deleted" ? LifecycleStage.Deleted : LifecycleStage.Active,
        e.CreationTime, e.LastUpdateTime, (e.Tags ?? []).Select(t => new ExperimentTag(t.Key ?? "", t.Value ?? "")).ToList());

    public static RunInfo ToDomain(this RunInfoMessage r) => new(
        r.RunId, r.ExperimentId, r.RunName, string.IsNullOrEmpty(r.UserId) ? null : r.UserId, Enum.Parse<RunStatus>(r.Status),
        r.StartTime, r.EndTime, r.ArtifactUri, r.LifecycleStage == "deleted" ? LifecycleStage.Deleted : LifecycleStage.Active);

    public static Metric ToDomain(this MetricMessage m) => new(m.Key ?? "", m.Value ?? 0, m.Timestamp ?? 0, m.Step ?? 0);

    public static Run ToDomain(this RunMessage r) => new(
        r.Info.ToDomain(),
        new RunData(
            (r.Data.Metrics ?? []).Select(ToDomain).ToList(),
            (r.Data.Params ?? []).Select(p => new Param(p.Key ?? "", p.Value ?? "")).ToList(),
            (r.Data.Tags ?? []).Select(t => new RunTag(t.Key ?? "", t.Value ?? "")).ToList()),
        (r.Inputs?.DatasetInputs ?? []).Select(ToDomain).ToList());

    public static DatasetInput ToDomain(this DatasetInputMessage i)
    {
        var d = i.Dataset ?? throw new InvalidParameterValueException("Missing value for required parameter 'datasets.dataset'.");
        return new DatasetInput(
            new Dataset(d.Name ?? "", d.Digest ?? "", d.SourceType ?? "", d.Source ?? "", d.Schema, d.Profile),
            (i.Tags ?? []).Select(t => new InputTag(t.Key ?? "", t.Value ?? "")).ToList());
    }

    public static DatasetInputMessage ToWire(this DatasetInput i) => new()
    {
        Tags = i.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        Dataset = new DatasetMessage
        {
            Name = i.Dataset.Name, Digest = i.Dataset.Digest, SourceType = i.Dataset.SourceType,
            Source = i.Dataset.Source, Schema = i.Dataset.Schema, Profile = i.Dataset.Profile,
        },
    };

    /// <summary>Reads a protobuf enum given as its name ("ACTIVE_ONLY") or its number (1).</summary>
    public static ViewType ParseViewType(JsonElement? value, string field)
    {
        if (value is null || value.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return ViewType.ACTIVE_ONLY;
        return ParseViewType(value.Value.ValueKind == JsonValueKind.Number ? value.Value.GetRawText() : value.Value.GetString(), field);
    }

    public static ViewType ParseViewType(string? text, string field) => text switch
    {
        null or "" => ViewType.ACTIVE_ONLY,
        "ACTIVE_ONLY" or "1" => ViewType.ACTIVE_ONLY,
        "DELETED_ONLY" or "2" => ViewType.DELETED_ONLY,
        "ALL" or "3" => ViewType.ALL,
        _ => throw new InvalidParameterValueException($"Invalid value '{text}' for parameter '{field}': expected one of ACTIVE_ONLY, DELETED_ONLY, ALL."),
    };

    public static RunStatus? ParseStatus(JsonElement? value)
    {
        if (value is null || value.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        var text = value.Value.ValueKind == JsonValueKind.Number ? value.Value.GetRawText() : value.Value.GetString();
        return text switch
        {
            "RUNNING" or "1" => RunStatus.RUNNING,
            "SCHEDULED" or "2" => RunStatus.SCHEDULED,
            "FINISHED" or "3" => RunStatus.FINISHED,
            "FAILED" or "4" => RunStatus.FAILED,
            "KILLED" or "5" => RunStatus.KILLED,
            _ => throw new InvalidParameterValueException($"Invalid value '{text}' for parameter 'status': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED."),
        };
    }
}

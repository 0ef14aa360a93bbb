using System.Data.Common;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Storage.Postgres;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Storage;

/// <summary>The MLflow rows an import reads.</summary>
public static partial class MlflowImporter
{
    // Rows as classes with setters, not positional records: Dapper converts column types into properties (MLflow's INTEGER
    // ids arrive as Int32 from PostgreSQL and as Int64 from SQLite), while constructor matching wants exact types.
#pragma warning disable CA1812 // instantiated by Dapper
    private sealed class ExperimentRow
    {
        public long ExperimentId { get; set; }
        public string Name { get; set; } = "";
        public string? ArtifactLocation { get; set; }
        public string? LifecycleStage { get; set; }
        public long? CreationTime { get; set; }
        public long? LastUpdateTime { get; set; }
    }

    private sealed class ExperimentTagRow
    {
        public long ExperimentId { get; set; }
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class ExistingExperiment
    {
        public string Name { get; set; } = "";
        public string ArtifactLocation { get; set; } = "";
    }

    private sealed class RunRow
    {
        public string RunUuid { get; set; } = "";
        public long ExperimentId { get; set; }
        public string? Name { get; set; }
        public string? UserId { get; set; }
        public string? Status { get; set; }
        public long? StartTime { get; set; }
        public long? EndTime { get; set; }
        public long? DeletedTime { get; set; }
        public string? LifecycleStage { get; set; }
        public string? ArtifactUri { get; set; }
    }

    private sealed class KeyValue
    {
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class RunCounts
    {
        public long Params { get; set; }
        public long Tags { get; set; }
        public long Metrics { get; set; }
        public long Inputs { get; set; }
    }

    private sealed class DatasetRow
    {
        public string DatasetUuid { get; set; } = "";
        public long ExperimentId { get; set; }
        public string Name { get; set; } = "";
        public string Digest { get; set; } = "";
        public string DatasetSourceType { get; set; } = "";
        public string DatasetSource { get; set; } = "";
        public string? DatasetSchema { get; set; }
        public string? DatasetProfile { get; set; }
    }

    private sealed class InputRow
    {
        public string InputUuid { get; set; } = "";
        public string SourceId { get; set; } = "";
    }

    private sealed class InputTagRow
    {
        public string InputUuid { get; set; } = "";
        public string Name { get; set; } = "";
        public string Value { get; set; } = "";
    }

    private sealed class ModelRow
    {
        public string Name { get; set; } = "";
        public long? CreationTime { get; set; }
        public long? LastUpdatedTime { get; set; }
        public string? Description { get; set; }
    }

    private sealed class VersionRow
    {
        public string Name { get; set; } = "";
        public long Version { get; set; }
        public long? CreationTime { get; set; }
        public long? LastUpdatedTime { get; set; }
        public string? Description { get; set; }
        public string? UserId { get; set; }
        public string? CurrentStage { get; set; }
        public string? Source { get; set; }
        public string? StorageLocation { get; set; }
        public string? RunId { get; set; }
        public string? RunLink { get; set; }
        public string? Status { get; set; }
        public string? StatusMessage { get; set; }
    }

    private sealed class VersionTagRow
    {
        public long Version { get; set; }
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class AliasRow
    {
        public string Alias { get; set; } = "";
        public long Version { get; set; }
    }
#pragma warning restore CA1812
}

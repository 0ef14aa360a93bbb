using System.Text.Json;
using Cairn.Client;
using Cairn.Data;
using Cairn.Tracking;

namespace Cairn.Pipelines;

/// <summary>Datasets as MLflow's tracking logs them.</summary>
public static class DatasetTracking
{
    /// <summary>The input tag naming what a run used a dataset for.</summary>
    public const string ContextTag = "mlflow.data.context";
    /// <summary>Experiment of the dataset registration runs.</summary>
    public const string Experiment = "datasets";
    /// <summary>Tag of a dataset registration run.</summary>
    public const string DatasetTag = "cairn.dataset";

    /// <summary>
    /// MLflow's dataset entity for <paramref name="record"/>: the digest is the first 32 hex characters of the SHA-256
    /// (MLflow allows 36), the source <c>{"uri": ...}</c>, the schema MLflow's <c>mlflow_colspec</c>, the profile rows and size.
    /// </summary>
    public static Dataset ToTrackingDataset(DatasetRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        string digest = record.Digest.Length > 32 ? record.Digest[..32] : record.Digest;
        string source = JsonSerializer.Serialize(new Dictionary<string, string> { ["uri"] = record.Source });
        string? schema = record.Schema is null ? null : JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["mlflow_colspec"] = record.Schema.Select(c => new Dictionary<string, object> { ["type"] = c.Type, ["name"] = c.Name, ["required"] = c.Missing == 0 }).ToList(),
        });
        var profile = new Dictionary<string, object> { ["size_bytes"] = record.Size, ["num_files"] = record.Files };
        if (record.Rows is long rows)
        {
            profile["num_rows"] = rows;
            if (record.Schema is { } cols) profile["num_elements"] = rows * cols.Count;
        }
        return new Dataset(record.Name, digest, record.SourceType, source, schema, JsonSerializer.Serialize(profile));
    }

    /// <summary>
    /// Registers <paramref name="record"/> in tracking: a FINISHED run named <c>dataset:&lt;name&gt;</c> tagged
    /// <c>cairn.dataset=true</c> in the <c>datasets</c> experiment, with the dataset as its input. Registering the name
    /// again reuses that run: a new digest is logged as one more input (the run keeps every version), the same digest
    /// adds nothing. Returns the run id.
    /// </summary>
    public static async Task<string> RegisterAsync(CairnClient client, DatasetRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(record);
        var dataset = ToTrackingDataset(record);
        var existing = await FindRegistrationAsync(client.Store, record.Name, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            string runId = existing.Info.RunId;
            if (!existing.Inputs.Any(i => i.Dataset.Name == dataset.Name && i.Dataset.Digest == dataset.Digest))
                await client.Store.LogInputsAsync(runId, [new DatasetInput(dataset, [])], cancellationToken).ConfigureAwait(false);
            if (existing.Data.Tags.FirstOrDefault(t => t.Key == PathTag)?.Value != record.Path)
                await client.Store.LogBatchAsync(runId, tags: [new RunTag(PathTag, record.Path)], cancellationToken: cancellationToken).ConfigureAwait(false);
            return runId;
        }
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { [DatasetTag] = "true", [PathTag] = record.Path };
        var run = await client.StartRunAsync(Experiment, RunName(record.Name), tags, cancellationToken: cancellationToken).ConfigureAwait(false);
        await client.Store.LogInputsAsync(run.RunId, [new DatasetInput(dataset, [])], cancellationToken).ConfigureAwait(false);
        // End through the ActiveRun, so its process-exit hook lets go of it.
        await run.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);
        return run.RunId;
    }

    /// <summary>Tag of a dataset registration run with the dataset's repository-relative path.</summary>
    public const string PathTag = "cairn.dataset.path";

    private static string RunName(string datasetName) => "dataset:" + datasetName;

    /// <summary>The oldest live registration run of <paramref name="name"/>, or null.</summary>
    private static async Task<Run?> FindRegistrationAsync(ITrackingStore store, string name, CancellationToken ct)
    {
        var experiment = await store.FindExperimentByNameAsync(Experiment, ct).ConfigureAwait(false);
        if (experiment is null) return null;
        // MLflow's filter grammar quotes with '...' and has no escape for a quote inside: names with one are compared here instead.
        string runName = RunName(name);
        string filter = $"tags.`{DatasetTag}` = 'true'" + (runName.Contains('\'') ? "" : $" and attributes.run_name = '{runName}'");
        var page = await store.SearchRunsAsync(new RunSearch([experiment.ExperimentId], filter, MaxResults: 1000,
            OrderBy: ["attributes.start_time ASC"]), ct).ConfigureAwait(false);
        return page.Items.FirstOrDefault(r => r.Info.RunName == runName);
    }
}

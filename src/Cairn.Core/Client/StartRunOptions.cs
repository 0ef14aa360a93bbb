namespace Cairn.Client;

/// <summary>
/// What <see cref="CairnClient.StartRun(StartRunOptions)"/> starts: the run's experiment, by id or by name (exactly one),
/// and its optional name, tags and parent.
/// </summary>
public sealed class StartRunOptions
{
    /// <summary>The id of an existing, active experiment (MLflow's <c>start_run(experiment_id=...)</c>).</summary>
    public string? ExperimentId { get; init; }

    /// <summary>The name of the experiment, created when missing.</summary>
    public string? ExperimentName { get; init; }

    /// <summary>The run's name; the store picks one when null.</summary>
    public string? RunName { get; init; }

    /// <summary>Tags set at creation; they win over the system tags of the same key.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>The parent run of a nested run; it must exist.</summary>
    public string? ParentRunId { get; init; }
}

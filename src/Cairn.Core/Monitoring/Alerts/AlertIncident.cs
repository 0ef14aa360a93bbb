namespace Cairn.Monitoring.Alerts;

/// <summary>Whether an incident is open or resolved.</summary>
internal static class IncidentStatus
{
    public const string Open = "open";
    public const string Resolved = "resolved";
}

/// <summary>
/// One incident of an alert rule on a deployment (and model version): opened when the condition had held for the rule's
/// windows, resolved when it had been false for its resolve windows. Its actions' outcomes are recorded on it.
/// </summary>
internal sealed record AlertIncident
{
    public required long Id { get; init; }
    public required string Rule { get; init; }
    public required string Deployment { get; init; }
    public string? ModelName { get; init; }
    public string? ModelVersion { get; init; }
    public required string Condition { get; init; }
    public required string Status { get; init; }
    public required DateTimeOffset OpenedAt { get; init; }
    public DateTimeOffset? ResolvedAt { get; init; }

    /// <summary>The window that opened the incident.</summary>
    public required DateTimeOffset WindowStart { get; init; }

    /// <inheritdoc cref="WindowStart"/>
    public required DateTimeOffset WindowEnd { get; init; }

    /// <summary>The end of the last window the condition held in while the incident was open.</summary>
    public required DateTimeOffset LastWindowEnd { get; init; }

    /// <summary>Windows the condition held in while the incident was open (the opening one included).</summary>
    public required int Windows { get; init; }

    /// <summary>The condition's signals in the opening window, by their text (null: absent).</summary>
    public required IReadOnlyDictionary<string, double?> Values { get; init; }

    public string? WebhookStatus { get; init; }
    public string? RetrainStatus { get; init; }
    public string? RetrainRunId { get; init; }
    public string? RetrainMessage { get; init; }
}

/// <summary>Where a rule stands on one deployment and model version: its streaks, its open incident, the last window it saw.</summary>
internal sealed record AlertState(string Rule, string Deployment, string ModelName, string ModelVersion)
{
    public int TrueStreak { get; set; }
    public int FalseStreak { get; set; }
    public long? IncidentId { get; set; }
    public long LastWindowEndMs { get; set; } = long.MinValue;
}

using Cairn.Serving;

namespace Cairn.Monitoring;

/// <summary>
/// The logged rows of one window, grouped by who answered (model name, version, primary or shadow route), with the ground truth
/// recorded for them so far, keyed by request id and row.
/// </summary>
/// <param name="Deployment">The deployment.</param>
/// <param name="Start">The window's first instant (inclusive).</param>
/// <param name="End">The window's end (exclusive).</param>
/// <param name="Groups">The rows per answering route, each part as the log returned it.</param>
/// <param name="Truth">Ground truth JSON by (request id, row).</param>
public sealed record WindowRows(
    string Deployment,
    DateTimeOffset Start,
    DateTimeOffset End,
    IReadOnlyList<WindowGroup> Groups,
    IReadOnlyDictionary<(string RequestId, int Row), string> Truth)
{
    /// <summary>Rows answered by primary routes.</summary>
    public long PrimaryRows => Groups.Where(g => !g.Shadow).Sum(g => (long)g.Rows);
}

/// <summary>The rows of one model version on one route kind within a window.</summary>
/// <param name="ModelName">The registered model (null for a folder).</param>
/// <param name="ModelVersion">The version (null for a folder).</param>
/// <param name="Shadow">True for a shadow route.</param>
/// <param name="Parts">The rows, as read.</param>
public sealed record WindowGroup(string? ModelName, string? ModelVersion, bool Shadow, IReadOnlyList<PredictionRows> Parts)
{
    /// <summary>The number of rows.</summary>
    public int Rows => Parts.Sum(p => p.Count);
}

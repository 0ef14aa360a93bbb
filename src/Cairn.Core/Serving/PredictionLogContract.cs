namespace Cairn.Serving;

/// <summary>
/// The rows of one scoring request as the prediction log receives them: who answered (deployment, model, version), when,
/// how fast, and the inputs and outputs as named columns (one array per column, one element per row: double, float, long,
/// int, bool, string, or float[]/double[] for a tensor column). A shadow route's answers are logged with
/// <c>Shadow</c> set; they are never returned to the caller.
/// </summary>
/// <param name="RequestId">The id the server answered with (header <c>X-Request-Id</c>); feedback names it.</param>
/// <param name="Deployment">The deployment name; for <c>cairn serve MODEL</c> the served model's name.</param>
/// <param name="ModelName">The registered model's name, or null for a model served from a folder.</param>
/// <param name="ModelVersion">The registered version that produced the answer, or null for a folder.</param>
/// <param name="Time">When the request arrived.</param>
/// <param name="LatencyMs">Time spent scoring the batch, in milliseconds.</param>
/// <param name="Rows">The number of rows in <paramref name="Inputs"/> and <paramref name="Outputs"/>.</param>
/// <param name="Inputs">The request's input columns, after checking against the signature.</param>
/// <param name="Outputs">The model's output columns.</param>
/// <param name="Shadow">True for a shadow route's answer (logged, never returned).</param>
/// <param name="SampleRate">The share of requests its deployment keeps, replacing the log's own rate for this batch; null: the log's rate.</param>
public sealed record PredictionBatch(
    string RequestId,
    string Deployment,
    string? ModelName,
    string? ModelVersion,
    DateTimeOffset Time,
    double LatencyMs,
    int Rows,
    IReadOnlyList<KeyValuePair<string, Array>> Inputs,
    IReadOnlyList<KeyValuePair<string, Array>> Outputs,
    bool Shadow = false,
    double? SampleRate = null);

/// <summary>
/// Where scored rows go, off the request path. <see cref="TryAppend"/> never blocks and never grows memory without bound:
/// when the log's queue is full it drops the batch, counts it in <see cref="Dropped"/> and returns false.
/// Sampling (log one request in N) is the log's business, not the caller's.
/// </summary>
public interface IPredictionLog
{
    /// <summary>Queues a request's rows for writing; false when it was dropped (queue full) or sampled out.</summary>
    bool TryAppend(PredictionBatch batch);

    /// <summary>Batches dropped because the queue was full, since start.</summary>
    long Dropped { get; }
}

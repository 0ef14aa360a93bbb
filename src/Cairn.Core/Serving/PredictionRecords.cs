namespace Cairn.Serving;

/// <summary>
/// Logged rows of one deployment, model version and route (primary or shadow), as columns: one element per row in every
/// array. A window read answers a sequence of these; the inputs and outputs keep the columns and element types the scoring
/// path logged.
/// </summary>
/// <param name="Deployment">The deployment that answered.</param>
/// <param name="ModelName">The registered model, or null for a model served from a folder.</param>
/// <param name="ModelVersion">The model version, or null for a folder.</param>
/// <param name="Shadow">True for a shadow route's answers.</param>
/// <param name="RequestIds">The request each row belongs to.</param>
/// <param name="RowIndexes">The row's position within its request (what feedback names as <c>row</c>).</param>
/// <param name="TimesMs">When the row's request arrived, in Unix milliseconds.</param>
/// <param name="LatencyMs">The scoring time of the row's request, in milliseconds.</param>
/// <param name="Inputs">The input columns.</param>
/// <param name="Outputs">The output columns.</param>
public sealed record PredictionRows(
    string Deployment,
    string? ModelName,
    string? ModelVersion,
    bool Shadow,
    string[] RequestIds,
    int[] RowIndexes,
    long[] TimesMs,
    double[] LatencyMs,
    IReadOnlyList<KeyValuePair<string, Array>> Inputs,
    IReadOnlyList<KeyValuePair<string, Array>> Outputs)
{
    /// <summary>The number of rows.</summary>
    public int Count => RequestIds.Length;
}

/// <summary>A bounded page of a window read: the rows, and the token of the next page (null after the last).</summary>
public sealed record PredictionPage(IReadOnlyList<PredictionRows> Rows, string? NextPageToken)
{
    /// <summary>The number of rows over all parts.</summary>
    public int RowCount => Rows.Sum(r => r.Count);
}

/// <summary>A logged request, as feedback finds it: its deployment, its number of rows and when it arrived.</summary>
public sealed record PredictionRequestInfo(string Deployment, string RequestId, int Rows, long TimeMs);

/// <summary>The ground truth of one logged row, with the time of the prediction (monitoring windows are by prediction time).</summary>
/// <param name="RequestId">The request the row belongs to.</param>
/// <param name="Row">The row's position within its request.</param>
/// <param name="TimeMs">When the predicted request arrived, in Unix milliseconds.</param>
/// <param name="ValueJson">The ground truth as JSON text (a number, a string, a boolean or an array).</param>
/// <param name="RecordedMs">When the feedback was recorded.</param>
public sealed record PredictionFeedback(string RequestId, int Row, long TimeMs, string ValueJson, long RecordedMs);

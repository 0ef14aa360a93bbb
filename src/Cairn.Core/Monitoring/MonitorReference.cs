namespace Cairn.Monitoring;

/// <summary>
/// The data a window's inputs and predictions are compared with: typed columns (a <c>double[]</c> with NaN for a missing
/// cell, or a <c>string?[]</c> with null), read from a CSV or Parquet file or a model package's <c>reference_sample.parquet</c>.
/// </summary>
/// <param name="Source">What was read, as reports name it (a file name or <c>models:/name/version</c>).</param>
/// <param name="Columns">The columns by name (a column is numeric when it is a <c>double[]</c>).</param>
public sealed record MonitorReference(string Source, IReadOnlyDictionary<string, Array> Columns)
{
    /// <summary>A column as numbers, or null when it is absent or not numeric.</summary>
    public double[]? Numbers(string name) => Columns.TryGetValue(name, out var values) ? values as double[] : null;

    /// <summary>A column as text (numbers written as <see cref="MonitorValues.Text(double)"/> does), or null when it is absent.</summary>
    public string?[]? Texts(string name) => Columns.TryGetValue(name, out var values)
        ? values switch
        {
            string?[] s => s,
            double[] d => Array.ConvertAll(d, v => double.IsNaN(v) ? null : MonitorValues.Text(v)),
            _ => null,
        }
        : null;
}

/// <summary>Reads a reference file (CSV or Parquet) into typed columns; the host that can read files registers one.</summary>
public interface IMonitorReferenceReader
{
    /// <summary>Reads <paramref name="path"/>; <paramref name="source"/> names it in reports.</summary>
    Task<MonitorReference> ReadAsync(string path, string source, CancellationToken cancellationToken = default);
}

/// <summary>What the monitor knows of the model behind a window, resolved once per model version.</summary>
/// <param name="Task"><c>binary</c>, <c>multiclass</c> or <c>regression</c>; null when unknown (then guessed from the outputs).</param>
/// <param name="Label">The training label column (the reference's target for prediction drift); null when unknown.</param>
/// <param name="Classes">A classifier's classes in score order, when the package names them.</param>
/// <param name="TrainingMetrics">The evaluation metrics its training run logged.</param>
/// <param name="Reference">The reference to compare with; null when there is none.</param>
public sealed record MonitorModel(
    string? Task,
    string? Label,
    IReadOnlyList<string>? Classes,
    IReadOnlyDictionary<string, double> TrainingMetrics,
    MonitorReference? Reference)
{
    /// <summary>A model the monitor knows nothing about: no reference, no training metrics.</summary>
    public static MonitorModel Unknown { get; } = new(null, null, null, new Dictionary<string, double>(), null);
}

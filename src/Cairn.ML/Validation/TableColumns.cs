using System.Collections.Concurrent;
using Cairn.ML.Training;
using Cairn.Validation;

namespace Cairn.ML.Validation;

/// <summary>
/// A data file read by <see cref="CsvTable"/> (CSV or Parquet) as the columns an expectation suite checks. Whether a column is
/// numbers is asked once per column (a text column would be tried again on every ask).
/// </summary>
/// <param name="table">The table.</param>
public sealed class TableColumns(CsvTable table) : IColumnSource
{
    /// <summary>Reads a .csv or .parquet file (by extension) with the project's readers.</summary>
    public static TableColumns Read(string path) => new(CsvTable.ReadAny(path, hash: false));

    /// <summary>The table read.</summary>
    public CsvTable Table { get; } = table;

    /// <inheritdoc/>
    public int RowCount => Table.RowCount;

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => Table.Names;

    /// <inheritdoc/>
    public bool Has(string name) => Table.IndexOf(name) >= 0;

    private readonly ConcurrentDictionary<string, double[]?> _numbers = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public bool TryNumbers(string name, out double[] numbers)
    {
        var found = _numbers.GetOrAdd(name, n => Table.TryNumbers(n, out var parsed, out _) ? parsed : null);
        numbers = found ?? [];
        return found is not null;
    }

    /// <inheritdoc/>
    public string?[] Strings(string name) => Table[name];
}

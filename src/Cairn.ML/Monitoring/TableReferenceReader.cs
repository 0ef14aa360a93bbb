using Cairn.ML.Training;
using Cairn.Monitoring;

namespace Cairn.ML.Monitoring;

/// <summary>
/// Reads a monitor's reference (a CSV or Parquet file, or a package's <c>reference_sample.parquet</c>) through
/// <see cref="CsvTable"/>, the one typed-table reader: a column is numeric when every non-empty value parses as a number, as
/// <c>cairn drift</c> decides it.
/// </summary>
public sealed class TableReferenceReader : IMonitorReferenceReader
{
    /// <inheritdoc />
    public Task<MonitorReference> ReadAsync(string path, string source, CancellationToken cancellationToken = default) =>
        Task.Run(() =>
        {
            var table = CsvTable.ReadAny(path, hash: false);
            var columns = new Dictionary<string, Array>(StringComparer.Ordinal);
            foreach (var name in table.Names)
                columns[name] = table.TryNumbers(name, out var numbers, out _) ? numbers : table[name];
            return new MonitorReference(source, columns);
        }, cancellationToken);
}

using System.Globalization;
using System.Text;
using Cairn.Client;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Parquet;
using Parquet.Schema;

namespace Cairn.ML.Evaluation;

/// <summary>Settings of <see cref="BatchScoring.PredictAsync(string, string, string, CairnClient, BatchScoringOptions?, CancellationToken)"/>.</summary>
public sealed class BatchScoringOptions
{
    /// <summary>Rows scored at a time (and rows per output row group); memory grows with it, not with the file.</summary>
    public int BatchSize { get; set; } = 10_000;

    /// <summary>The flavor to load (<c>mlnet</c> or <c>onnx</c>) when the package has both; null for the package's choice.</summary>
    public string? Flavor { get; set; }

    /// <summary>Told the number of input rows once it is known (a Parquet file's metadata; never for CSV).</summary>
    public Action<long>? TotalRows { get; set; }

    /// <summary>Told the rows scored after each batch.</summary>
    public IProgress<long>? Progress { get; set; }
}

/// <summary>What a batch scoring wrote.</summary>
/// <param name="Rows">Rows scored (and written).</param>
/// <param name="Batches">Batches scored.</param>
/// <param name="PredictionColumns">The columns the predictions added after the input's.</param>
public sealed record BatchScoringResult(long Rows, int Batches, IReadOnlyList<string> PredictionColumns);

/// <summary>
/// Scores a CSV or Parquet file of any size with a model package and writes the input's columns followed by the
/// predictions to CSV or Parquet, as <c>mlflow models predict</c> does: the input is read in chunks (CSV through the one
/// CSV reader, Parquet one row group at a time), each chunk is scored as a batch and written at once (a Parquet row group
/// per batch), so memory stays bounded. The output appears only when complete (written beside it, then moved).
/// A tensor output (class probabilities) becomes one column per element (<c>name_0</c>, <c>name_1</c>, ...).
/// </summary>
public static class BatchScoring
{
    /// <summary>Resolves <paramref name="model"/> through the one resolver (models:/, runs:/ or a folder), then scores.</summary>
    public static async Task<BatchScoringResult> PredictAsync(string model, string inputPath, string outputPath, CairnClient client,
        BatchScoringOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        options ??= new BatchScoringOptions();
        CheckPaths(inputPath, outputPath, options);
        var scratch = Directory.CreateTempSubdirectory("cairn-predict-");
        try
        {
            var (folder, _) = await ModelLocator.LocateAsync(model, client, scratch.FullName, cancellationToken).ConfigureAwait(false);
            using var package = ModelPackage.Load(folder, options.Flavor);
            return await PredictAsync(package.Predictor, inputPath, outputPath, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            try { scratch.Delete(recursive: true); } catch (IOException) { /* a harmless leftover in the temp folder */ }
        }
    }

    /// <summary>Scores <paramref name="inputPath"/> with a loaded predictor into <paramref name="outputPath"/>.</summary>
    public static async Task<BatchScoringResult> PredictAsync(IModelPredictor predictor, string inputPath, string outputPath,
        BatchScoringOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        options ??= new BatchScoringOptions();
        CheckPaths(inputPath, outputPath, options);
        var partial = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outputPath))!, "." + Path.GetFileName(outputPath) + ".partial-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            BatchScoringResult result;
            await using (var sink = IsParquet(outputPath) ? (Sink)new ParquetSink(partial) : new CsvSink(partial))
            {
                long rows = 0;
                var batches = 0;
                await foreach (var chunk in ChunksAsync(inputPath, options, cancellationToken).ConfigureAwait(false))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var input = Evaluator.InputBatch(chunk, predictor, label: "");
                    var output = predictor.Predict(input);
                    if (output.RowCount != chunk.RowCount)
                        throw new InvalidStateException($"The model answered {output.RowCount} rows for a batch of {chunk.RowCount}.");
                    await sink.WriteAsync(chunk, input, output, cancellationToken).ConfigureAwait(false);
                    rows += chunk.RowCount;
                    batches++;
                    options.Progress?.Report(chunk.RowCount);
                }
                result = new BatchScoringResult(rows, batches, sink.PredictionColumns);
            }
            File.Move(partial, outputPath, overwrite: true);
            return result;
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    private static bool IsParquet(string path) => path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);

    private static bool IsCsv(string path) => path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);

    private static void CheckPaths(string inputPath, string outputPath, BatchScoringOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!IsCsv(inputPath) && !IsParquet(inputPath))
            throw new InvalidParameterValueException($"Invalid value '{inputPath}' for '--input': the file must end in .csv or .parquet.");
        if (!IsCsv(outputPath) && !IsParquet(outputPath))
            throw new InvalidParameterValueException($"Invalid value '{outputPath}' for '--output': the file must end in .csv or .parquet.");
        if (options.BatchSize < 1)
            throw new InvalidParameterValueException($"Invalid value {options.BatchSize} for '--batch-size': it must be at least 1.");
        if (!File.Exists(inputPath)) throw new ResourceDoesNotExistException($"Input file '{inputPath}' does not exist.");
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new InvalidParameterValueException($"Invalid value '{outputPath}' for '--output': it is the input file.");
        var folder = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        if (!Directory.Exists(folder)) throw new ResourceDoesNotExistException($"The folder of '--output' ('{folder}') does not exist.");
    }

    /// <summary>The input in tables of at most a batch: CSV chunks, or Parquet row groups cut into batches.</summary>
    private static async IAsyncEnumerable<CsvTable> ChunksAsync(string inputPath, BatchScoringOptions options,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (IsCsv(inputPath))
        {
            foreach (var chunk in CsvTable.ReadChunks(inputPath, options.BatchSize)) yield return chunk;
            yield break;
        }
        await foreach (var group in ParquetTable.ReadRowGroupsAsync(inputPath, options.TotalRows, cancellationToken).ConfigureAwait(false))
            foreach (var part in Slices(group, options.BatchSize)) yield return part;
    }

    private static IEnumerable<CsvTable> Slices(CsvTable table, int size)
    {
        if (table.RowCount <= size)
        {
            yield return table;
            yield break;
        }
        for (var from = 0; from < table.RowCount; from += size)
            yield return table.Slice(from, Math.Min(size, table.RowCount - from));
    }

    /// <summary>The output columns of one batch: the input's, then the predictions' (tensors spread into one column per element).</summary>
    private static List<(string Name, Array Values)> OutputColumns(CsvTable chunk, ColumnBatch input, ColumnBatch output)
    {
        var columns = new List<(string, Array)>();
        foreach (var name in chunk.Names)
            // A column the model read as numbers is written as those numbers; any other as the file's text.
            columns.Add((name, input.TryGet(name, out var values) && values is double[] ? values : chunk[name]));
        var taken = new HashSet<string>(chunk.Names, StringComparer.Ordinal);
        foreach (var (name, values) in output)
        {
            var baseName = taken.Contains(name) ? name + "_predicted" : name;
            switch (values)
            {
                case float[][] tensor: Spread(columns, baseName, tensor); break;
                case double[][] tensor: Spread(columns, baseName, tensor); break;
                default: columns.Add((baseName, values)); break;
            }
        }
        return columns;
    }

    private static void Spread<T>(List<(string, Array)> columns, string name, T[][] rows)
    {
        var width = rows.Length == 0 ? 0 : rows[0].Length;
        if (rows.Any(r => r.Length != width))
            throw new InvalidStateException($"The model's output '{name}' has rows of different lengths; it cannot be written as columns.");
        for (var k = 0; k < width; k++)
        {
            var column = new T[rows.Length];
            for (var r = 0; r < rows.Length; r++) column[r] = rows[r][k];
            columns.Add(($"{name}_{k}", column));
        }
    }

    private abstract class Sink : IAsyncDisposable
    {
        public IReadOnlyList<string> PredictionColumns { get; protected set; } = [];

        private string[]? _layout;

        public async Task WriteAsync(CsvTable chunk, ColumnBatch input, ColumnBatch output, CancellationToken cancellationToken)
        {
            var columns = OutputColumns(chunk, input, output);
            var layout = columns.Select(c => c.Name + ":" + c.Values.GetType().Name).ToArray();
            if (_layout is null)
            {
                _layout = layout;
                PredictionColumns = columns.Skip(chunk.Names.Count).Select(c => c.Name).ToList();
                await StartAsync(columns, cancellationToken).ConfigureAwait(false);
            }
            else if (!layout.SequenceEqual(_layout, StringComparer.Ordinal))
                throw new InvalidStateException($"Rows from {chunk.FirstRow + 1} on give columns ({string.Join(", ", layout)}) unlike the first batch's ({string.Join(", ", _layout)}).");
            await WriteColumnsAsync(columns, chunk.RowCount, cancellationToken).ConfigureAwait(false);
        }

        protected abstract Task StartAsync(List<(string Name, Array Values)> columns, CancellationToken cancellationToken);

        protected abstract Task WriteColumnsAsync(List<(string Name, Array Values)> columns, int rows, CancellationToken cancellationToken);

        public abstract ValueTask DisposeAsync();
    }

    private sealed class CsvSink(string path) : Sink
    {
        private readonly StreamWriter _writer = new(path, append: false, new UTF8Encoding(false), 1 << 16);

        protected override Task StartAsync(List<(string Name, Array Values)> columns, CancellationToken cancellationToken) =>
            _writer.WriteLineAsync(string.Join(',', columns.Select(c => Quote(c.Name))).AsMemory(), cancellationToken);

        protected override async Task WriteColumnsAsync(List<(string Name, Array Values)> columns, int rows, CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            for (var r = 0; r < rows; r++)
            {
                line.Clear();
                for (var c = 0; c < columns.Count; c++)
                {
                    if (c > 0) line.Append(',');
                    line.Append(Quote(Text(columns[c].Values, r)));
                }
                line.Append('\n');
                await _writer.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            }
        }

        private static string Text(Array values, int row) => values switch
        {
            double[] d => double.IsNaN(d[row]) ? "" : d[row].ToString("R", CultureInfo.InvariantCulture),
            float[] f => float.IsNaN(f[row]) ? "" : f[row].ToString("R", CultureInfo.InvariantCulture),
            long[] l => l[row].ToString(CultureInfo.InvariantCulture),
            int[] i => i[row].ToString(CultureInfo.InvariantCulture),
            bool[] b => b[row] ? "true" : "false",
            string?[] s => s[row] ?? "",
            _ => Convert.ToString(values.GetValue(row), CultureInfo.InvariantCulture) ?? "",
        };

        /// <summary>RFC 4180 quoting, also for edge spaces (the reader trims unquoted fields) and an empty string kept apart from missing.</summary>
        private static string Quote(string value) =>
            value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
                ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
                : value;

        public override async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class ParquetSink(string path) : Sink
    {
        private readonly FileStream _stream = new(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        private ParquetWriter? _writer;
        private DataField[] _fields = [];

        protected override async Task StartAsync(List<(string Name, Array Values)> columns, CancellationToken cancellationToken)
        {
            _fields = columns.Select(c => c.Values switch
            {
                double[] => (DataField)new DataField<double>(c.Name),
                float[] => new DataField<float>(c.Name),
                long[] => new DataField<long>(c.Name),
                int[] => new DataField<int>(c.Name),
                bool[] => new DataField<bool>(c.Name),
                _ => new DataField<string>(c.Name, true),
            }).ToArray();
            _writer = await ParquetWriter.CreateAsync(new ParquetSchema(_fields), _stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        protected override async Task WriteColumnsAsync(List<(string Name, Array Values)> columns, int rows, CancellationToken cancellationToken)
        {
            using var group = _writer!.CreateRowGroup();
            for (var c = 0; c < columns.Count; c++)
            {
                var field = _fields[c];
                switch (columns[c].Values)
                {
                    case double[] d: await group.WriteAsync<double>(field, d.AsMemory(), null, null, cancellationToken).ConfigureAwait(false); break;
                    case float[] f: await group.WriteAsync<float>(field, f.AsMemory(), null, null, cancellationToken).ConfigureAwait(false); break;
                    case long[] l: await group.WriteAsync<long>(field, l.AsMemory(), null, null, cancellationToken).ConfigureAwait(false); break;
                    case int[] i: await group.WriteAsync<int>(field, i.AsMemory(), null, null, cancellationToken).ConfigureAwait(false); break;
                    case bool[] b: await group.WriteAsync<bool>(field, b.AsMemory(), null, null, cancellationToken).ConfigureAwait(false); break;
                    case string?[] s: await group.WriteAsync(field, (IReadOnlyCollection<string>)s!, null).ConfigureAwait(false); break;
                    default: throw new InvalidStateException($"Column '{columns[c].Name}' has type {columns[c].Values.GetType().Name}, which cannot be written.");
                }
            }
        }

        public override async ValueTask DisposeAsync()
        {
            if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

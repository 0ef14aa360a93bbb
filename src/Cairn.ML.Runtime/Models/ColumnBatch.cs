using System.Collections;

namespace Cairn.ML.Models;

/// <summary>
/// A batch of rows held as named columns, the shape scoring requests and CSV files arrive in. Each column is an array
/// with one element per row: <c>double[]</c>, <c>float[]</c>, <c>long[]</c>, <c>int[]</c>, <c>bool[]</c>, <c>string?[]</c>,
/// or <c>float[][]</c>/<c>double[][]</c> for a tensor column (one vector per row). Columns keep their insertion order.
/// </summary>
public sealed class ColumnBatch : IEnumerable<KeyValuePair<string, Array>>
{
    private readonly List<KeyValuePair<string, Array>> _columns = [];
    private readonly Dictionary<string, Array> _byName = new(StringComparer.Ordinal);

    /// <summary>The number of rows; -1 while the batch has no column.</summary>
    public int RowCount { get; private set; } = -1;

    /// <summary>The column names, in order.</summary>
    public IEnumerable<string> Names => _columns.Select(c => c.Key);

    public int ColumnCount => _columns.Count;

    /// <summary>The column <paramref name="name"/>; throws <see cref="InvalidParameterValueException"/> naming it when missing.</summary>
    public Array this[string name] => _byName.TryGetValue(name, out var column) ? column
        : throw new InvalidParameterValueException($"The batch has no column '{name}' (it has: {string.Join(", ", Names)}).");

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGet(string name, out Array column) => _byName.TryGetValue(name, out column!);

    /// <summary>Adds a column; every column must have the same number of rows and a supported element type.</summary>
    public ColumnBatch Add(string name, Array values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(values);
        if (!IsSupported(values.GetType().GetElementType()!))
            throw new InvalidParameterValueException($"Column '{name}' has unsupported type {values.GetType().Name}: use double, float, long, int, bool or string arrays, or float[][]/double[][] for tensors.");
        if (RowCount >= 0 && values.Length != RowCount)
            throw new InvalidParameterValueException($"Column '{name}' has {values.Length} rows but the batch has {RowCount}.");
        if (!_byName.TryAdd(name, values))
            throw new InvalidParameterValueException($"The batch already has a column '{name}'.");
        _columns.Add(new(name, values));
        RowCount = values.Length;
        return this;
    }

    /// <summary>The column as doubles (numbers and bools converted; NaN for a missing or unparsable string).</summary>
    public double[] GetDoubles(string name) => this[name] switch
    {
        double[] d => d,
        float[] f => Array.ConvertAll(f, v => (double)v),
        long[] l => Array.ConvertAll(l, v => (double)v),
        int[] i => Array.ConvertAll(i, v => (double)v),
        bool[] b => Array.ConvertAll(b, v => v ? 1.0 : 0.0),
        string?[] s => Array.ConvertAll(s, v => double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) ? x : double.NaN),
        var other => throw new InvalidParameterValueException($"Column '{name}' holds {other.GetType().Name}, not numbers."),
    };

    /// <summary>The column as strings (numbers formatted with the invariant culture).</summary>
    public string?[] GetStrings(string name)
    {
        var column = this[name];
        if (column is string?[] s) return s;
        var result = new string?[column.Length];
        for (var i = 0; i < result.Length; i++) result[i] = Convert.ToString(column.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
        return result;
    }

    /// <summary>The rows <paramref name="rows"/> of every column, as a new batch.</summary>
    public ColumnBatch Select(IReadOnlyList<int> rows)
    {
        var batch = new ColumnBatch();
        foreach (var (name, column) in _columns)
        {
            var copy = Array.CreateInstance(column.GetType().GetElementType()!, rows.Count);
            for (var i = 0; i < rows.Count; i++) copy.SetValue(column.GetValue(rows[i]), i);
            batch.Add(name, copy);
        }
        return batch;
    }

    public IEnumerator<KeyValuePair<string, Array>> GetEnumerator() => _columns.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static bool IsSupported(Type element) =>
        element == typeof(double) || element == typeof(float) || element == typeof(long) || element == typeof(int) ||
        element == typeof(bool) || element == typeof(string) || element == typeof(float[]) || element == typeof(double[]);
}

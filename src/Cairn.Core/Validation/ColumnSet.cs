using System.Globalization;

namespace Cairn.Validation;

/// <summary>
/// Columns held in memory (a scoring request's rows, a test's data): each column as strings (null where missing) and/or
/// numbers (NaN where missing). A column of strings whose every present value parses as a number (invariant culture) is
/// numbers too, parsed once on first use.
/// </summary>
public sealed class ColumnSet : IColumnSource
{
    private readonly List<string> _names = [];
    private readonly Dictionary<string, string?[]> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double[]?> _numbers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>An empty set of <paramref name="rowCount"/> rows.</summary>
    public ColumnSet(int rowCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        RowCount = rowCount;
    }

    /// <inheritdoc/>
    public int RowCount { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Adds a column of values as written (null where missing).</summary>
    public ColumnSet Add(string name, string?[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Check(name, values.Length);
        _names.Add(name);
        _strings[name] = values;
        return this;
    }

    /// <summary>Adds a column of numbers (NaN where missing).</summary>
    public ColumnSet Add(string name, double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Check(name, values.Length);
        _names.Add(name);
        _numbers[name] = values;
        return this;
    }

    /// <inheritdoc/>
    public bool Has(string name) => _strings.ContainsKey(name) || _numbers.ContainsKey(name);

    /// <inheritdoc/>
    public bool TryNumbers(string name, out double[] numbers)
    {
        lock (_lock)
        {
            if (!_numbers.TryGetValue(name, out var parsed))
            {
                parsed = Parse(Column(name));
                _numbers[name] = parsed;
            }
            numbers = parsed ?? [];
            return parsed is not null;
        }
    }

    /// <inheritdoc/>
    public string?[] Strings(string name)
    {
        lock (_lock)
        {
            if (_strings.TryGetValue(name, out var text)) return text;
            var numbers = _numbers.GetValueOrDefault(name) ?? throw new ArgumentException($"No column '{name}'.", nameof(name));
            var made = numbers.Select(v => double.IsNaN(v) ? null : v.ToString("R", CultureInfo.InvariantCulture)).ToArray();
            _strings[name] = made;
            return made;
        }
    }

    private string?[] Column(string name) =>
        _strings.TryGetValue(name, out var values) ? values : throw new ArgumentException($"No column '{name}'.", nameof(name));

    /// <summary>The numbers of a column of strings, or null when a present value is not one (all missing is numbers, as a file reader holds it).</summary>
    private static double[]? Parse(string?[] values)
    {
        var numbers = new double[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is not { } value)
            {
                numbers[i] = double.NaN;
                continue;
            }
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[i])) return null;
        }
        return numbers;
    }

    private void Check(string name, int length)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Has(name)) throw new ArgumentException($"Column '{name}' is already in the set.", nameof(name));
        if (length != RowCount) throw new ArgumentException($"Column '{name}' has {length} values; the set has {RowCount} rows.", nameof(name));
    }
}

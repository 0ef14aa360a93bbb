namespace Cairn.Validation;

/// <summary>
/// The columns of a data set as expectations read them: numbers (NaN where missing) when every present value of a column
/// is one, and the values as written (null where missing) otherwise or when asked. A file reader (CSV, Parquet) or a
/// scoring request's input provides one; <see cref="ColumnSet"/> holds columns already in memory.
/// </summary>
public interface IColumnSource
{
    /// <summary>The rows of every column.</summary>
    int RowCount { get; }

    /// <summary>The column names in their order.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>Whether the data has the column.</summary>
    bool Has(string name);

    /// <summary>
    /// The column as numbers (NaN where missing) when every present value is one; false otherwise. The array belongs to the
    /// source: read it, do not change it. The column must exist (<see cref="Has"/>).
    /// </summary>
    bool TryNumbers(string name, out double[] numbers);

    /// <summary>The column's values as written, null where missing. The column must exist (<see cref="Has"/>).</summary>
    string?[] Strings(string name);
}

namespace Cairn.Validation;

/// <summary>What a failed expectation means: an <see cref="Error"/> fails the validation, a <see cref="Warn"/> is only reported.</summary>
public enum Severity
{
    /// <summary>A failure fails the validation (the default).</summary>
    Error,

    /// <summary>A failure is reported and does not fail the validation.</summary>
    Warn,
}

/// <summary>The type a <c>column_type</c> expectation asks of a column.</summary>
public enum ColumnType
{
    /// <summary>Every present value parses as a number (invariant culture).</summary>
    Numeric,

    /// <summary>Every present value is a whole number.</summary>
    Integer,

    /// <summary>Not every present value is a number: the column is held as text.</summary>
    String,

    /// <summary>Every present value is <c>true</c> or <c>false</c> (any case).</summary>
    Boolean,
}

/// <summary>
/// One rule of an <see cref="ExpectationSuite"/> about the data, or one of its columns. Each kind is its own record; the
/// suite file names it by <see cref="Kind"/>. Values that are missing (an empty cell, NaN) are left out of every check
/// except <see cref="NotNullExpectation"/>'s.
/// </summary>
public abstract record Expectation
{
    /// <summary>Its place in the suite (0-based), which errors and results name.</summary>
    public required int Index { get; init; }

    /// <summary>The column it is about, or null for a rule about the whole data (<c>row_count_between</c>).</summary>
    public string? Column { get; init; }

    /// <summary>Whether a failure fails the validation.</summary>
    public Severity Severity { get; init; } = Severity.Error;

    /// <summary>The kind's name as the suite file writes it (<c>between</c>, <c>in_set</c>, ...).</summary>
    public abstract string Kind { get; }

    /// <summary>The rule in a few words, for tables and reports (<c>0 &lt;= value &lt;= 120</c>).</summary>
    public abstract string Describe();
}

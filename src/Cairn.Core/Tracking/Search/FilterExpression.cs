namespace Cairn.Tracking.Search;

/// <summary>What a filter key refers to: <c>metrics.acc</c>, <c>params.model</c>, <c>attributes.status</c>...</summary>
public enum EntityKind { Metric, Param, Tag, Attribute, Dataset }

public enum Comparator { Equal, NotEqual, Greater, GreaterOrEqual, Less, LessOrEqual, Like, ILike, In, NotIn }

/// <summary>A parsed filter: comparisons joined by AND/OR, in the precedence the parentheses gave.</summary>
public abstract record FilterExpression;

public sealed record AndExpression(FilterExpression Left, FilterExpression Right) : FilterExpression;

public sealed record OrExpression(FilterExpression Left, FilterExpression Right) : FilterExpression;

/// <summary>One <c>entity.key op value</c> term. <see cref="Position"/> is the offset of the key in the filter text.</summary>
public sealed record Comparison(EntityKind Entity, string Key, Comparator Op, FilterValue Value, int Position) : FilterExpression;

public abstract record FilterValue;

public sealed record NumberValue(double Value) : FilterValue;

public sealed record StringValue(string Value) : FilterValue;

public sealed record ListValue(IReadOnlyList<string> Values) : FilterValue;

/// <summary>One key of an order_by clause.</summary>
public sealed record OrderByKey(EntityKind Entity, string Key, bool Ascending);

namespace Cairn.Tracking.Search;

/// <summary>What a filter key refers to: <c>metrics.acc</c>, <c>params.model</c>, <c>attributes.status</c>...</summary>
public enum EntityKind { Metric, Param, Tag, Attribute, Dataset }

public enum Comparator { Equal, NotEqual, Greater, GreaterOrEqual, Less, LessOrEqual, Like, ILike, In, NotIn }

/// <summary>A parsed filter: comparisons joined by AND/OR, in the precedence the parentheses gave.</summary>
public abstract record FilterExpression
{
    /// <summary>
    /// The operands of a chain of one operator (<c>a AND b AND c</c> is a tree as deep as it is long), left to right,
    /// gathered without recursion: only parentheses and AND/OR alternation, both bounded by the parser, make code that
    /// walks the tree recurse.
    /// </summary>
    internal static List<FilterExpression> Operands(FilterExpression root)
    {
        var operands = new List<FilterExpression>();
        var pending = new Stack<FilterExpression>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var e = pending.Pop();
            switch (e)
            {
                case AndExpression a when root is AndExpression:
                    pending.Push(a.Right);
                    pending.Push(a.Left);
                    break;
                case OrExpression o when root is OrExpression:
                    pending.Push(o.Right);
                    pending.Push(o.Left);
                    break;
                default:
                    operands.Add(e);
                    break;
            }
        }
        return operands;
    }
}

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

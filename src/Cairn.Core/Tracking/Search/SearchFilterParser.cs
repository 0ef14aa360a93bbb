using System.Globalization;

namespace Cairn.Tracking.Search;

/// <summary>
/// Parses MLflow's search filter language, extended with OR and parentheses:
/// <c>(params.model = 'rf' OR params.model = 'gbt') AND metrics.auc &gt; 0.8</c>.
/// Errors are <see cref="InvalidParameterValueException"/> naming the position and the rule.
/// Filters come from requests, so the parser bounds what it accepts (<see cref="MaxFilterLength"/>,
/// <see cref="MaxDepth"/>, <see cref="MaxTerms"/>, <see cref="MaxOrderByClauses"/>): far above any real query,
/// low enough that neither the parser nor the SQL built from its tree can exhaust the stack or the database.
/// </summary>
public static class SearchFilterParser
{
    /// <summary>At most this many characters in a filter (a list of a thousand run ids fits several times).</summary>
    public const int MaxFilterLength = 100_000;

    /// <summary>At most this many nested parentheses.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// At most this many comparisons in a filter: real filters hold a handful (a long list of values is one IN term),
    /// and PostgreSQL takes about a second to plan a thousand.
    /// </summary>
    public const int MaxTerms = 200;

    /// <summary>At most this many values in one IN list.</summary>
    public const int MaxListValues = 10_000;

    /// <summary>
    /// At most this many characters in a LIKE or ILIKE pattern: the longest value stored (a tag value, MLflow's 8000),
    /// and well inside SQLite's own pattern limit (50,000) once translated to GLOB.
    /// </summary>
    public const int MaxLikePatternLength = TrackingLimits.MaxTagValueLength;

    /// <summary>At most this many order_by clauses; each becomes a join.</summary>
    public const int MaxOrderByClauses = 10;

    /// <summary>At most this many characters in one order_by clause (a key of MLflow's 250 plus quotes and direction).</summary>
    public const int MaxOrderByClauseLength = 1000;

    private static readonly HashSet<string> RunStringAttributes = new(StringComparer.Ordinal)
        { "run_id", "run_name", "status", "artifact_uri", "user_id", "lifecycle_stage" };
    private static readonly HashSet<string> RunNumericAttributes = new(StringComparer.Ordinal)
        { "start_time", "end_time", "created" };
    private static readonly HashSet<string> DatasetAttributes = new(StringComparer.Ordinal)
        { "name", "digest", "context" };
    private static readonly HashSet<string> ExperimentStringAttributes = new(StringComparer.Ordinal) { "name" };
    private static readonly HashSet<string> ExperimentNumericAttributes = new(StringComparer.Ordinal)
        { "creation_time", "last_update_time" };
    private static readonly HashSet<string> RegisteredModelFilterAttributes = new(StringComparer.Ordinal) { "name" };
    private static readonly HashSet<string> RegisteredModelOrderAttributes = new(StringComparer.Ordinal)
        { "name", "creation_timestamp", "last_updated_timestamp" };
    private static readonly HashSet<string> ModelVersionFilterAttributes = new(StringComparer.Ordinal)
        { "name", "run_id", "source_path", "version_number", "current_stage" };
    private static readonly HashSet<string> ModelVersionOrderAttributes = new(StringComparer.Ordinal)
        { "name", "version_number", "creation_timestamp", "last_updated_timestamp", "run_id", "current_stage" };
    private static readonly HashSet<string> RegistryNumericAttributes = new(StringComparer.Ordinal)
        { "version_number", "creation_timestamp", "last_updated_timestamp" };

    /// <summary>Parses a runs/search filter. Returns null for an empty filter.</summary>
    public static FilterExpression? ParseRunFilter(string? filter) => Parse(filter, Target.Runs);

    /// <summary>Parses an experiments/search filter. Returns null for an empty filter.</summary>
    public static FilterExpression? ParseExperimentFilter(string? filter) => Parse(filter, Target.Experiments);

    /// <summary>Parses runs/search order_by clauses such as <c>metrics.acc DESC</c>.</summary>
    public static IReadOnlyList<OrderByKey> ParseRunOrderBy(IReadOnlyList<string>? clauses) => ParseOrderBy(clauses, Target.Runs);

    /// <summary>Parses experiments/search order_by clauses such as <c>name ASC</c>.</summary>
    public static IReadOnlyList<OrderByKey> ParseExperimentOrderBy(IReadOnlyList<string>? clauses) => ParseOrderBy(clauses, Target.Experiments);

    /// <summary>Parses a registered-models/search filter (<c>name</c>, <c>tags.k</c>). Returns null for an empty filter.</summary>
    public static FilterExpression? ParseRegisteredModelFilter(string? filter) => Parse(filter, Target.RegisteredModels);

    /// <summary>Parses a model-versions/search filter (<c>name</c>, <c>run_id</c>, <c>source_path</c>, <c>version_number</c>, <c>tags.k</c>).</summary>
    public static FilterExpression? ParseModelVersionFilter(string? filter) => Parse(filter, Target.ModelVersions);

    /// <summary>Parses registered-models/search order_by clauses such as <c>name ASC</c>.</summary>
    public static IReadOnlyList<OrderByKey> ParseRegisteredModelOrderBy(IReadOnlyList<string>? clauses) => ParseOrderBy(clauses, Target.RegisteredModels);

    /// <summary>Parses model-versions/search order_by clauses such as <c>version_number DESC</c>.</summary>
    public static IReadOnlyList<OrderByKey> ParseModelVersionOrderBy(IReadOnlyList<string>? clauses) => ParseOrderBy(clauses, Target.ModelVersions);

    internal enum Target { Runs, Experiments, RegisteredModels, ModelVersions }

    private static FilterExpression? Parse(string? filter, Target target)
    {
        if (string.IsNullOrWhiteSpace(filter)) return null;
        if (filter.Length > MaxFilterLength)
            throw new InvalidParameterValueException(
                $"Invalid filter '{Lexer.Shorten(filter)}': it has {filter.Length} characters; a filter has at most {MaxFilterLength}.");
        var parser = new Parser(filter, target);
        var expression = parser.ParseExpression();
        parser.ExpectEnd();
        return expression;
    }

    private static IReadOnlyList<OrderByKey> ParseOrderBy(IReadOnlyList<string>? clauses, Target target)
    {
        if (clauses is null || clauses.Count == 0) return [];
        if (clauses.Count > MaxOrderByClauses)
            throw new InvalidParameterValueException($"Invalid order_by: it has {clauses.Count} clauses; at most {MaxOrderByClauses} are allowed.");
        var keys = new List<OrderByKey>(clauses.Count);
        foreach (var clause in clauses)
        {
            if (string.IsNullOrWhiteSpace(clause))
                throw new InvalidParameterValueException("Invalid order_by clause '': it must name a column, e.g. 'metrics.acc DESC'.");
            if (clause.Length > MaxOrderByClauseLength)
                throw new InvalidParameterValueException(
                    $"Invalid order_by clause '{Lexer.Shorten(clause)}': it has {clause.Length} characters; a clause has at most {MaxOrderByClauseLength}.");
            var lexer = new Lexer(clause, "order_by clause");
            var identifier = lexer.Next();
            if (identifier.Kind != TokenKind.Identifier)
                throw lexer.Error(identifier, "expected a column to order by, e.g. 'metrics.acc DESC'");
            var (entity, key) = ResolveIdentifier(identifier, lexer, target, forOrderBy: true);
            var ascending = true;
            var direction = lexer.Next();
            if (direction.Kind == TokenKind.Identifier && direction.Text.Equals("ASC", StringComparison.OrdinalIgnoreCase)) direction = lexer.Next();
            else if (direction.Kind == TokenKind.Identifier && direction.Text.Equals("DESC", StringComparison.OrdinalIgnoreCase)) { ascending = false; direction = lexer.Next(); }
            if (direction.Kind != TokenKind.End)
                throw lexer.Error(direction, "expected ASC or DESC at the end of the order_by clause");
            keys.Add(new OrderByKey(entity, key, ascending));
        }
        return keys;
    }

    private static (EntityKind Entity, string Key) ResolveIdentifier(Token token, Lexer lexer, Target target, bool forOrderBy)
    {
        var (prefix, key) = (token.Prefix, token.Text);
        EntityKind entity;
        if (prefix is null)
        {
            // A bare name is an attribute: `status = 'FINISHED'`, `name LIKE 'x%'`, order_by `start_time`.
            entity = EntityKind.Attribute;
        }
        else
        {
            entity = prefix.ToLowerInvariant() switch
            {
                "metric" or "metrics" when target == Target.Runs => EntityKind.Metric,
                "param" or "params" or "parameter" or "parameters" when target == Target.Runs => EntityKind.Param,
                "tag" or "tags" => EntityKind.Tag,
                "attribute" or "attributes" or "attr" or "run" => EntityKind.Attribute,
                "dataset" or "datasets" when target == Target.Runs && !forOrderBy => EntityKind.Dataset,
                _ => throw lexer.Error(token, target == Target.Runs
                    ? $"invalid entity type '{prefix}'; expected one of metrics, params, tags, attributes, datasets"
                    : $"invalid entity type '{prefix}'; expected one of tags, attributes"),
            };
        }
        if (key.Length == 0) throw lexer.Error(token, "the key after the entity type is empty");
        if (key.Length > TrackingLimits.MaxEntityKeyLength)
            throw lexer.Error(token, $"the key has {key.Length} characters; a key has at most {TrackingLimits.MaxEntityKeyLength}");

        if (entity == EntityKind.Attribute && target is Target.RegisteredModels or Target.ModelVersions)
        {
            // MLflow's registry accepts `timestamp` for last_updated_timestamp in order_by.
            if (key == "timestamp") key = "last_updated_timestamp";
            var allowed = (target, forOrderBy) switch
            {
                (Target.RegisteredModels, false) => RegisteredModelFilterAttributes,
                (Target.RegisteredModels, true) => RegisteredModelOrderAttributes,
                (_, false) => ModelVersionFilterAttributes,
                _ => ModelVersionOrderAttributes,
            };
            if (!allowed.Contains(key))
                throw lexer.Error(token, $"invalid attribute key '{key}'; valid attributes are {string.Join(", ", allowed)}");
        }
        else if (entity == EntityKind.Attribute)
        {
            key = NormalizeAttribute(key);
            var valid = target == Target.Runs
                ? RunStringAttributes.Contains(key) || RunNumericAttributes.Contains(key)
                : ExperimentStringAttributes.Contains(key) || ExperimentNumericAttributes.Contains(key) || (forOrderBy && key == "experiment_id");
            if (!valid)
            {
                var allowed = target == Target.Runs
                    ? string.Join(", ", RunStringAttributes.Concat(RunNumericAttributes).Order(StringComparer.Ordinal))
                    : string.Join(", ", ExperimentStringAttributes.Concat(ExperimentNumericAttributes).Append(forOrderBy ? "experiment_id" : null).OfType<string>());
                throw lexer.Error(token, $"invalid attribute key '{key}'; valid attributes are {allowed}");
            }
            if (key == "created") key = "start_time";
        }
        else if (entity == EntityKind.Dataset && !DatasetAttributes.Contains(key))
        {
            throw lexer.Error(token, $"invalid dataset attribute key '{key}'; valid dataset attributes are name, digest, context");
        }
        return (entity, key);
    }

    private static string NormalizeAttribute(string key) => key switch
    {
        "run name" or "runName" or "run_name" => "run_name",
        "Created" => "created",
        "experiment_id" => "experiment_id",
        _ => key,
    };

    internal static bool IsNumericAttribute(EntityKind entity, string key) =>
        entity == EntityKind.Attribute && (RunNumericAttributes.Contains(key) || ExperimentNumericAttributes.Contains(key) || RegistryNumericAttributes.Contains(key));

    private sealed class Parser(string text, Target target)
    {
        private readonly Lexer _lexer = new(text, "filter");
        private Token _current = default;
        private bool _hasCurrent;
        private int _depth;
        private int _terms;

        private Token Peek()
        {
            if (!_hasCurrent) { _current = _lexer.Next(); _hasCurrent = true; }
            return _current;
        }

        private Token Take() { var t = Peek(); _hasCurrent = false; return t; }

        public FilterExpression ParseExpression()
        {
            var left = ParseAnd();
            while (IsKeyword(Peek(), "OR"))
            {
                Take();
                left = new OrExpression(left, ParseAnd());
            }
            return left;
        }

        private FilterExpression ParseAnd()
        {
            var left = ParsePrimary();
            while (IsKeyword(Peek(), "AND"))
            {
                Take();
                left = new AndExpression(left, ParsePrimary());
            }
            return left;
        }

        private FilterExpression ParsePrimary()
        {
            var token = Take();
            if (token.Kind == TokenKind.LeftParen)
            {
                // The recursion below is as deep as the parentheses, so their depth is bounded before recursing.
                if (++_depth > MaxDepth) throw _lexer.Error(token, $"parentheses nest more than {MaxDepth} deep");
                var inner = ParseExpression();
                var close = Take();
                if (close.Kind != TokenKind.RightParen) throw _lexer.Error(close, "expected ')' to close the '(' at position " + token.Position);
                _depth--;
                return inner;
            }
            if (token.Kind != TokenKind.Identifier || IsKeyword(token, "AND") || IsKeyword(token, "OR"))
                throw _lexer.Error(token, "expected a comparison such as metrics.acc > 0.9 or params.model = 'rf'");
            return ParseComparison(token);
        }

        private Comparison ParseComparison(Token identifier)
        {
            if (++_terms > MaxTerms) throw _lexer.Error(identifier, $"a filter has at most {MaxTerms} comparisons");
            var (entity, key) = ResolveIdentifier(identifier, _lexer, target, forOrderBy: false);
            var opToken = Take();
            var op = opToken switch
            {
                { Kind: TokenKind.Operator, Text: "=" } or { Kind: TokenKind.Operator, Text: "==" } => Comparator.Equal,
                { Kind: TokenKind.Operator, Text: "!=" } or { Kind: TokenKind.Operator, Text: "<>" } => Comparator.NotEqual,
                { Kind: TokenKind.Operator, Text: ">" } => Comparator.Greater,
                { Kind: TokenKind.Operator, Text: ">=" } => Comparator.GreaterOrEqual,
                { Kind: TokenKind.Operator, Text: "<" } => Comparator.Less,
                { Kind: TokenKind.Operator, Text: "<=" } => Comparator.LessOrEqual,
                _ when IsKeyword(opToken, "LIKE") => Comparator.Like,
                _ when IsKeyword(opToken, "ILIKE") => Comparator.ILike,
                _ when IsKeyword(opToken, "IN") => Comparator.In,
                _ when IsKeyword(opToken, "NOT") && IsKeyword(Peek(), "IN") => TakeAnd(Comparator.NotIn),
                _ => throw _lexer.Error(opToken, "expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)"),
            };

            var numeric = entity == EntityKind.Metric || IsNumericAttribute(entity, key);
            if (numeric)
            {
                if (op is Comparator.Like or Comparator.ILike or Comparator.In or Comparator.NotIn)
                    throw _lexer.Error(opToken, $"'{Describe(entity, key)}' is numeric; it supports only =, !=, <, <=, >, >=");
                var valueToken = Take();
                if (valueToken.Kind != TokenKind.Number)
                    throw _lexer.Error(valueToken, $"'{Describe(entity, key)}' is numeric and must be compared with a number, e.g. {Describe(entity, key)} > 0.5");
                return new Comparison(entity, key, op, new NumberValue(valueToken.Number), identifier.Position);
            }

            if (op is Comparator.Greater or Comparator.GreaterOrEqual or Comparator.Less or Comparator.LessOrEqual)
                throw _lexer.Error(opToken, $"'{Describe(entity, key)}' is a string; it supports only =, !=, LIKE, ILIKE, IN, NOT IN");
            if (op is Comparator.In or Comparator.NotIn)
                return new Comparison(entity, key, op, ParseList(), identifier.Position);
            var stringToken = Take();
            if (stringToken.Kind != TokenKind.String)
                throw _lexer.Error(stringToken, $"the value compared with '{Describe(entity, key)}' must be a quoted string, e.g. {Describe(entity, key)} = 'value'");
            if (op is Comparator.Like or Comparator.ILike && stringToken.Text.Length > MaxLikePatternLength)
                throw _lexer.Error(stringToken, $"the {(op == Comparator.Like ? "LIKE" : "ILIKE")} pattern has {stringToken.Text.Length} characters; a pattern has at most {MaxLikePatternLength}");
            return new Comparison(entity, key, op, new StringValue(stringToken.Text), identifier.Position);
        }

        private Comparator TakeAnd(Comparator comparator) { Take(); return comparator; }

        private ListValue ParseList()
        {
            var open = Take();
            if (open.Kind != TokenKind.LeftParen) throw _lexer.Error(open, "expected '(' to start the list of values after IN");
            var values = new List<string>();
            while (true)
            {
                var value = Take();
                if (value.Kind != TokenKind.String) throw _lexer.Error(value, "expected a quoted string in the IN list");
                if (values.Count == MaxListValues) throw _lexer.Error(value, $"an IN list has at most {MaxListValues} values");
                values.Add(value.Text);
                var next = Take();
                if (next.Kind == TokenKind.RightParen) break;
                if (next.Kind != TokenKind.Comma) throw _lexer.Error(next, "expected ',' or ')' in the IN list");
            }
            return new ListValue(values);
        }

        public void ExpectEnd()
        {
            var token = Take();
            if (token.Kind != TokenKind.End) throw _lexer.Error(token, "expected AND, OR or the end of the filter");
        }

        private static string Describe(EntityKind entity, string key) => entity switch
        {
            EntityKind.Metric => $"metrics.{key}",
            EntityKind.Param => $"params.{key}",
            EntityKind.Tag => $"tags.{key}",
            EntityKind.Dataset => $"datasets.{key}",
            _ => $"attributes.{key}",
        };
    }

    private static bool IsKeyword(Token token, string keyword) =>
        token.Kind == TokenKind.Identifier && token.Prefix is null && token.Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);

    internal enum TokenKind { Identifier, String, Number, Operator, LeftParen, RightParen, Comma, End }

    /// <summary>An identifier keeps its entity prefix apart: <c>metrics."my key"</c> is Prefix=metrics, Text=my key.</summary>
    internal readonly record struct Token(TokenKind Kind, string Text, int Position, string? Prefix = null, double Number = 0);

    internal sealed class Lexer(string text, string what)
    {
        private int _pos;

        public InvalidParameterValueException Error(Token at, string rule)
        {
            var found = at.Kind == TokenKind.End ? "the end of the text" : $"'{Snippet(at.Position)}'";
            return new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {at.Position}, {rule}; found {found}.");
        }

        /// <summary>The text quoted in an error: whole when short, else its start, so a huge filter is not echoed back.</summary>
        public static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";

        private string Snippet(int position)
        {
            var end = Math.Min(text.Length, position + 20);
            return text[position..end];
        }

        public Token Next()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
            if (_pos >= text.Length) return new Token(TokenKind.End, "", text.Length);
            var start = _pos;
            var c = text[_pos];
            switch (c)
            {
                case '(': _pos++; return new Token(TokenKind.LeftParen, "(", start);
                case ')': _pos++; return new Token(TokenKind.RightParen, ")", start);
                case ',': _pos++; return new Token(TokenKind.Comma, ",", start);
                case '\'' or '"': return new Token(TokenKind.String, ReadQuoted(c, start), start);
                case '`': throw new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {start}, a backtick-quoted key needs an entity prefix, e.g. metrics.`my-key`.");
                case '=' or '!' or '<' or '>': return ReadOperator(start);
            }
            if (char.IsDigit(c) || ((c is '-' or '+' or '.') && _pos + 1 < text.Length && (char.IsDigit(text[_pos + 1]) || text[_pos + 1] == '.')))
                return ReadNumber(start);
            if (IsIdentifierStart(c)) return ReadIdentifier(start);
            throw new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {start}, unexpected character '{c}'.");
        }

        private Token ReadOperator(int start)
        {
            var c = text[_pos++];
            if (_pos < text.Length && (text[_pos] == '=' || (c == '<' && text[_pos] == '>') || (c == '=' && text[_pos] == '=')))
                _pos++;
            var op = text[start.._pos];
            if (op == "!") throw new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {start}, '!' must be followed by '='.");
            return new Token(TokenKind.Operator, op, start);
        }

        private Token ReadNumber(int start)
        {
            if (text[_pos] is '-' or '+') _pos++;
            while (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] == '.')) _pos++;
            if (_pos < text.Length && text[_pos] is 'e' or 'E')
            {
                _pos++;
                if (_pos < text.Length && text[_pos] is '-' or '+') _pos++;
                while (_pos < text.Length && char.IsDigit(text[_pos])) _pos++;
            }
            var raw = text[start.._pos];
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                throw new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {start}, '{raw}' is not a number.");
            return new Token(TokenKind.Number, raw, start, Number: number);
        }

        private Token ReadIdentifier(int start)
        {
            while (_pos < text.Length && IsIdentifierPart(text[_pos])) _pos++;
            var head = text[start.._pos];
            var dot = head.IndexOf('.');
            if (dot < 0)
            {
                return new Token(TokenKind.Identifier, head, start);
            }
            var prefix = head[..dot];
            var key = head[(dot + 1)..];
            if (key.Length == 0 && _pos < text.Length && text[_pos] is '`' or '"')
            {
                // metrics.`my key` or metrics."my key"
                var quote = text[_pos];
                key = ReadQuoted(quote, _pos);
            }
            return new Token(TokenKind.Identifier, key, start, prefix);
        }

        private string ReadQuoted(char quote, int start)
        {
            _pos++; // opening quote
            var sb = new System.Text.StringBuilder();
            while (_pos < text.Length)
            {
                var c = text[_pos++];
                if (c == '\\' && _pos < text.Length && (text[_pos] == quote || text[_pos] == '\\'))
                {
                    sb.Append(text[_pos++]);
                    continue;
                }
                if (c == quote)
                {
                    // SQL style doubled quote: 'it''s'
                    if (_pos < text.Length && text[_pos] == quote) { sb.Append(quote); _pos++; continue; }
                    return sb.ToString();
                }
                sb.Append(c);
            }
            throw new InvalidParameterValueException($"Invalid {what} '{Shorten(text)}': at position {start}, the quoted text starting here is never closed (missing {quote}).");
        }

        private static bool IsIdentifierStart(char c) => char.IsLetter(c) || c == '_';

        private static bool IsIdentifierPart(char c) => char.IsLetterOrDigit(c) || c is '_' or '.' or '-' or ':' or '/';
    }
}

using Cairn.Tracking.Search;

namespace Cairn.Tests.Tracking;

public sealed class SearchFilterParserTests
{
    private static Comparison ParseSingle(string filter) =>
        Assert.IsType<Comparison>(SearchFilterParser.ParseRunFilter(filter));

    private static void AssertComparison(FilterExpression? expression, EntityKind entity, string key, Comparator op, object value)
    {
        var comparison = Assert.IsType<Comparison>(expression);
        Assert.Equal(entity, comparison.Entity);
        Assert.Equal(key, comparison.Key);
        Assert.Equal(op, comparison.Op);
        switch (value)
        {
            case double d:
                Assert.Equal(d, Assert.IsType<NumberValue>(comparison.Value).Value);
                break;
            case string s:
                Assert.Equal(s, Assert.IsType<StringValue>(comparison.Value).Value);
                break;
            case string[] list:
                Assert.Equal(list, Assert.IsType<ListValue>(comparison.Value).Values);
                break;
            default:
                Assert.Fail($"unsupported expected value {value}");
                break;
        }
    }

    /// <summary>The key of a comparison, for checking the shape of AND/OR trees compactly.</summary>
    private static string Shape(FilterExpression expression) => expression switch
    {
        AndExpression a => $"({Shape(a.Left)} AND {Shape(a.Right)})",
        OrExpression o => $"({Shape(o.Left)} OR {Shape(o.Right)})",
        Comparison c => c.Key,
        _ => throw new InvalidOperationException(expression.GetType().Name),
    };

    private static InvalidParameterValueException Invalid(string filter) =>
        Assert.Throws<InvalidParameterValueException>(() => SearchFilterParser.ParseRunFilter(filter));

    // ---- valid filters -------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Empty_filter_parses_to_null(string? filter)
    {
        Assert.Null(SearchFilterParser.ParseRunFilter(filter));
        Assert.Null(SearchFilterParser.ParseExperimentFilter(filter));
    }

    [Theory]
    [InlineData("metrics.acc > 0.5", EntityKind.Metric)]
    [InlineData("metric.acc > 0.5", EntityKind.Metric)]
    [InlineData("params.acc = '1'", EntityKind.Param)]
    [InlineData("param.acc = '1'", EntityKind.Param)]
    [InlineData("parameters.acc = '1'", EntityKind.Param)]
    [InlineData("parameter.acc = '1'", EntityKind.Param)]
    [InlineData("tags.acc = '1'", EntityKind.Tag)]
    [InlineData("tag.acc = '1'", EntityKind.Tag)]
    public void Every_entity_type_and_alias_resolves(string filter, EntityKind expected)
    {
        var comparison = ParseSingle(filter);
        Assert.Equal(expected, comparison.Entity);
        Assert.Equal("acc", comparison.Key);
        Assert.Equal(0, comparison.Position);
    }

    [Theory]
    [InlineData("attributes.status = 'x'", "status")]
    [InlineData("attribute.status = 'x'", "status")]
    [InlineData("attr.status = 'x'", "status")]
    [InlineData("run.status = 'x'", "status")]
    [InlineData("status = 'x'", "status")]
    [InlineData("attributes.run_name = 'x'", "run_name")]
    [InlineData("attributes.runName = 'x'", "run_name")]
    [InlineData("attributes.`run name` = 'x'", "run_name")]
    [InlineData("run_name = 'x'", "run_name")]
    [InlineData("attributes.run_id = 'x'", "run_id")]
    [InlineData("run_id = 'x'", "run_id")]
    [InlineData("attributes.user_id = 'x'", "user_id")]
    [InlineData("attributes.artifact_uri = 'x'", "artifact_uri")]
    [InlineData("attributes.lifecycle_stage = 'x'", "lifecycle_stage")]
    public void String_attributes_resolve_to_their_canonical_name(string filter, string key)
    {
        var comparison = ParseSingle(filter);
        Assert.Equal(EntityKind.Attribute, comparison.Entity);
        Assert.Equal(key, comparison.Key);
        Assert.Equal("x", Assert.IsType<StringValue>(comparison.Value).Value);
    }

    [Theory]
    [InlineData("attributes.start_time >= 1700000000000", "start_time")]
    [InlineData("start_time >= 1700000000000", "start_time")]
    [InlineData("attributes.created >= 1700000000000", "start_time")]
    [InlineData("attributes.Created >= 1700000000000", "start_time")]
    [InlineData("attributes.end_time >= 1700000000000", "end_time")]
    public void Time_attributes_are_numeric(string filter, string key)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Attribute, key, Comparator.GreaterOrEqual, 1700000000000d);
    }

    [Theory]
    [InlineData("datasets.name = 'iris'", "name", "iris")]
    [InlineData("dataset.name = 'iris'", "name", "iris")]
    [InlineData("datasets.digest = 'abc123'", "digest", "abc123")]
    [InlineData("datasets.context = 'training'", "context", "training")]
    public void Dataset_attributes_resolve(string filter, string key, string value)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Dataset, key, Comparator.Equal, value);
    }

    [Fact]
    public void Dataset_attributes_accept_IN_lists()
    {
        AssertComparison(SearchFilterParser.ParseRunFilter("datasets.digest IN ('a1', 'b2')"), EntityKind.Dataset, "digest", Comparator.In, new[] { "a1", "b2" });
    }

    [Theory]
    [InlineData("metrics.`my metric-1` > 0", EntityKind.Metric, "my metric-1")]
    [InlineData("metrics.\"my metric-1\" > 0", EntityKind.Metric, "my metric-1")]
    [InlineData("params.`learning rate` = '0.1'", EntityKind.Param, "learning rate")]
    [InlineData("params.\"learning-rate\" = '0.1'", EntityKind.Param, "learning-rate")]
    [InlineData("tags.`mlflow.source.git-commit` = 'abc'", EntityKind.Tag, "mlflow.source.git-commit")]
    [InlineData("tags.mlflow.parentRunId = 'abc'", EntityKind.Tag, "mlflow.parentRunId")]
    [InlineData("metrics.`a``b` > 0", EntityKind.Metric, "a`b")]
    public void Quoted_keys_keep_spaces_dashes_and_dots(string filter, EntityKind entity, string key)
    {
        var comparison = ParseSingle(filter);
        Assert.Equal(entity, comparison.Entity);
        Assert.Equal(key, comparison.Key);
    }

    [Theory]
    [InlineData("metrics.x > 42", 42d)]
    [InlineData("metrics.x > -42", -42d)]
    [InlineData("metrics.x > 0.125", 0.125)]
    [InlineData("metrics.x > -0.125", -0.125)]
    [InlineData("metrics.x > .5", 0.5)]
    [InlineData("metrics.x > 1e3", 1000d)]
    [InlineData("metrics.x > 1E3", 1000d)]
    [InlineData("metrics.x > 2.5e-3", 0.0025)]
    [InlineData("metrics.x > -1.5E+10", -1.5e10)]
    [InlineData("metrics.x > +7", 7d)]
    [InlineData("metrics.x>-3", -3d)]
    public void Numbers_parse_including_negative_and_scientific(string filter, double expected)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Metric, "x", Comparator.Greater, expected);
    }

    [Theory]
    [InlineData("metrics.x = 1", Comparator.Equal)]
    [InlineData("metrics.x == 1", Comparator.Equal)]
    [InlineData("metrics.x != 1", Comparator.NotEqual)]
    [InlineData("metrics.x <> 1", Comparator.NotEqual)]
    [InlineData("metrics.x > 1", Comparator.Greater)]
    [InlineData("metrics.x >= 1", Comparator.GreaterOrEqual)]
    [InlineData("metrics.x < 1", Comparator.Less)]
    [InlineData("metrics.x <= 1", Comparator.LessOrEqual)]
    public void Numeric_comparators_parse(string filter, Comparator op)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Metric, "x", op, 1d);
    }

    [Theory]
    [InlineData("params.m = 'rf'", Comparator.Equal)]
    [InlineData("params.m != 'rf'", Comparator.NotEqual)]
    [InlineData("params.m <> 'rf'", Comparator.NotEqual)]
    [InlineData("params.m LIKE 'rf'", Comparator.Like)]
    [InlineData("params.m like 'rf'", Comparator.Like)]
    [InlineData("params.m ILIKE 'rf'", Comparator.ILike)]
    [InlineData("params.m iLike 'rf'", Comparator.ILike)]
    [InlineData("params.m = \"rf\"", Comparator.Equal)]
    public void String_comparators_parse(string filter, Comparator op)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Param, "m", op, "rf");
    }

    [Theory]
    [InlineData("params.m IN ('rf', 'gbt', \"lr\")", Comparator.In)]
    [InlineData("params.m in ('rf','gbt','lr')", Comparator.In)]
    [InlineData("params.m NOT IN ('rf', 'gbt', 'lr')", Comparator.NotIn)]
    [InlineData("params.m not in ('rf', 'gbt', 'lr')", Comparator.NotIn)]
    public void In_and_not_in_lists_parse(string filter, Comparator op)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Param, "m", op, new[] { "rf", "gbt", "lr" });
    }

    [Fact]
    public void Single_element_in_list_parses()
    {
        AssertComparison(SearchFilterParser.ParseRunFilter("attributes.status IN ('FINISHED')"), EntityKind.Attribute, "status", Comparator.In, new[] { "FINISHED" });
    }

    [Theory]
    [InlineData("params.a = '1' AND params.b = '2' OR params.c = '3'", "((a AND b) OR c)")]
    [InlineData("params.a = '1' OR params.b = '2' AND params.c = '3'", "(a OR (b AND c))")]
    [InlineData("params.a = '1' or params.b = '2' and params.c = '3'", "(a OR (b AND c))")]
    [InlineData("params.a = '1' OR params.b = '2' OR params.c = '3'", "((a OR b) OR c)")]
    [InlineData("params.a = '1' AND params.b = '2' AND params.c = '3'", "((a AND b) AND c)")]
    [InlineData("(params.a = '1' OR params.b = '2') AND params.c = '3'", "((a OR b) AND c)")]
    [InlineData("params.a = '1' AND (params.b = '2' OR params.c = '3')", "(a AND (b OR c))")]
    [InlineData("((params.a = '1' OR (params.b = '2' AND params.c = '3')))", "(a OR (b AND c))")]
    [InlineData("(params.a = '1' OR params.b = '2') AND (params.c = '3' OR params.d = '4')", "((a OR b) AND (c OR d))")]
    [InlineData("params.a = '1' AND params.b = '2' OR params.c = '3' AND params.d = '4'", "((a AND b) OR (c AND d))")]
    public void And_binds_tighter_than_or_and_parentheses_override(string filter, string shape)
    {
        Assert.Equal(shape, Shape(SearchFilterParser.ParseRunFilter(filter)!));
    }

    [Fact]
    public void Comparison_position_is_the_offset_of_its_key()
    {
        var or = Assert.IsType<OrExpression>(SearchFilterParser.ParseRunFilter("params.a = '1' OR metrics.b > 2"));
        Assert.Equal(0, Assert.IsType<Comparison>(or.Left).Position);
        Assert.Equal(18, Assert.IsType<Comparison>(or.Right).Position);
    }

    [Fact]
    public void Mixed_entities_in_one_filter_parse()
    {
        var filter = "metrics.acc >= 0.9 and params.model = 'rf' and tags.`team name` LIKE 'ml%' and attributes.status != 'FAILED' and datasets.context = 'training'";
        Assert.Equal("((((acc AND model) AND team name) AND status) AND context)", Shape(SearchFilterParser.ParseRunFilter(filter)!));
    }

    [Theory]
    [InlineData("params.x = 'it''s'", "it's")]
    [InlineData("params.x = 'it\\'s'", "it's")]
    [InlineData("params.x = \"say \"\"hi\"\"\"", "say \"hi\"")]
    [InlineData("params.x = 'a\\\\b'", "a\\b")]
    [InlineData("params.x = ''", "")]
    [InlineData("params.x = '  padded  '", "  padded  ")]
    public void String_escapes_are_decoded(string filter, string value)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Param, "x", Comparator.Equal, value);
    }

    // ---- invalid filters -----------------------------------------------------------------

    [Theory]
    [InlineData("foo.bar = 'a'", 0, "invalid entity type 'foo'")]
    [InlineData("params.a = 'x' AND things.b = 'y'", 19, "invalid entity type 'things'")]
    [InlineData("attributes.colour = 'red'", 0, "invalid attribute key 'colour'")]
    [InlineData("colour = 'red'", 0, "invalid attribute key 'colour'")]
    [InlineData("datasets.size = 'big'", 0, "invalid dataset attribute key 'size'")]
    [InlineData("metrics.acc = 'high'", 14, "must be compared with a number")]
    [InlineData("attributes.start_time > '2024-01-01'", 24, "must be compared with a number")]
    [InlineData("params.model = 42", 15, "must be a quoted string")]
    [InlineData("tags.team = -1", 12, "must be a quoted string")]
    [InlineData("params.model = 'rf", 15, "never closed")]
    [InlineData("params.model = \"rf", 15, "never closed")]
    [InlineData("metrics.`acc > 1", 8, "never closed")]
    [InlineData("(params.a = 'x' OR params.b = 'y'", 33, "expected ')' to close the '(' at position 0")]
    [InlineData("((params.a = 'x')", 17, "expected ')' to close the '(' at position 0")]
    [InlineData("params.a = 'x' garbage", 15, "expected AND, OR or the end of the filter")]
    [InlineData("params.a = 'x')", 14, "expected AND, OR or the end of the filter")]
    [InlineData("params.a 'x'", 9, "expected a comparison operator")]
    [InlineData("params.a", 8, "expected a comparison operator")]
    [InlineData("params.a IN ()", 13, "expected a quoted string in the IN list")]
    [InlineData("params.a IN 'x'", 12, "expected '(' to start the list")]
    [InlineData("params.a IN ('x' 'y')", 17, "expected ',' or ')' in the IN list")]
    [InlineData("params.a NOT 'x'", 9, "expected a comparison operator")]
    [InlineData("metrics.acc LIKE '0.9%'", 12, "is numeric; it supports only")]
    [InlineData("metrics.acc ILIKE '0.9%'", 12, "is numeric; it supports only")]
    [InlineData("metrics.acc IN (1, 2)", 12, "is numeric; it supports only")]
    [InlineData("attributes.start_time LIKE '17%'", 22, "is numeric; it supports only")]
    [InlineData("params.a > 'x'", 9, "is a string; it supports only")]
    [InlineData("params.a = 'x' AND", 18, "expected a comparison")]
    [InlineData("AND params.a = 'x'", 0, "expected a comparison")]
    [InlineData("params.a = 'x' OR OR params.b = 'y'", 18, "expected a comparison")]
    [InlineData("()", 1, "expected a comparison")]
    [InlineData("params.a ! 'x'", 9, "'!' must be followed by '='")]
    [InlineData("params.a = 'x' & params.b = 'y'", 15, "unexpected character '&'")]
    [InlineData("`acc` > 1", 0, "needs an entity prefix")]
    [InlineData("metrics. > 1", 0, "the key after the entity type is empty")]
    [InlineData("metrics.acc > 1.2.3", 14, "'1.2.3' is not a number")]
    public void Invalid_filter_names_position_and_rule(string filter, int position, string rule)
    {
        var ex = Invalid(filter);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, ex.ErrorCode);
        Assert.Contains($"at position {position},", ex.Message);
        Assert.Contains(rule, ex.Message);
        Assert.Contains(filter, ex.Message);
    }

    // ---- injection attempts: either a harmless comparison holding the raw text, or refused ----

    [Fact]
    public void Sql_in_a_value_stays_in_the_value()
    {
        AssertComparison(SearchFilterParser.ParseRunFilter("params.x = 'a'' OR 1=1 --'"), EntityKind.Param, "x", Comparator.Equal, "a' OR 1=1 --");
    }

    [Fact]
    public void Sql_in_a_quoted_key_stays_in_the_key()
    {
        AssertComparison(SearchFilterParser.ParseRunFilter("params.\"x; DROP TABLE runs\" = 'a'"), EntityKind.Param, "x; DROP TABLE runs", Comparator.Equal, "a");
        AssertComparison(SearchFilterParser.ParseRunFilter("tags.`x'); DELETE FROM tags; --` = 'a'"), EntityKind.Tag, "x'); DELETE FROM tags; --", Comparator.Equal, "a");
    }

    [Theory]
    [InlineData("params.\"it's\" = 'a'", "it's")]
    [InlineData("params.`it's` = 'a'", "it's")]
    [InlineData("params.\"say \"\"hi\"\"\" = 'a'", "say \"hi\"")]
    public void A_key_containing_a_quote_stays_in_the_key(string filter, string key)
    {
        AssertComparison(SearchFilterParser.ParseRunFilter(filter), EntityKind.Param, key, Comparator.Equal, "a");
    }

    [Fact]
    public void Sql_in_an_in_list_stays_in_the_list()
    {
        AssertComparison(SearchFilterParser.ParseRunFilter("params.x IN ('a'') OR (''1''=''1', 'b')"), EntityKind.Param, "x", Comparator.In, new[] { "a') OR ('1'='1", "b" });
    }

    [Theory]
    [InlineData("params.x = 'a'; DROP TABLE runs; --", 14)]
    [InlineData("params.x = 'a' UNION SELECT * FROM runs", 15)]
    [InlineData("params.x = 'a' OR 1=1", 18)]
    [InlineData("params.x = 'a' -- comment", 15)]
    [InlineData("metrics.acc > 0 /* c */", 16)]
    [InlineData("params.x = 'a' OR params.y = 'b' OR '1' = '1'", 36)]
    public void Sql_outside_quotes_is_refused(string filter, int position)
    {
        var ex = Invalid(filter);
        Assert.Contains($"at position {position},", ex.Message);
    }

    // ---- order_by ------------------------------------------------------------------------

    [Fact]
    public void Run_order_by_parses_entities_keys_and_directions()
    {
        var keys = SearchFilterParser.ParseRunOrderBy(
            ["metrics.acc DESC", "params.model", "tags.`team name` asc", "attributes.start_time ASC", "run_name desc", "metrics.\"val-loss\" Desc", "attributes.created"]);
        Assert.Equal(
            [
                new OrderByKey(EntityKind.Metric, "acc", false),
                new OrderByKey(EntityKind.Param, "model", true),
                new OrderByKey(EntityKind.Tag, "team name", true),
                new OrderByKey(EntityKind.Attribute, "start_time", true),
                new OrderByKey(EntityKind.Attribute, "run_name", false),
                new OrderByKey(EntityKind.Metric, "val-loss", false),
                new OrderByKey(EntityKind.Attribute, "start_time", true),
            ],
            keys);
    }

    [Fact]
    public void Empty_order_by_is_no_keys()
    {
        Assert.Empty(SearchFilterParser.ParseRunOrderBy(null));
        Assert.Empty(SearchFilterParser.ParseRunOrderBy([]));
    }

    [Theory]
    [InlineData("", "it must name a column")]
    [InlineData("   ", "it must name a column")]
    [InlineData("metrics.acc DOWN", "expected ASC or DESC")]
    [InlineData("metrics.acc DESC extra", "expected ASC or DESC")]
    [InlineData("foo.bar", "invalid entity type 'foo'")]
    [InlineData("datasets.name", "invalid entity type 'datasets'")]
    [InlineData("attributes.bogus", "invalid attribute key 'bogus'")]
    [InlineData("'metrics.acc'", "expected a column to order by")]
    [InlineData("metrics.acc; DROP TABLE runs", "unexpected character ';'")]
    public void Invalid_run_order_by_is_refused(string clause, string rule)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => SearchFilterParser.ParseRunOrderBy([clause]));
        Assert.Contains(rule, ex.Message);
    }

    [Fact]
    public void Experiment_order_by_accepts_its_attributes()
    {
        var keys = SearchFilterParser.ParseExperimentOrderBy(["name", "experiment_id DESC", "creation_time asc", "attributes.last_update_time DESC"]);
        Assert.Equal(
            [
                new OrderByKey(EntityKind.Attribute, "name", true),
                new OrderByKey(EntityKind.Attribute, "experiment_id", false),
                new OrderByKey(EntityKind.Attribute, "creation_time", true),
                new OrderByKey(EntityKind.Attribute, "last_update_time", false),
            ],
            keys);
    }

    [Theory]
    [InlineData("metrics.acc", "invalid entity type 'metrics'")]
    [InlineData("params.model", "invalid entity type 'params'")]
    [InlineData("start_time", "invalid attribute key 'start_time'")]
    public void Experiment_order_by_refuses_run_columns(string clause, string rule)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => SearchFilterParser.ParseExperimentOrderBy([clause]));
        Assert.Contains(rule, ex.Message);
    }

    // ---- experiment filters --------------------------------------------------------------

    [Theory]
    [InlineData("name = 'exp'", EntityKind.Attribute, "name", Comparator.Equal)]
    [InlineData("attributes.name LIKE 'exp'", EntityKind.Attribute, "name", Comparator.Like)]
    [InlineData("name ILIKE 'exp'", EntityKind.Attribute, "name", Comparator.ILike)]
    [InlineData("name != 'exp'", EntityKind.Attribute, "name", Comparator.NotEqual)]
    [InlineData("tags.team = 'exp'", EntityKind.Tag, "team", Comparator.Equal)]
    [InlineData("tags.`team name` LIKE 'exp'", EntityKind.Tag, "team name", Comparator.Like)]
    public void Experiment_string_filters_parse(string filter, EntityKind entity, string key, Comparator op)
    {
        AssertComparison(SearchFilterParser.ParseExperimentFilter(filter), entity, key, op, "exp");
    }

    [Theory]
    [InlineData("creation_time > 1000", "creation_time")]
    [InlineData("attributes.last_update_time > 1000", "last_update_time")]
    public void Experiment_time_filters_are_numeric(string filter, string key)
    {
        AssertComparison(SearchFilterParser.ParseExperimentFilter(filter), EntityKind.Attribute, key, Comparator.Greater, 1000d);
    }

    [Fact]
    public void Experiment_filters_support_or_and_parentheses()
    {
        var expression = SearchFilterParser.ParseExperimentFilter("(name LIKE 'a%' OR tags.team = 'ml') AND creation_time >= 5");
        var and = Assert.IsType<AndExpression>(expression);
        Assert.IsType<OrExpression>(and.Left);
        AssertComparison(and.Right, EntityKind.Attribute, "creation_time", Comparator.GreaterOrEqual, 5d);
    }

    [Theory]
    [InlineData("metrics.acc > 1", 0, "invalid entity type 'metrics'; expected one of tags, attributes")]
    [InlineData("params.model = 'rf'", 0, "invalid entity type 'params'")]
    [InlineData("datasets.name = 'iris'", 0, "invalid entity type 'datasets'")]
    [InlineData("attributes.experiment_id = '1'", 0, "invalid attribute key 'experiment_id'")]
    [InlineData("status = 'FINISHED'", 0, "invalid attribute key 'status'")]
    [InlineData("creation_time = 'yesterday'", 16, "must be compared with a number")]
    [InlineData("name = 5", 7, "must be a quoted string")]
    [InlineData("name LIKE 'a%' AND", 18, "expected a comparison")]
    public void Invalid_experiment_filters_are_refused(string filter, int position, string rule)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => SearchFilterParser.ParseExperimentFilter(filter));
        Assert.Contains($"at position {position},", ex.Message);
        Assert.Contains(rule, ex.Message);
    }

    // ---- limits: a filter comes from a request, so nothing it holds may exhaust the stack or the database ----

    [Fact]
    public void Nesting_past_the_depth_limit_is_refused_without_recursing_into_it()
    {
        var at = string.Concat(Enumerable.Repeat("(", 32)) + "metrics.a > 1" + string.Concat(Enumerable.Repeat(")", 32));
        Assert.IsType<Comparison>(SearchFilterParser.ParseRunFilter(at));
        var message = Invalid("(" + at + ")").Message;
        Assert.Contains("parentheses nest more than 32 deep", message);
        // 20,000 levels overflowed the stack of the whole server before the limit.
        Assert.Contains("more than 32 deep", Invalid(new string('(', 20_000) + "metrics.a > 1" + new string(')', 20_000)).Message);
        Assert.Contains("more than 32 deep", Assert.Throws<InvalidParameterValueException>(() =>
            SearchFilterParser.ParseModelVersionFilter(new string('(', 20_000) + "name = 'm'" + new string(')', 20_000))).Message);
    }

    [Fact]
    public void More_terms_than_the_limit_are_refused()
    {
        var terms = Enumerable.Range(0, 200).Select(i => $"metrics.a > {i}").ToList();
        var parsed = SearchFilterParser.ParseRunFilter(string.Join(" AND ", terms));
        Assert.Equal(200, FilterExpression.Operands(parsed!).Count);
        Assert.Contains("at most 200 comparisons", Invalid(string.Join(" AND ", terms.Append("metrics.b > 0"))).Message);
        Assert.Contains("at most 200 comparisons", Assert.Throws<InvalidParameterValueException>(() =>
            SearchFilterParser.ParseRegisteredModelFilter(string.Join(" OR ", Enumerable.Range(0, 201).Select(i => $"name = 'm{i}'")))).Message);
    }

    [Fact]
    public void An_over_long_filter_is_refused_and_not_echoed_whole()
    {
        var filter = "params.a = '" + new string('x', SearchFilterParser.MaxFilterLength) + "'";
        var message = Invalid(filter).Message;
        Assert.Contains($"a filter has at most {SearchFilterParser.MaxFilterLength}", message);
        Assert.True(message.Length < 500, message.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Errors about a long but legal filter quote only its start too.
        var bad = "params.a = '" + new string('x', 50_000) + "' AND";
        Assert.True(Invalid(bad).Message.Length < 500);
    }

    [Fact]
    public void Over_long_keys_like_patterns_and_in_lists_are_refused_naming_the_limit()
    {
        Assert.Contains("a key has at most 250", Invalid($"params.{new string('k', 251)} = 'x'").Message);
        Assert.Contains("a pattern has at most 8000", Invalid($"params.a LIKE '{new string('%', 8001)}'").Message);
        Assert.Contains("a pattern has at most 8000", Invalid($"tags.a ILIKE '{new string('a', 8001)}'").Message);
        SearchFilterParser.ParseRunFilter($"params.a LIKE '{new string('%', 8000)}'");
        var list = string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"'{i}'"));
        Assert.Contains("an IN list has at most 10000 values", Invalid($"params.a IN ({list})").Message);
    }

    [Fact]
    public void Order_by_is_bounded_in_clauses_and_length()
    {
        Assert.Equal(10, SearchFilterParser.ParseRunOrderBy(Enumerable.Range(0, 10).Select(i => $"metrics.m{i} DESC").ToArray()).Count);
        Assert.Contains("at most 10 are allowed", Assert.Throws<InvalidParameterValueException>(() =>
            SearchFilterParser.ParseRunOrderBy(Enumerable.Range(0, 11).Select(i => $"metrics.m{i}").ToArray())).Message);
        var message = Assert.Throws<InvalidParameterValueException>(() =>
            SearchFilterParser.ParseRegisteredModelOrderBy(["name" + new string(' ', 50_000) + "ASC"])).Message;
        Assert.Contains("a clause has at most 1000", message);
        Assert.True(message.Length < 500);
    }
}

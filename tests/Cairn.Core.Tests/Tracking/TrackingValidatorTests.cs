using Cairn.Tracking;

namespace Cairn.Tests.Tracking;

public sealed class TrackingValidatorTests
{
    private static Metric M(string key) => new(key, 1.0, 1, 0);

    private static List<Metric> Metrics(int n) => Enumerable.Range(0, n).Select(i => new Metric("m" + i, i, 1, i)).ToList();

    private static List<Param> Params(int n) => Enumerable.Range(0, n).Select(i => new Param("p" + i, "v" + i)).ToList();

    private static List<RunTag> Tags(int n) => Enumerable.Range(0, n).Select(i => new RunTag("t" + i, "v" + i)).ToList();

    // ---- keys ----------------------------------------------------------------------------

    [Theory]
    [InlineData("acc")]
    [InlineData("val_loss")]
    [InlineData("val-loss")]
    [InlineData("train/loss")]
    [InlineData("a/b/c")]
    [InlineData("epoch 1")]
    [InlineData("ns:metric")]
    [InlineData("v1.2.3")]
    [InlineData("a..b")]
    [InlineData("A_Z-0.9 :/x")]
    public void Valid_keys_are_accepted(string key)
    {
        TrackingValidator.ValidateKey(key, "metric");
        TrackingValidator.ValidateMetric(M(key));
        TrackingValidator.ValidateParam(new Param(key, "v"));
        TrackingValidator.ValidateTag(new RunTag(key, "v"));
    }

    [Theory]
    [InlineData("a*b")]
    [InlineData("a\\b")]
    [InlineData("acc!")]
    [InlineData("x'y")]
    [InlineData("x\"y")]
    [InlineData("x;y")]
    [InlineData("tab\there")]
    [InlineData("new\nline")]
    [InlineData("a=b")]
    public void Keys_with_other_characters_are_refused(string key)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateKey(key, "metric"));
        Assert.Contains($"Invalid metric name: '{key}'", ex.Message);
        Assert.Contains("may only contain alphanumerics", ex.Message);
    }

    [Theory]
    [InlineData("a/../b", "b")]
    [InlineData("a//b", "a/b")]
    [InlineData("a/./b", "a/b")]
    [InlineData("/a", null)]
    [InlineData("a/", "a")]
    [InlineData("./a", "a")]
    [InlineData("../a", null)]
    [InlineData("a/..", null)]
    [InlineData("..", null)]
    [InlineData(".", null)]
    public void Path_like_keys_are_refused(string key, string? resolvesTo)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateKey(key, "param"));
        Assert.Contains($"Invalid param name: '{key}'", ex.Message);
        Assert.Contains("must not resolve to other names", ex.Message);
        if (resolvesTo is not null) Assert.Contains($"would resolve to '{resolvesTo}'", ex.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Missing_key_is_refused(string? key)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateKey(key, "tag"));
        Assert.Contains("'tag.key'", ex.Message);
    }

    [Fact]
    public void Key_length_limit_is_250()
    {
        TrackingValidator.ValidateKey(new string('k', TrackingLimits.MaxEntityKeyLength), "metric");
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateKey(new string('k', TrackingLimits.MaxEntityKeyLength + 1), "metric"));
        Assert.Contains("had length 251, which exceeded length limit of 250", ex.Message);
        Assert.StartsWith("Metric key", ex.Message);
    }

    // ---- values --------------------------------------------------------------------------

    [Fact]
    public void Param_value_length_limit_is_6000()
    {
        TrackingValidator.ValidateParam(new Param("p", new string('v', 6000)));
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateParam(new Param("p", new string('v', 6001))));
        Assert.Contains("had length 6001, which exceeded length limit of 6000", ex.Message);
    }

    [Fact]
    public void Tag_value_length_limit_is_8000()
    {
        TrackingValidator.ValidateTag(new RunTag("t", new string('v', 8000)));
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateTag(new RunTag("t", new string('v', 8001))));
        Assert.Contains("had length 8001, which exceeded length limit of 8000", ex.Message);
    }

    [Fact]
    public void Experiment_tag_value_length_limit_is_5000()
    {
        TrackingValidator.ValidateExperimentTag("t", new string('v', 5000));
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentTag("t", new string('v', 5001)));
        Assert.Contains("had length 5001, which exceeded length limit of 5000", ex.Message);
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentTag("a/../b", "v"));
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentTag("t", null));
    }

    [Fact]
    public void Null_param_and_tag_values_are_refused()
    {
        Assert.Contains("'params.value'", Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateParam(new Param("p", null!))).Message);
        Assert.Contains("'tags.value'", Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateTag(new RunTag("t", null!))).Message);
    }

    [Fact]
    public void Empty_param_and_tag_values_are_allowed()
    {
        TrackingValidator.ValidateParam(new Param("p", ""));
        TrackingValidator.ValidateTag(new RunTag("t", ""));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(double.MaxValue)]
    [InlineData(-0.0)]
    public void Any_double_is_a_valid_metric_value(double value)
    {
        TrackingValidator.ValidateMetric(new Metric("m", value, 0, 0));
    }

    // ---- batches -------------------------------------------------------------------------

    [Fact]
    public void Batch_at_every_limit_is_accepted()
    {
        TrackingValidator.ValidateBatch(Metrics(1000), [], []);
        TrackingValidator.ValidateBatch([], Params(100), Tags(100));
        TrackingValidator.ValidateBatch(Metrics(800), Params(100), Tags(100));
        TrackingValidator.ValidateBatch([], [], []);
    }

    [Fact]
    public void Batch_with_1001_metrics_is_refused()
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch(Metrics(1001), [], []));
        Assert.Contains("at most 1000 metrics. Got 1001 metrics", ex.Message);
    }

    [Fact]
    public void Batch_with_101_params_is_refused()
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch([], Params(101), []));
        Assert.Contains("at most 100 params. Got 101 params", ex.Message);
    }

    [Fact]
    public void Batch_with_101_tags_is_refused()
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch([], [], Tags(101)));
        Assert.Contains("at most 100 tags. Got 101 tags", ex.Message);
    }

    [Fact]
    public void Batch_with_more_than_1000_entities_in_total_is_refused()
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch(Metrics(900), Params(100), Tags(1)));
        Assert.Contains("at most 1000 metrics, params and tags in total. Got 1001", ex.Message);
    }

    [Fact]
    public void Batch_with_duplicate_param_keys_and_different_values_is_refused()
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() =>
            TrackingValidator.ValidateBatch([], [new Param("lr", "0.1"), new Param("other", "x"), new Param("lr", "0.2")], []));
        Assert.Contains("Duplicate parameter keys", ex.Message);
        Assert.Contains("'lr'", ex.Message);
        Assert.Contains("'0.1'", ex.Message);
        Assert.Contains("'0.2'", ex.Message);
    }

    [Fact]
    public void Batch_with_duplicate_param_keys_and_equal_values_is_accepted()
    {
        TrackingValidator.ValidateBatch([], [new Param("lr", "0.1"), new Param("lr", "0.1")], []);
    }

    [Fact]
    public void Batch_checks_every_key()
    {
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch([M("ok"), M("a//b")], [], []));
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch([], [new Param("ok", "v"), new Param("bad*", "v")], []));
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateBatch([], [], [new RunTag("ok", "v"), new RunTag("/abs", "v")]));
    }

    // ---- ids, names, max_results ---------------------------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(50001)]
    [InlineData(int.MaxValue)]
    public void Max_results_out_of_bounds_is_refused(int maxResults)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateMaxResults(maxResults));
        Assert.Contains($"Invalid value {maxResults} for parameter 'max_results'", ex.Message);
        Assert.Contains("at most 50000", ex.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(50000)]
    public void Max_results_within_bounds_is_accepted(int maxResults)
    {
        TrackingValidator.ValidateMaxResults(maxResults);
    }

    [Fact]
    public void Max_results_honours_a_custom_limit()
    {
        TrackingValidator.ValidateMaxResults(25000, TrackingLimits.GetMetricHistoryMaxResults);
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateMaxResults(25001, TrackingLimits.GetMetricHistoryMaxResults));
        Assert.Contains("at most 25000", ex.Message);
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("run-1_A")]
    public void Valid_run_ids_are_accepted(string runId) => TrackingValidator.ValidateRunId(runId);

    [Theory]
    [InlineData(null, "Missing value for required parameter 'run_id'")]
    [InlineData("", "Missing value for required parameter 'run_id'")]
    [InlineData("abc'; DROP TABLE runs; --", "for parameter 'run_id'")]
    [InlineData("a/b", "for parameter 'run_id'")]
    public void Invalid_run_ids_are_refused(string? runId, string message)
    {
        Assert.Contains(message, Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateRunId(runId)).Message);
    }

    [Fact]
    public void Run_id_longer_than_256_is_refused()
    {
        TrackingValidator.ValidateRunId(new string('a', 256));
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateRunId(new string('a', 257)));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1 OR 1=1")]
    [InlineData("1.5")]
    public void Non_numeric_experiment_id_does_not_exist(string experimentId)
    {
        var ex = Assert.Throws<ResourceDoesNotExistException>(() => TrackingValidator.ValidateExperimentId(experimentId));
        Assert.Contains($"No Experiment with id={experimentId} exists", ex.Message);
    }

    [Fact]
    public void Missing_experiment_id_is_invalid()
    {
        Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentId(""));
        TrackingValidator.ValidateExperimentId("0");
        TrackingValidator.ValidateExperimentId("12345");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Blank_experiment_name_is_refused(string? name)
    {
        Assert.Contains("non-empty", Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentName(name)).Message);
    }

    [Fact]
    public void Experiment_name_length_limit_is_500()
    {
        TrackingValidator.ValidateExperimentName(new string('n', 500));
        Assert.Contains("length 501", Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateExperimentName(new string('n', 501))).Message);
    }

    // ---- datasets ------------------------------------------------------------------------

    private static DatasetInput Input(string name = "iris", string digest = "abc123", string sourceType = "local", string source = "/data/iris.csv", InputTag[]? tags = null) =>
        new(new Dataset(name, digest, sourceType, source), tags ?? []);

    [Fact]
    public void Valid_dataset_input_is_accepted()
    {
        TrackingValidator.ValidateDatasetInput(Input(tags: [new InputTag("mlflow.data.context", "training")]));
        TrackingValidator.ValidateDatasetInput(Input(digest: new string('d', 36)));
    }

    [Theory]
    [InlineData("", "abc", "local", "/x", "'dataset.name'")]
    [InlineData("iris", "", "local", "/x", "'dataset.digest'")]
    [InlineData("iris", "abc", "", "/x", "'dataset.source_type'")]
    [InlineData("iris", "abc", "local", "", "'dataset.source'")]
    public void Dataset_input_missing_a_field_is_refused(string name, string digest, string sourceType, string source, string field)
    {
        var ex = Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateDatasetInput(Input(name, digest, sourceType, source)));
        Assert.Contains(field, ex.Message);
    }

    [Fact]
    public void Dataset_input_over_a_length_limit_is_refused()
    {
        Assert.Contains("'dataset.digest' exceeds the maximum length of 36",
            Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateDatasetInput(Input(digest: new string('d', 37)))).Message);
        Assert.Contains("'dataset.name' exceeds the maximum length of 500",
            Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateDatasetInput(Input(name: new string('n', 501)))).Message);
        Assert.Contains("'input_tag.value'",
            Assert.Throws<InvalidParameterValueException>(() => TrackingValidator.ValidateDatasetInput(Input(tags: [new InputTag("k", new string('v', 501))]))).Message);
    }
}

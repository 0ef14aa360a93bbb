using System.Collections.Concurrent;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Server.Scoring;

namespace Cairn.Tests.Scoring;

/// <summary>
/// Micro-batching of concurrent small requests (<see cref="MicroBatcher"/>, <c>--micro-batch-max</c>): each request gets its
/// own rows' answers, a failed batch fails exactly its requests and the next batch works, the queue is bounded,
/// cancellation is honoured. The model is a real FastTree classifier; where a test needs the model to block or throw, a
/// wrapper around it does.
/// </summary>
public sealed class MicroBatchingTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Lazy<ServedModel> _model;

    public MicroBatchingTests() =>
        _model = new(() => ServedModel.Load(ScoringModelsForTests.TrainClassifier(_dir.Combine("clf")), "churn", "1", "models:/churn/1"));

    public void Dispose()
    {
        if (_model.IsValueCreated) _model.Value.Dispose();
        _dir.Dispose();
    }

    private static ColumnBatch Row(float a, float b, float c) => new ColumnBatch().Add("a", new[] { a }).Add("b", new[] { b }).Add("c", new[] { c });

    private static float[] Probabilities(ColumnBatch output) => (float[])output["Probability"];

    [Fact]
    public async Task Concurrent_requests_are_scored_together_and_each_gets_its_own_rows_answers()
    {
        var model = _model.Value;
        var sizes = new ConcurrentQueue<int>();
        // A long wait that a full batch cuts short: the 32 requests below form batches of 8.
        var batcher = new MicroBatcher(input => { sizes.Enqueue(input.RowCount); return model.Predict(input); }, maxRows: 8, TimeSpan.FromSeconds(5), queueLimit: 100);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 32).Select(_ => Row((float)random.NextDouble(), (float)random.NextDouble(), (float)(random.NextDouble() * 2))).ToList();

        var answers = await Task.WhenAll(rows.Select(row => batcher.ScoreAsync(row, TestContext.Current.CancellationToken)));

        for (var i = 0; i < rows.Count; i++)
        {
            var alone = model.Predict(rows[i]);
            Assert.Equal(1, answers[i].RowCount);
            Assert.Equal(Probabilities(alone), Probabilities(answers[i]));
            Assert.Equal((bool[])alone["PredictedLabel"], (bool[])answers[i]["PredictedLabel"]);
        }
        Assert.Equal(32, sizes.Sum());
        Assert.All(sizes, size => Assert.Equal(8, size));
        // The probabilities differ from row to row, so a mix-up of rows would show.
        Assert.True(answers.Select(a => Probabilities(a)[0]).Distinct().Count() > 10);
    }

    [Fact]
    public async Task A_throwing_model_fails_every_request_of_its_batch_and_the_next_batch_is_scored()
    {
        var model = _model.Value;
        var calls = 0;
        var batcher = new MicroBatcher(input =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("the model broke");
            return model.Predict(input);
        }, maxRows: 4, TimeSpan.FromSeconds(5), queueLimit: 100);

        var first = Enumerable.Range(0, 4).Select(i => batcher.ScoreAsync(Row(i * 0.2f, 0.5f, 1), TestContext.Current.CancellationToken)).ToList();
        foreach (var task in first)
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => task);
            Assert.Equal("the model broke", error.Message);
        }

        var second = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => batcher.ScoreAsync(Row(i * 0.2f, 0.5f, 1), TestContext.Current.CancellationToken)));
        Assert.Equal(2, calls);
        for (var i = 0; i < 4; i++) Assert.Equal(Probabilities(model.Predict(Row(i * 0.2f, 0.5f, 1))), Probabilities(second[i]));
        Assert.Equal(0, batcher.Queued);
    }

    [Fact]
    public async Task A_full_queue_refuses_with_temporarily_unavailable_and_the_queued_requests_are_still_answered()
    {
        var model = _model.Value;
        using var scoring = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        var batcher = new MicroBatcher(input =>
        {
            scoring.Release();
            release.Wait(TestContext.Current.CancellationToken);
            return model.Predict(input);
        }, maxRows: 1, TimeSpan.Zero, queueLimit: 2);

        var running = batcher.ScoreAsync(Row(0.9f, 0.8f, 0.1f), TestContext.Current.CancellationToken);
        await scoring.WaitAsync(TestContext.Current.CancellationToken);
        var queued = new[] { batcher.ScoreAsync(Row(0.1f, 0.2f, 1.9f), TestContext.Current.CancellationToken), batcher.ScoreAsync(Row(0.5f, 0.4f, 0.7f), TestContext.Current.CancellationToken) };

        var refused = await Assert.ThrowsAsync<CairnException>(() => batcher.ScoreAsync(Row(0.3f, 0.3f, 0.3f), TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, refused.ErrorCode);
        Assert.Contains("--micro-batch-queue", refused.Message);
        Assert.Equal(2, batcher.Queued);

        release.Set();
        Assert.True((bool)(await running)["PredictedLabel"].GetValue(0)!);
        var answers = await Task.WhenAll(queued);
        Assert.False((bool)answers[0]["PredictedLabel"].GetValue(0)!);
        Assert.Equal(Probabilities(model.Predict(Row(0.5f, 0.4f, 0.7f))), Probabilities(answers[1]));
    }

    [Fact]
    public async Task A_request_cancelled_while_it_waits_ends_at_once_and_is_never_scored()
    {
        var model = _model.Value;
        using var scoring = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        var scored = new ConcurrentQueue<float>();
        var batcher = new MicroBatcher(input =>
        {
            scored.Enqueue(((float[])input["a"])[0]);
            scoring.Release();
            release.Wait(TestContext.Current.CancellationToken);
            return model.Predict(input);
        }, maxRows: 1, TimeSpan.Zero, queueLimit: 10);

        var running = batcher.ScoreAsync(Row(0.9f, 0.8f, 0.1f), TestContext.Current.CancellationToken);
        await scoring.WaitAsync(TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource();
        var cancelled = batcher.ScoreAsync(Row(0.25f, 0.2f, 1.9f), cancel.Token);
        var kept = batcher.ScoreAsync(Row(0.5f, 0.4f, 0.7f), TestContext.Current.CancellationToken);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(running.IsCompleted);

        release.Set();
        await running;
        await kept;
        Assert.Equal([0.9f, 0.5f], scored);
        Assert.Equal(0, batcher.Queued);
    }

    [Fact]
    public async Task The_server_with_micro_batching_answers_concurrent_requests_each_with_its_own_rows()
    {
        var model = _model.Value;
        await using var host = await ScoringHost.StartAsync(model, new Dictionary<string, string?>
        {
            ["Cairn:Scoring:MicroBatchMaxRows"] = "16",
            ["Cairn:Scoring:MicroBatchWaitMicroseconds"] = "2000",
        });
        var random = new Random(9);
        var rows = Enumerable.Range(0, 48).Select(_ => new[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)(random.NextDouble() * 2) }).ToList();

        var answers = await Task.WhenAll(rows.Select(row => host.OkAsync("/invocations",
            JsonSerializer.Serialize(new { dataframe_split = new { columns = new[] { "a", "b", "c" }, data = new[] { row } } }))));

        for (var i = 0; i < rows.Count; i++)
        {
            var expected = Probabilities(model.Predict(Row(rows[i][0], rows[i][1], rows[i][2])))[0];
            var prediction = Assert.Single(answers[i].GetProperty("predictions").EnumerateArray());
            Assert.Equal(expected, prediction.GetProperty("Probability").GetSingle());
        }
        // A request of a batch's size or more is scored on its own, with the same answers.
        var big = rows.Take(20).ToArray();
        var whole = await host.OkAsync("/invocations", JsonSerializer.Serialize(new { dataframe_split = new { columns = new[] { "a", "b", "c" }, data = big } }));
        Assert.Equal(answers.Take(20).Select(a => a.GetProperty("predictions")[0].GetProperty("Probability").GetSingle()),
            whole.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("Probability").GetSingle()));
    }

    [Theory]
    [InlineData("Cairn:Scoring:MicroBatchMaxRows", "-1", "--micro-batch-max")]
    [InlineData("Cairn:Scoring:MicroBatchMaxRows", "70000", "--micro-batch-max")]
    [InlineData("Cairn:Scoring:MicroBatchWaitMicroseconds", "-5", "--micro-batch-wait-us")]
    [InlineData("Cairn:Scoring:MicroBatchQueueLimit", "0", "--micro-batch-queue")]
    public async Task Out_of_range_micro_batching_settings_are_refused_naming_the_flag(string key, string value, string flag)
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            ScoringHost.StartAsync(null, new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(key, error.Message);
        Assert.Contains(flag, error.Message);
    }
}

using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Tests.Storage;

public sealed class SmokeTests
{
    [Fact]
    public async Task Sqlite_store_round_trips_a_run()
    {
        using var dir = new TempDirectory();
        using var stores = await CairnStores.OpenAsync(dir.Path, new CairnStoreOptions { DefaultArtifactRoot = dir.Combine("artifacts") }, TestContext.Current.CancellationToken);
        var store = stores.Tracking;
        var expId = await store.CreateExperimentAsync("exp", cancellationToken: TestContext.Current.CancellationToken);
        var run = await store.CreateRunAsync(new CreateRunRequest(expId, "r1"), TestContext.Current.CancellationToken);
        await store.LogBatchAsync(run.Info.RunId,
            [new Metric("acc", 0.5, 1, 0), new Metric("acc", 0.9, 2, 1), new Metric("loss", double.NaN, 1, 0)],
            [new Param("model", "rf")], [new RunTag("team", "ml")], TestContext.Current.CancellationToken);
        var got = await store.GetRunAsync(run.Info.RunId, TestContext.Current.CancellationToken);
        Assert.Equal(0.9, got.Data.Metrics.Single(m => m.Key == "acc").Value);
        Assert.True(double.IsNaN(got.Data.Metrics.Single(m => m.Key == "loss").Value));
        var page = await store.SearchRunsAsync(new RunSearch([expId], "metrics.acc > 0.8 and params.model = 'rf' and tags.team LIKE 'm%'", OrderBy: ["metrics.acc DESC"]), TestContext.Current.CancellationToken);
        Assert.Single(page.Items);
        var ex = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.LogParamAsync(run.Info.RunId, "model", "gbt", TestContext.Current.CancellationToken));
        Assert.Contains("Changing param values is not allowed", ex.Message);
    }
}

public sealed class MetricPrecisionTests
{
    [Fact]
    public async Task Metric_values_round_trip_bit_for_bit_through_the_sqlite_batch_path()
    {
        using var dir = new TempDirectory();
        var ct = TestContext.Current.CancellationToken;
        using var stores = await CairnStores.OpenAsync(dir.Path, new CairnStoreOptions { DefaultArtifactRoot = dir.Combine("artifacts") }, ct);
        var store = stores.Tracking;
        var run = await store.CreateRunAsync(new CreateRunRequest("0"), ct);
        var random = new Random(7);
        var values = Enumerable.Range(0, 1000).Select(i => i switch
        {
            0 => double.Epsilon,
            1 => double.MaxValue,
            2 => -double.MaxValue,
            3 => 0.1,
            4 => 1e-300,
            5 => -0.0 + 123456789.123456789,
            _ => BitConverter.Int64BitsToDouble(random.NextInt64(0x0010000000000000, 0x7FEFFFFFFFFFFFFF)) * (random.Next(2) == 0 ? 1 : -1),
        }).ToArray();
        await store.LogBatchAsync(run.Info.RunId, values.Select((v, i) => new Metric("v", v, 1, i)).ToList(), cancellationToken: ct);

        var history = await store.GetMetricHistoryAsync(run.Info.RunId, "v", cancellationToken: ct);

        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), history.Items.Select(m => BitConverter.DoubleToInt64Bits(m.Value)));
    }
}

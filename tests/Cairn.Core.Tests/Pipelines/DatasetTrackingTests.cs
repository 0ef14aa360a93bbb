using Cairn.Client;
using Cairn.Data;
using Cairn.Pipelines;
using Cairn.Tracking;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class DatasetTrackingTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private async Task<DatasetRecord> AddAsync(string csv)
    {
        _dir.Write("data/raw.csv", csv);
        var repo = DataRepository.Open(_dir.Path);
        var result = await repo.AddAsync(_dir["data/raw.csv"], new DataAddOptions { DatasetName = "raw" }, Ct);
        return result.Dataset!; // asked for with a name, so always made
    }

    private async Task<IReadOnlyList<Run>> DatasetRunsAsync(CairnClient client)
    {
        var exp = await client.Store.FindExperimentByNameAsync(DatasetTracking.Experiment, Ct);
        return exp is null ? [] : (await client.Store.SearchRunsAsync(new RunSearch([exp.ExperimentId]), Ct)).Items;
    }

    [Fact]
    public async Task Registering_a_name_again_reuses_its_run_and_logs_only_a_new_digest()
    {
        using var client = await CairnClient.OpenAsync(_dir[".cairn"], cancellationToken: Ct);
        var v1 = await AddAsync("a,b\n1,2\n");
        string first = await DatasetTracking.RegisterAsync(client, v1, Ct);

        // Same data again: the same run, nothing new logged.
        Assert.Equal(first, await DatasetTracking.RegisterAsync(client, await AddAsync("a,b\n1,2\n"), Ct));
        var run = Assert.Single(await DatasetRunsAsync(client));
        Assert.Equal(first, run.Info.RunId);
        Assert.Equal([v1.Digest[..32]], run.Inputs.Select(i => i.Dataset.Digest));

        // New data under the same name: the same run, the new version as one more input.
        var v2 = await AddAsync("a,b\n1,2\n3,4\n");
        Assert.Equal(first, await DatasetTracking.RegisterAsync(client, v2, Ct));
        run = Assert.Single(await DatasetRunsAsync(client));
        Assert.NotEqual(v1.Digest, v2.Digest);
        Assert.Equal(new[] { v1.Digest[..32], v2.Digest[..32] }.Order(StringComparer.Ordinal), run.Inputs.Select(i => i.Dataset.Digest).Order(StringComparer.Ordinal));
        Assert.Equal(RunStatus.FINISHED, run.Info.Status);
    }

    [Fact]
    public async Task Another_name_gets_its_own_run()
    {
        using var client = await CairnClient.OpenAsync(_dir[".cairn"], cancellationToken: Ct);
        var raw = await AddAsync("a\n1\n");
        string first = await DatasetTracking.RegisterAsync(client, raw, Ct);
        string other = await DatasetTracking.RegisterAsync(client, raw with { Name = "raw-copy" }, Ct);
        Assert.NotEqual(first, other);
        Assert.Equal(["dataset:raw", "dataset:raw-copy"], (await DatasetRunsAsync(client)).Select(r => r.Info.RunName).Order(StringComparer.Ordinal));
    }
}

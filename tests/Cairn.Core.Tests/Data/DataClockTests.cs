using Cairn.Data;
using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Data;

/// <summary>What the repository's clock (DataRepositoryOptions.TimeProvider) decides, moved by the test instead of slept through.</summary>
public sealed class DataClockTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private DataRepository Open() => DataRepository.Open(_dir.Path, new DataRepositoryOptions { TimeProvider = _clock });

    [Fact]
    public void The_stat_cache_vouches_for_a_file_only_once_the_clock_is_a_second_past_its_mtime()
    {
        string full = _dir.Write("a.txt", "a");
        Assert.True(NativeFile.TryGetStat(full, out var stat));
        var digest = new string('a', 64);
        var cache = Open().Stats;

        cache.Set("a.txt", stat, digest);
        Assert.False(cache.TryGetHex("a.txt", stat, out _)); // just written: its mtime could still move within the second

        _clock.Advance(TimeSpan.FromSeconds(2));
        cache.Set("a.txt", stat, digest);
        Assert.True(cache.TryGetHex("a.txt", stat, out var hex));
        Assert.Equal(digest, hex);
    }

    [Fact]
    public void Gc_removes_interrupted_writes_only_when_a_day_old_by_the_clock()
    {
        var repo = Open();
        string part = repo.Cache.NewTempPath();
        File.WriteAllText(part, "half an object");

        repo.CollectGarbage([], dryRun: false);
        Assert.True(File.Exists(part));

        _clock.Advance(TimeSpan.FromHours(25));
        repo.CollectGarbage([], dryRun: false);
        Assert.False(File.Exists(part));
    }

    [Fact]
    public async Task Run_and_experiment_ids_and_times_come_from_the_clock()
    {
        var fixedTime = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var clock = new ManualTimeProvider(fixedTime);
        _dir.Write("params.yaml", "lr: 1\n");
        _dir.Write("cairn.yaml", "stages:\n  s:\n    cmd: echo hi > out.txt\n    params: [lr]\n    outs: [out.txt]\n");
        var repo = DataRepository.Open(_dir.Path, new DataRepositoryOptions { TimeProvider = clock });

        var result = await new PipelineRunner(repo, Pipeline.Load(repo.Root)).ReproAsync(new ReproOptions(), Ct);
        Assert.StartsWith("20310506-070809-", result.RunId);

        var exp = new ExperimentManager(repo).Queue(new Dictionary<string, string>(), "e1");
        Assert.StartsWith("exp-20310506-070809-", exp.Id);
        Assert.Equal(fixedTime, exp.QueuedUtc);
    }
}

using Cairn.Data;
using Cairn.Pipelines;
using Cairn.Tests.Data;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class UpToDateStampTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_memo_holds_until_any_input_or_output_changes()
    {
        _dir.Write("params.yaml", "lr: 1\n");
        _dir.Write("in/a.txt", "a");
        _dir.Write("cairn.yaml", "stages:\n  s:\n    cmd: cat in/a.txt > out.txt\n    deps: [in]\n    params: [lr]\n    outs: [out.txt]\n");
        var clock = new ManualTimeProvider();
        var repo = DataRepository.Open(_dir.Path, new DataRepositoryOptions { TimeProvider = clock });
        var runner = new PipelineRunner(repo, Pipeline.Load(repo.Root));
        await runner.ReproAsync(new ReproOptions(), Ct);
        Assert.False(UpToDateStamp.IsValid(repo)); // the repro's own outputs were racy: no memo yet
        // Files written within the last second are "racy" and never vouched for; later, they are.
        await runner.StatusAsync(cancellationToken: Ct);
        Assert.False(UpToDateStamp.IsValid(repo));
        clock.Advance(TimeSpan.FromMinutes(5));
        await runner.StatusAsync(cancellationToken: Ct);
        Assert.True(UpToDateStamp.IsValid(repo));

        _dir.Write("in/b.txt", "new file in a dep folder");
        Assert.False(UpToDateStamp.IsValid(repo));
        File.Delete(_dir["in/b.txt"]);
        Assert.True(UpToDateStamp.IsValid(repo));

        _dir.Write("params.yaml", "lr: 2\n");
        Assert.False(UpToDateStamp.IsValid(repo));
    }
}

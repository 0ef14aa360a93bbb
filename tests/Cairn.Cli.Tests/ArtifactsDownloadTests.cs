using Cairn.Client;

namespace Cairn.Tests;

/// <summary><c>cairn artifacts download</c>: the files land under --dest and a terminal sees them counted as they come.</summary>
public sealed class ArtifactsDownloadTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _source = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _cli.Dispose();
        _source.Dispose();
    }

    private async Task<string> RunWithArtifactsAsync(int files)
    {
        for (var i = 0; i < files; i++) File.WriteAllText(_source.Combine($"file{i}.txt"), $"content {i}");
        using var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct);
        await using var run = await client.StartRunAsync("artifacts", cancellationToken: Ct);
        await client.LogArtifactAsync(run.RunId, _source.Path, "out", Ct);
        return run.RunId;
    }

    [Fact]
    public async Task In_a_terminal_the_download_counts_the_files_it_writes()
    {
        var runId = await RunWithArtifactsAsync(3);

        var result = (await _cli.RunAsync(ansi: true, "artifacts", "download", runId, "--dest", _cli.Home.Combine("dest"))).Ok();

        Assert.Contains("downloading artifacts: 3 file(s)", result.Out);
        for (var i = 0; i < 3; i++)
            Assert.Equal($"content {i}", File.ReadAllText(_cli.Home.Combine("dest", "out", $"file{i}.txt")));
    }

    [Fact]
    public async Task Piped_output_lists_the_files_without_a_bar()
    {
        var runId = await RunWithArtifactsAsync(2);

        var result = (await _cli.RunAsync("artifacts", "download", runId, "--dest", _cli.Home.Combine("dest"))).Ok();

        Assert.DoesNotContain("downloading artifacts", result.Out);
        Assert.Equal(2, result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("Downloaded 2 file(s)", result.Err);
    }
}

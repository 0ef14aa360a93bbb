using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class GitInfoTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_folder_outside_any_work_tree_has_no_commit()
    {
        var folder = _dir.Combine("plain", "nested");
        Directory.CreateDirectory(folder);

        Assert.Null(GitInfo.CommitOf(folder));
    }

    [Fact]
    public void A_folder_deep_in_a_work_tree_has_its_head_commit()
    {
        var repo = _dir.Combine("repo");
        var nested = Path.Combine(repo, "a", "b");
        Directory.CreateDirectory(nested);
        File.WriteAllText(Path.Combine(nested, "file.txt"), "x");
        GitInfo.Run(repo, "init", "-q");
        GitInfo.Run(repo, "add", ".");
        var (code, _, error) = GitInfo.Run(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "first");
        Assert.True(code == 0, error);
        var head = GitInfo.Run(repo, "rev-parse", "HEAD").Stdout.Trim();

        Assert.Equal(head, GitInfo.CommitOf(nested));
        Assert.Matches("^[0-9a-f]{40}$", head);
    }
}

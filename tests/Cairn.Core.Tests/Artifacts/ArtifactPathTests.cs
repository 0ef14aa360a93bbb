using Cairn.Artifacts;

namespace Cairn.Tests.Artifacts;

public sealed class ArtifactPathTests
{
    [Theory]
    [InlineData("..", "'..' segments")]
    [InlineData("../a.txt", "'..' segments")]
    [InlineData("a/../../b.txt", "'..' segments")]
    [InlineData("a/..", "'..' segments")]
    [InlineData("/etc/passwd", "relative, not absolute")]
    [InlineData("/", "relative, not absolute")]
    [InlineData("C:/Windows/win.ini", "drive letter")]
    [InlineData("c:x", "drive letter")]
    [InlineData("a\\b", "backslashes")]
    [InlineData("..\\a", "backslashes")]
    [InlineData("a\0b", "NUL")]
    [InlineData("a\u0001b", "control characters")]
    [InlineData("%2e%2e/a", "'..' segments")]
    [InlineData("a/%2E%2E/%2e%2e/b", "'..' segments")]
    [InlineData("%2e%2e%2fa", "percent-encoded '/'")]
    [InlineData("a%2Fb", "percent-encoded '/'")]
    [InlineData("a%5cb", "percent-encoded '/' or '\\'")]
    [InlineData("%252e%252e/a", "'..' segments")]
    [InlineData("%2fetc%2fpasswd", "percent-encoded '/'")]
    [InlineData("a%00b", "NUL")]
    public void Normalize_refuses_unsafe_paths_naming_path_and_rule(string path, string rule)
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.Normalize(path));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, e.ErrorCode);
        Assert.Contains("parameter 'path'", e.Message);
        Assert.Contains(rule, e.Message);
        var shown = path.Replace("\0", "\\u0000").Replace("\u0001", "\\u0001");
        Assert.Contains($"'{shown}'", e.Message);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData(".", "")]
    [InlineData("a", "a")]
    [InlineData("a/b/c.txt", "a/b/c.txt")]
    [InlineData("a//b/", "a/b")]
    [InlineData("./a/./b", "a/b")]
    [InlineData("a..b/c", "a..b/c")]
    [InlineData("...", "...")]
    [InlineData("100%.txt", "100%.txt")]
    [InlineData("model v2/weights.onnx", "model v2/weights.onnx")]
    [InlineData("a%2eb", "a%2eb")] // decodes to a harmless "a.b": kept as the literal name
    public void Normalize_accepts_and_normalizes_safe_paths(string? path, string expected) =>
        Assert.Equal(expected, ArtifactPath.Normalize(path));

    [Theory]
    [InlineData("a%20b.txt", "a b.txt")]
    [InlineData("dir/file.bin", "dir/file.bin")]
    [InlineData("100%25.txt", "100%.txt")]
    public void FromUrl_decodes_once(string raw, string expected) => Assert.Equal(expected, ArtifactPath.FromUrl(raw));

    [Theory]
    [InlineData("a%2Fb")]
    [InlineData("%2e%2e%2Fx")]
    [InlineData("%2e%2e/x")]
    [InlineData("..%5Cx")]
    [InlineData("%2Fetc%2Fpasswd")]
    [InlineData("a/../../x")]
    [InlineData("%252e%252e/x")]
    public void FromUrl_refuses_encoded_separators_and_traversal(string raw) =>
        Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.FromUrl(raw));

    [Fact]
    public void ResolveWithin_refuses_a_symlink_leading_out_and_accepts_one_staying_in()
    {
        using var temp = new TempDirectory();
        var root = Directory.CreateDirectory(temp.Combine("root")).FullName;
        var outside = Directory.CreateDirectory(temp.Combine("outside")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "real"));
        Directory.CreateSymbolicLink(Path.Combine(root, "out"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root, "in"), Path.Combine(root, "real"));
        // Relative link text that climbs out: root/sneaky -> ../outside
        Directory.CreateSymbolicLink(Path.Combine(root, "sneaky"), Path.Combine("..", "outside"));
        var realRoot = ArtifactPath.RealPath(root);

        Assert.Equal(Path.Combine(realRoot, "real", "x.txt"), ArtifactPath.ResolveWithin(realRoot, "in/x.txt"));
        var e = Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.ResolveWithin(realRoot, "out/x.txt"));
        Assert.Contains("outside the artifact root", e.Message);
        Assert.Contains("'out/x.txt'", e.Message);
        Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.ResolveWithin(realRoot, "sneaky"));
        Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.ResolveWithin(realRoot, "in/../out/x"));
    }

    [Fact]
    public void RealPath_follows_links_with_posix_dotdot_semantics()
    {
        using var temp = new TempDirectory();
        var deep = Directory.CreateDirectory(temp.Combine("a", "b", "c")).FullName;
        var link = Path.Combine(temp.Path, "l");
        Directory.CreateSymbolicLink(link, deep);
        var realTemp = ArtifactPath.RealPath(temp.Path);
        // l/.. is the parent of the link's target (a/b), not temp itself.
        Assert.Equal(Path.Combine(realTemp, "a", "b"), ArtifactPath.RealPath(Path.Combine(link, "..")));
        Assert.Equal(Path.Combine(realTemp, "a", "b", "c", "missing", "x"), ArtifactPath.RealPath(Path.Combine(link, "missing", "x")));
    }

    [Fact]
    public void A_symlink_loop_is_refused_not_followed_forever()
    {
        using var temp = new TempDirectory();
        var root = Directory.CreateDirectory(temp.Combine("root")).FullName;
        File.CreateSymbolicLink(Path.Combine(root, "a"), Path.Combine(root, "b"));
        File.CreateSymbolicLink(Path.Combine(root, "b"), Path.Combine(root, "a"));
        var e = Assert.Throws<InvalidParameterValueException>(() => ArtifactPath.ResolveWithin(ArtifactPath.RealPath(root), "a/x"));
        Assert.Contains("symbolic links", e.Message);
    }
}

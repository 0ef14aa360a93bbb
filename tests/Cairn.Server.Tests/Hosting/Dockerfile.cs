using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cairn.Tests.Hosting;

/// <summary>The repository's Dockerfile as stages of instructions, with ARG defaults substituted into FROM lines.</summary>
internal sealed partial class Dockerfile
{
    public required IReadOnlyList<Stage> Stages { get; init; }

    /// <summary>The folder holding Cairn.slnx, found upwards from the test's output folder.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Cairn.slnx"))) return dir.FullName;
            throw new DirectoryNotFoundException("No Cairn.slnx above " + AppContext.BaseDirectory);
        }
    }

    public static Dockerfile Read()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot, "Dockerfile"));
        // Instructions continue over lines ending in a backslash; comments are whole lines.
        var lines = Continuation().Replace(text, " ").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));
        var args = new Dictionary<string, string>();
        var stages = new List<Stage>();
        foreach (var line in lines)
        {
            var space = line.IndexOf(' ');
            var (keyword, rest) = (line[..space].ToUpperInvariant(), line[(space + 1)..].Trim());
            if (keyword == "ARG" && stages.Count == 0 && rest.Split('=', 2) is [var name, var value])
                args[name] = value;
            else if (keyword == "FROM")
            {
                var from = Regex.Match(rest, @"^(\S+)(?:\s+AS\s+(\S+))?$", RegexOptions.IgnoreCase);
                var image = ArgReference().Replace(from.Groups[1].Value, m => args[m.Groups[1].Value]);
                stages.Add(new Stage(image, from.Groups[2].Value));
            }
            else
            {
                Assert.NotEmpty(stages);
                stages[^1].Instructions.Add((keyword, rest));
            }
        }
        return new Dockerfile { Stages = stages };
    }

    [GeneratedRegex(@"\\\r?\n")]
    private static partial Regex Continuation();

    [GeneratedRegex(@"\$\{(\w+)\}")]
    private static partial Regex ArgReference();

    public sealed class Stage(string image, string name)
    {
        public string Image { get; } = image;

        public string Name { get; } = name;

        public List<(string Keyword, string Arguments)> Instructions { get; } = [];

        public IEnumerable<string> All(string keyword) => Instructions.Where(i => i.Keyword == keyword).Select(i => i.Arguments);

        /// <summary>ENV KEY=VALUE pairs (several per instruction allowed; an empty value clears the variable).</summary>
        public Dictionary<string, string> Env => All("ENV")
            .SelectMany(e => e.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1]);

        /// <summary>The exec-form ENTRYPOINT.</summary>
        public string[] Entrypoint => JsonSerializer.Deserialize<string[]>(All("ENTRYPOINT").Single())!;
    }
}

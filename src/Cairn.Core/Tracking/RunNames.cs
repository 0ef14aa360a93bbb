namespace Cairn.Tracking;

/// <summary>Readable default run names ("brave-otter-417"), as MLflow gives runs created without one.</summary>
public static class RunNames
{
    private static readonly string[] Adjectives =
    [
        "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair", "fleet", "gentle",
        "glad", "grand", "honest", "keen", "kind", "lively", "lucid", "merry", "nimble", "noble", "polite", "proud",
        "quick", "quiet", "rare", "rustic", "sharp", "shy", "silent", "sleek", "smart", "steady", "sunny", "swift",
        "tidy", "vivid", "warm", "wise", "witty", "zesty",
    ];

    private static readonly string[] Nouns =
    [
        "badger", "bear", "bison", "crane", "deer", "dove", "eagle", "falcon", "finch", "fox", "gull", "hare", "hawk",
        "heron", "ibex", "jay", "kestrel", "lark", "lynx", "marten", "mole", "moose", "newt", "orca", "otter", "owl",
        "panda", "puffin", "quail", "raven", "robin", "seal", "shrew", "sparrow", "stoat", "swan", "tern", "toad",
        "trout", "viper", "wolf", "wren", "yak",
    ];

    public static string Next() =>
        $"{Adjectives[Random.Shared.Next(Adjectives.Length)]}-{Nouns[Random.Shared.Next(Nouns.Length)]}-{Random.Shared.Next(1000)}";
}

using Cairn.Data;

namespace Cairn.Cli.Commands;

/// <summary>What the data and pipeline commands share: the repository around the context's folder, paths, sizes.</summary>
internal static class DataCli
{
    /// <summary>Opens the data repository around the context's folder; CAIRN_HOME moves the cache.</summary>
    public static DataRepository OpenRepository(CliContext ctx, string? linkTypes = null, int jobs = 0)
    {
        string? home = ctx.GetEnvironmentVariable("CAIRN_HOME");
        return DataRepository.Open(ctx.WorkingDirectory, new DataRepositoryOptions
        {
            CacheDir = string.IsNullOrEmpty(home) ? null : Path.Combine(Path.GetFullPath(home, ctx.WorkingDirectory), "cache"),
            LinkTypes = linkTypes is null ? null : DataConfig.ParseLinkTypes(linkTypes, "--link-type"),
            Jobs = jobs,
        });
    }

    /// <summary>Paths given on the command line, made absolute against the context's folder.</summary>
    public static string[]? Targets(CliContext ctx, string[]? args)
        => args is null || args.Length == 0 ? null : args.Select(a => Path.GetFullPath(a, ctx.WorkingDirectory)).ToArray();

    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : $"{v:0.0} {units[u]}";
    }
}

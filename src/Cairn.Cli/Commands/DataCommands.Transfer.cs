using System.CommandLine;
using Cairn.Data;

namespace Cairn.Cli.Commands;

public static partial class DataCommands
{
    private static void AddTransferCommands(Command data)
    {
    }

    private static IEnumerable<CacheRoot> ExtraCacheRoots(DataRepository repo) => [];
}

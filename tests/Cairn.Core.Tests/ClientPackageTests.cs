using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Xml.Linq;
using Cairn.Client;

namespace Cairn.Tests;

/// <summary>
/// The thin client package (src/Cairn.Client) stays thin: its assembly references only the shared framework and the
/// logging abstraction, it resolves no package but those and its build-time analyzer, and <c>dotnet pack</c> gives a nupkg
/// whose one dependency is that abstraction.
/// </summary>
public sealed class ClientPackageTests : IDisposable
{
    // What the full Cairn.Core brings and the thin package must never pull in.
    private static readonly string[] Heavy = ["Npgsql", "AWSSDK", "Sqlite", "Dapper", "YamlDotNet", "Sep", "Cairn.Core"];

    // ActiveRun logs what it cannot throw through ILogger; nothing else outside the shared framework is allowed.
    private const string Logging = "Microsoft.Extensions.Logging.Abstractions";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_client_assembly_references_only_the_shared_framework()
    {
        var assembly = typeof(HttpTrackingStore).Assembly;
        Assert.Equal("Cairn.Client", assembly.GetName().Name);
        var referenced = assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("System.Net.Http", referenced);
        Assert.Contains("System.Text.Json", referenced);
        // The shared framework folder (Microsoft.NETCore.App) holds every assembly the client may use.
        var framework = RuntimeEnvironment.GetRuntimeDirectory();
        Assert.Contains(Logging, referenced);
        Assert.All(referenced.Where(name => name != Logging), name =>
        {
            Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name is "netstandard" or "mscorlib", $"Cairn.Client references {name}");
            Assert.True(File.Exists(Path.Combine(framework, name + ".dll")), $"Cairn.Client references {name}, which is not in the shared framework");
        });
    }

    [Fact]
    public async Task The_packed_client_depends_on_no_package()
    {
        var ct = TestContext.Current.CancellationToken;
        var packages = _dir.Combine("packages");
        var artifacts = _dir.Combine("artifacts");
        var pack = await RunAsync("dotnet", ["pack", Path.Combine(ChildProcess.RepositoryRoot(), "src", "Cairn.Client"), "-c", "Release",
            "--artifacts-path", artifacts, "-o", packages,
            // No build nodes or compiler server outlive the pack (they would keep this test's output pipes open).
            "-nodeReuse:false", "-p:UseSharedCompilation=false"], ct);
        Assert.True(pack.ExitCode == 0, $"dotnet pack exited {pack.ExitCode}:\n{ChildProcess.Tail(pack.Out)}\n{ChildProcess.Tail(pack.Err)}");

        // The restore's resolved packages: the public API analyzer (build-time only) and the logging abstraction with its own.
        var assetsFile = Directory.GetFiles(artifacts, "project.assets.json", SearchOption.AllDirectories).Single();
        using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(assetsFile, ct)))
        {
            var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name.Split('/')[0]).ToList();
            Assert.Equal(["Microsoft.CodeAnalysis.PublicApiAnalyzers", "Microsoft.Extensions.DependencyInjection.Abstractions", Logging],
                libraries.Order(StringComparer.Ordinal));
        }

        var nupkg = Assert.Single(Directory.GetFiles(packages, "Cairn.Client.*.nupkg"));
        using var zip = ZipFile.OpenRead(nupkg);
        Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/Cairn.Client.dll");
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        XDocument nuspec;
        await using (var stream = nuspecEntry.Open()) nuspec = await XDocument.LoadAsync(stream, LoadOptions.None, ct);
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.StartsWith("Cairn thin client", metadata.Element(ns + "description")!.Value);
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
        Assert.All(Heavy, heavy => Assert.DoesNotContain(dependencies, d => d.Contains(heavy, StringComparison.OrdinalIgnoreCase)));
        Assert.Equal([Logging], dependencies);
    }

    private static Task<ChildProcess.Result> RunAsync(string file, string[] args, CancellationToken cancellationToken) =>
        ChildProcess.RunAsync(file, args, TimeSpan.FromMinutes(10), cancellationToken);
}

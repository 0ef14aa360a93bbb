using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.Json;
using Cairn.Cli;

namespace Cairn.Tests;

/// <summary>
/// The README's install path, end to end: <c>dotnet pack src/Cairn.Cli</c> makes the <c>cairn</c> tool packages, and
/// <c>dotnet tool install</c> from that folder gives a working <c>cairn</c> command. Packs for this machine's platform only,
/// into its own artifacts folder, so the repository's bin/obj folders are left alone. Takes a few minutes (a full
/// Release build and a ReadyToRun compile).
/// </summary>
public sealed class ToolPackageTests : IDisposable
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(25);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_packed_tool_installs_from_a_folder_and_runs()
    {
        var ct = TestContext.Current.CancellationToken;
        // The version this build carries (Directory.Build.props); the informational one adds "+commit".
        var informational = typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var version = informational.Split('+')[0];
        var rid = RuntimeInformation.RuntimeIdentifier;
        var packages = _dir["packages"];

        var pack = await RunAsync("dotnet", ["pack", Path.Combine(ChildProcess.RepositoryRoot(), "src", "Cairn.Cli"), "-c", "Release",
            "--artifacts-path", _dir["artifacts"], "-o", packages, $"-p:ToolPackageRuntimeIdentifiers={rid}",
            // No build nodes or compiler server outlive the pack (they would keep this test's output pipes open).
            "-nodeReuse:false", "-p:UseSharedCompilation=false"], PackTimeout, ct);
        Assert.True(pack.ExitCode == 0, $"dotnet pack exited {pack.ExitCode}:\n{ChildProcess.Tail(pack.Out)}\n{ChildProcess.Tail(pack.Err)}");

        // The outer package only names the platform packages; the platform one holds the ReadyToRun-compiled command.
        Assert.True(File.Exists(Path.Combine(packages, $"cairn.{version}.nupkg")), $"no cairn.{version}.nupkg in: {string.Join(", ", Directory.GetFiles(packages).Select(Path.GetFileName))}");
        var platformPackage = Path.Combine(packages, $"cairn.{rid}.{version}.nupkg");
        Assert.True(File.Exists(platformPackage), $"no cairn.{rid}.{version}.nupkg");
        using (var zip = ZipFile.OpenRead(platformPackage))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith("/" + rid + "/cairn.dll", StringComparison.Ordinal));
            using var image = new MemoryStream();
            await using (var stream = entry.Open()) await stream.CopyToAsync(image, ct);
            image.Position = 0;
            using var pe = new PEReader(image);
            // A ReadyToRun image points its CLI header at the native code's header; a JIT-only one leaves it empty.
            Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, "cairn.dll in the platform package is not ReadyToRun-compiled");
        }

        // Only the packed folder as a source, so the test installs what it packed and nothing from a registry.
        var config = _dir.Write("nuget.config", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /><add key="packed" value="{packages}" /></packageSources></configuration>
            """);
        var install = await RunAsync("dotnet", ["tool", "install", "cairn", "--tool-path", _dir["tools"], "--configfile", config, "--version", version],
            TimeSpan.FromMinutes(5), ct);
        Assert.True(install.ExitCode == 0, $"dotnet tool install exited {install.ExitCode}:\n{install.Out}\n{install.Err}");
        Assert.Contains($"'cairn' (version '{version}')", install.Out);

        var cairn = _dir["tools/cairn"];
        var shown = await RunAsync(cairn, ["--version"], TimeSpan.FromMinutes(1), ct);
        Assert.Equal(0, shown.ExitCode);
        Assert.Equal(version, shown.Out.Trim().Split('+')[0]);

        var home = _dir["home"];
        var created = await RunAsync(cairn, ["experiments", "create", "packaged", "--json"], TimeSpan.FromMinutes(1), ct, home);
        Assert.True(created.ExitCode == 0, created.Err);
        var id = JsonDocument.Parse(created.Out).RootElement.GetProperty("experiment_id").GetString();
        var listed = await RunAsync(cairn, ["experiments", "list", "--json"], TimeSpan.FromMinutes(1), ct, home);
        Assert.True(listed.ExitCode == 0, listed.Err);
        var experiments = JsonDocument.Parse(listed.Out).RootElement.GetProperty("experiments").EnumerateArray()
            .Select(e => (Id: e.GetProperty("experiment_id").GetString(), Name: e.GetProperty("name").GetString())).ToList();
        Assert.Contains(experiments, e => e.Id == id && e.Name == "packaged");
        Assert.True(File.Exists(Path.Combine(home, "cairn.db")), "the installed command did not write CAIRN_HOME/cairn.db");
    }

    /// <summary>Runs a command (a nested dotnet, or the installed tool with its own CAIRN_HOME) through the one test process runner.</summary>
    private static Task<ChildProcess.Result> RunAsync(string file, string[] args, TimeSpan timeout, CancellationToken cancellationToken, string? cairnHome = null) =>
        ChildProcess.RunAsync(file, args, timeout, cancellationToken,
            environment: cairnHome is null ? null : new Dictionary<string, string> { ["CAIRN_HOME"] = cairnHome });
}

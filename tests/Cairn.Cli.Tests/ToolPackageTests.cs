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

        var pack = await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot(), "src", "Cairn.Cli"), "-c", "Release",
            "--artifacts-path", _dir["artifacts"], "-o", packages, $"-p:ToolPackageRuntimeIdentifiers={rid}",
            // No build nodes or compiler server outlive the pack (they would keep this test's output pipes open).
            "-nodeReuse:false", "-p:UseSharedCompilation=false"], PackTimeout, ct);
        Assert.True(pack.Exit == 0, $"dotnet pack exited {pack.Exit}:\n{Tail(pack.Out)}\n{Tail(pack.Err)}");

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
        Assert.True(install.Exit == 0, $"dotnet tool install exited {install.Exit}:\n{install.Out}\n{install.Err}");
        Assert.Contains($"'cairn' (version '{version}')", install.Out);

        var cairn = _dir["tools/cairn"];
        var shown = await RunAsync(cairn, ["--version"], TimeSpan.FromMinutes(1), ct);
        Assert.Equal(0, shown.Exit);
        Assert.Equal(version, shown.Out.Trim().Split('+')[0]);

        var home = _dir["home"];
        var created = await RunAsync(cairn, ["experiments", "create", "packaged", "--json"], TimeSpan.FromMinutes(1), ct, home);
        Assert.True(created.Exit == 0, created.Err);
        var id = JsonDocument.Parse(created.Out).RootElement.GetProperty("experiment_id").GetString();
        var listed = await RunAsync(cairn, ["experiments", "list", "--json"], TimeSpan.FromMinutes(1), ct, home);
        Assert.True(listed.Exit == 0, listed.Err);
        var experiments = JsonDocument.Parse(listed.Out).RootElement.GetProperty("experiments").EnumerateArray()
            .Select(e => (Id: e.GetProperty("experiment_id").GetString(), Name: e.GetProperty("name").GetString())).ToList();
        Assert.Contains(experiments, e => e.Id == id && e.Name == "packaged");
        Assert.True(File.Exists(Path.Combine(home, "cairn.db")), "the installed command did not write CAIRN_HOME/cairn.db");
    }

    /// <summary>The folder holding Cairn.slnx above this test's output folder.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cairn.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"No Cairn.slnx above {AppContext.BaseDirectory}.");
    }

    private static async Task<(int Exit, string Out, string Err)> RunAsync(string file, string[] args, TimeSpan timeout,
        CancellationToken cancellationToken, string? cairnHome = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The test host's MSBuild variables would point a nested dotnet at the wrong build; the command gets its own home.
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(name);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("CAIRN_TRACKING_URI");
        psi.Environment.Remove("MLFLOW_TRACKING_URI");
        if (cairnHome is not null) psi.Environment["CAIRN_HOME"] = cairnHome;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The last lines of a long build log, where its errors are.</summary>
    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(40));
}

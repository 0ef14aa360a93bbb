using System.Text;
using Cairn.Client;

namespace Cairn.Server.Scoring.Export;

/// <summary>What <see cref="ServingBundle.WriteAsync"/> wrote.</summary>
/// <param name="Folder">The bundle folder (full path).</param>
/// <param name="ModelName">The name the bundled server answers with.</param>
/// <param name="Files">Files copied into <c>server/</c>.</param>
/// <param name="Bytes">Their size.</param>
internal sealed record BundleResult(string Folder, string ModelName, int Files, long Bytes);

/// <summary>
/// <c>cairn serve MODEL_URI --export bundle DIR</c>: a folder a platform team deploys as it is. <c>model/</c> is the resolved
/// package (fetched as <c>cairn serve</c> fetches it), <c>server/</c> the running cairn's own application files (the folder
/// of <c>cairn.dll</c>, so <c>dotnet server/cairn.dll serve model</c> works wherever .NET 10 is installed), <c>openapi.json</c>
/// the model's scoring API (<see cref="ScoringOpenApi"/>), <c>run.sh</c> and a README.md.
/// </summary>
internal static class ServingBundle
{
    public const string ModelFolder = "model";
    public const string ServerFolder = "server";
    public const string OpenApiFile = "openapi.json";
    public const string RunScript = "run.sh";
    public const string ReadmeFile = "README.md";

    /// <summary>
    /// Writes the bundle into <paramref name="folder"/>, which must be missing or empty unless <paramref name="force"/> (then
    /// the bundle's own entries are replaced and nothing else is touched). <paramref name="download"/> fetches the package into
    /// the folder it is given; <paramref name="appFolder"/> is copied to <c>server/</c>, reporting bytes copied of the total.
    /// </summary>
    public static async Task<BundleResult> WriteAsync(string folder, bool force, string modelUri, string? name, string? flavor,
        Func<string, CancellationToken, Task<ModelLocation>> download, string appFolder, Action<long, long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(download);
        var root = Path.GetFullPath(folder);
        var app = Path.GetFullPath(appFolder);
        if (!File.Exists(Path.Combine(app, "cairn.dll")))
            throw new InvalidStateException($"Cannot bundle the server: '{app}' does not hold cairn.dll (is cairn running from its published files?).");
        if (root == app || IsWithin(root, app) || IsWithin(app, root))
            throw new InvalidParameterValueException($"Invalid value for 'DIR': '{folder}' overlaps cairn's own application folder; choose a folder outside it.");
        var created = !Directory.Exists(root);
        Prepare(root, folder, force);

        // The package is fetched beside its final place (same file system, so the move is a rename) and moved in whole.
        var staging = Path.Combine(root, ".cairn-bundle-" + Guid.NewGuid().ToString("N"));
        var modelTarget = Path.Combine(root, ModelFolder);
        try
        {
            Directory.CreateDirectory(staging);
            var location = await download(staging, cancellationToken).ConfigureAwait(false);
            var fetched = Path.GetFullPath(location.Folder);
            if (!IsWithin(fetched, staging) && fetched != staging)
                throw new InvalidStateException($"The model '{modelUri}' was not fetched into the bundle folder.");
            DeleteIfPresent(modelTarget);
            Directory.Move(fetched, modelTarget);
            // As cairn serve names it: the registered name, else --name, else the folder's name.
            var modelName = location.Version?.Name ?? name
                ?? (modelUri.Contains(":/", StringComparison.Ordinal) ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(modelUri)));
            if (string.IsNullOrEmpty(modelName)) modelName = "model";

            // Loading it proves the bundle serves, and gives the inputs and outputs the OpenAPI document describes.
            string openApi;
            using (var model = ServedModel.Load(modelTarget, modelName, location.Version?.Version, modelUri, flavor))
                openApi = ScoringOpenApi.ToJson(model);
            await File.WriteAllTextAsync(Path.Combine(root, OpenApiFile), openApi, cancellationToken).ConfigureAwait(false);

            var (files, bytes) = await CopyAppAsync(app, Path.Combine(root, ServerFolder), progress, cancellationToken).ConfigureAwait(false);
            var script = Path.Combine(root, RunScript);
            await File.WriteAllTextAsync(script, RunScriptText(modelName, flavor), cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                             UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            await File.WriteAllTextAsync(Path.Combine(root, ReadmeFile), ReadmeText(modelUri, modelName, location.Version?.Version), cancellationToken).ConfigureAwait(false);
            return new BundleResult(root, modelName, files, bytes);
        }
        catch when (created)
        {
            // A folder this call made holds nothing worth keeping after a failure (an unknown model, a full disk, Ctrl-C).
            DeleteIfPresent(root);
            throw;
        }
        finally
        {
            DeleteIfPresent(staging);
        }
    }

    /// <summary>Creates the folder (and its parents), or checks that an existing one is a real, empty folder (any, with force).</summary>
    private static void Prepare(string root, string given, bool force)
    {
        if (File.Exists(root))
            throw new InvalidParameterValueException($"Invalid value for 'DIR': '{given}' is a file, not a folder.");
        var info = new DirectoryInfo(root);
        if (info.Exists)
        {
            // A link could send the bundle (and --force's replacements) somewhere else than the path says.
            if (info.LinkTarget is not null)
                throw new InvalidParameterValueException($"Invalid value for 'DIR': '{given}' is a symbolic link; give the real folder.");
            if (!force && info.EnumerateFileSystemInfos().Any())
                throw new InvalidStateException($"Invalid value for 'DIR': '{given}' is not empty; choose an empty folder or add --force to replace the bundle's files in it.");
            foreach (var entry in new[] { ModelFolder, ServerFolder })
            {
                var path = Path.Combine(root, entry);
                if (new DirectoryInfo(path) is { Exists: true, LinkTarget: not null })
                    throw new InvalidParameterValueException($"Invalid value for 'DIR': '{Path.Combine(given, entry)}' is a symbolic link; remove it first.");
            }
            return;
        }
        Directory.CreateDirectory(root);
    }

    /// <summary>Copies every file under <paramref name="source"/> (links are copied as the files they point to, never followed out of the tree as folders).</summary>
    private static async Task<(int Files, long Bytes)> CopyAppAsync(string source, string target, Action<long, long>? progress, CancellationToken cancellationToken)
    {
        DeleteIfPresent(target);
        // Hidden entries (dot-folders such as a .cairn home left beside the application) are not the application's files.
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint | FileAttributes.Hidden, IgnoreInaccessible = false };
        var files = new DirectoryInfo(source).EnumerateFiles("*", options).ToList();
        var total = files.Sum(f => f.Length);
        long copied = 0;
        progress?.Invoke(0, total);
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var destination = Path.Combine(target, Path.GetRelativePath(source, file.FullName));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!); // a file's path under target always has a folder
            // File.Copy keeps the Unix mode, so the apphost stays executable.
            await Task.Run(() => file.CopyTo(destination, overwrite: false), cancellationToken).ConfigureAwait(false);
            copied += file.Length;
            progress?.Invoke(copied, total);
        }
        return (files.Count, total);
    }

    private static string RunScriptText(string modelName, string? flavor)
    {
        var text = new StringBuilder();
        text.Append("#!/bin/sh\n");
        text.Append("# Serves ./model with the cairn in ./server (needs the .NET 10 runtime with ASP.NET Core: dotnet --list-runtimes).\n");
        text.Append("# HOST (default 127.0.0.1), PORT (default 5001) and CAIRN_SERVE_API_KEY come from the environment; arguments are\n");
        text.Append("# passed on to cairn serve (./run.sh --log-format json). Another HOST than loopback needs CAIRN_SERVE_API_KEY.\n");
        text.Append("set -eu\n");
        text.Append("here=$(cd \"$(dirname \"$0\")\" && pwd)\n");
        text.Append("exec dotnet \"$here/server/cairn.dll\" serve \"$here/model\" --name ").Append(ShellQuote(modelName));
        if (flavor is not null) text.Append(" --flavor ").Append(ShellQuote(flavor));
        text.Append(" --host \"${HOST:-127.0.0.1}\" --port \"${PORT:-5001}\" \"$@\"\n");
        return text.ToString();
    }

    private static string ReadmeText(string modelUri, string modelName, string? version) => $$$"""
        # {{{modelName}}}: a cairn serve bundle

        Model `{{{modelUri}}}`{{{(version is null ? "" : $" (version {version})")}}}, bundled with the cairn that serves it.

        | Path | What |
        |------|------|
        | `model/` | the model package (MLmodel and its files) |
        | `server/` | cairn's application files: `dotnet server/cairn.dll serve model` |
        | `openapi.json` | the scoring API of this model (OpenAPI 3.1): request columns and types, answers, probes |
        | `run.sh` | starts the server: `HOST=0.0.0.0 PORT=8080 CAIRN_SERVE_API_KEY=... ./run.sh` |

        Needs the .NET 10 runtime with ASP.NET Core (`dotnet --list-runtimes`). Score:

            curl -s localhost:5001/invocations -H 'Content-Type: application/json' -d '{"dataframe_split": {"columns": [...], "data": [[...]]}}'

        Probes: `/ping`, `/health/ready` (200 once the model is loaded), `/health/live`; Prometheus metrics on `/metrics`;
        the Open Inference Protocol on `/v2/models/{{{modelName}}}/infer`. Answers name the version `folder`: the bundle serves
        the package from its folder.
        """.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";

    /// <summary>A POSIX shell word that stands for exactly <paramref name="value"/>.</summary>
    internal static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static bool IsWithin(string path, string folder)
    {
        var relative = Path.GetRelativePath(folder, path);
        return relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative)
               && relative != ".";
    }

    private static void DeleteIfPresent(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}

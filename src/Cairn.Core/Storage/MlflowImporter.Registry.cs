using System.Data.Common;
using Cairn.Registry;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Storage.Postgres;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Storage;

public static partial class MlflowImporter
{
    /// <summary>The artifacts and the registry part of an import.</summary>
    private sealed partial class Import
    {
        // ---- Artifacts ----

        /// <summary>
        /// The store and path under --artifacts-root that an MLflow location names, or null (with the reason) when it lies
        /// elsewhere. Every path is checked by <see cref="ArtifactPath.Normalize"/>; the local store also refuses symbolic links out of the root.
        /// </summary>
        private (string? Path, string? Why) SourcePath(string uri)
        {
            if (uri.Length == 0) return (null, "it has no artifact location");
            if (uri.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
                return (ArtifactPath.Normalize(Cairn.Client.ProxyArtifactWriter.ProxyPath(uri), "artifact_uri"), null);
            if (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            {
                if (sourceRoot is not S3ArtifactStore s3 || S3Connection.ParseUrl(uri) is not { } parsed || parsed.Bucket != s3.Bucket)
                    return (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
                var key = ArtifactPath.Normalize(parsed.Prefix, "artifact_uri");
                if (s3.Prefix.Length == 0) return (key, null);
                return key == s3.Prefix ? ("", null)
                    : key.StartsWith(s3.Prefix + "/", StringComparison.Ordinal) ? (key[(s3.Prefix.Length + 1)..], null)
                    : (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
            }
            string local;
            if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.IsFile) return (null, $"'{uri}' is not a local file: URI");
                local = parsed.LocalPath;
            }
            else if (uri.Contains("://", StringComparison.Ordinal))
            {
                return (null, $"'{uri}' uses a scheme the import does not read (only mlflow-artifacts:, file:, s3:// and folders)");
            }
            else
            {
                local = uri;
            }
            if (sourceRoot is not LocalArtifactStore)
                return (null, $"'{uri}' is a local path, but --artifacts-root {artifactsRoot} is not a folder");
            var root = Path.GetFullPath(artifactsRoot.StartsWith("file:", StringComparison.OrdinalIgnoreCase) ? new Uri(artifactsRoot).LocalPath : artifactsRoot);
            var full = Path.GetFullPath(local);
            var relative = Path.GetRelativePath(root, full);
            if (relative == ".") return ("", null);
            if (Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                return (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
            return (ArtifactPath.Normalize(relative.Replace(Path.DirectorySeparatorChar, '/'), "artifact_uri"), null);
        }

        private async Task CopyArtifactsAsync(RunRow run, string cairnUri)
        {
            var (path, why) = SourcePath(run.ArtifactUri ?? "");
            if (path is null)
            {
                Summary.Warnings.Add($"run {run.RunUuid}: artifacts not copied: {why}.");
                return;
            }
            var target = cairnArtifacts.Resolve(cairnUri);
            long files = 0;
            var pending = new Stack<string>();
            pending.Push("");
            while (pending.Count > 0)
            {
                var folder = pending.Pop();
                foreach (var entry in await sourceRoot.ListAsync(ArtifactPath.Join(path, folder), ct).ConfigureAwait(false))
                {
                    // A listing names entries below the folder it lists; only the last segment is taken, and checked.
                    var relative = ArtifactPath.Join(folder, ArtifactPath.Normalize(ArtifactPath.FileName(entry.Path), "artifact path"));
                    if (entry.IsDir)
                    {
                        pending.Push(relative);
                        continue;
                    }
                    await using var input = await sourceRoot.OpenReadAsync(ArtifactPath.Join(path, relative), ct).ConfigureAwait(false);
                    Summary.ArtifactBytes += await target.Store.WriteAsync(target.PathOf(relative), input, ct).ConfigureAwait(false);
                    files++;
                }
            }
            Summary.Add("artifact files copied", files, files);
        }

        // ---- Registry ----

        private async Task RegistryAsync()
        {
            var models = (await ReadAsync<ModelRow>(
                "SELECT name AS Name, creation_time AS CreationTime, last_updated_time AS LastUpdatedTime, description AS Description FROM registered_models ORDER BY name")
                .ConfigureAwait(false)).ToList();
            long modelsImported = 0;
            foreach (var model in models)
            {
                ct.ThrowIfCancellationRequested();
                var name = model.Name;
                // Versions MLflow deleted stay in its table as 'Deleted_Internal' until the model goes; they are not imported.
                var versions = (await ReadAsync<VersionRow>(
                    "SELECT name AS Name, version AS Version, creation_time AS CreationTime, last_updated_time AS LastUpdatedTime, description AS Description, " +
                    "user_id AS UserId, current_stage AS CurrentStage, source AS Source, storage_location AS StorageLocation, run_id AS RunId, run_link AS RunLink, " +
                    "status AS Status, status_message AS StatusMessage FROM model_versions WHERE name = @name ORDER BY version", new { name }).ConfigureAwait(false)).ToList();
                var maxVersion = versions.Count == 0 ? 0 : versions.Max(v => v.Version);
                versions.RemoveAll(v => v.CurrentStage == "Deleted_Internal");
                var modelTags = tables.Contains("registered_model_tags")
                    ? (await ReadAsync<KeyValue>("SELECT key AS Key, value AS Value FROM registered_model_tags WHERE name = @name", new { name }).ConfigureAwait(false)).ToList()
                    : [];
                var versionTags = tables.Contains("model_version_tags")
                    ? (await ReadAsync<VersionTagRow>("SELECT version AS Version, key AS Key, value AS Value FROM model_version_tags WHERE name = @name", new { name }).ConfigureAwait(false))
                        .Where(t => versions.Any(v => v.Version == t.Version)).ToList()
                    : [];
                var aliases = tables.Contains("registered_model_aliases")
                    ? (await ReadAsync<AliasRow>("SELECT alias AS Alias, version AS Version FROM registered_model_aliases WHERE name = @name", new { name }).ConfigureAwait(false))
                        .Where(a => versions.Any(v => v.Version == a.Version)).ToList()
                    : [];
                var (isNew, versionsNew, aliasesNew, tagsNew) = await database.WriteAsync(async (c, tx) =>
                {
                    var created = model.CreationTime ?? database.NowMs();
                    var n = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (@name, @created, @updated, @description, @next) ON CONFLICT DO NOTHING",
                        new { name, created, updated = model.LastUpdatedTime ?? created, description = model.Description, next = maxVersion + 1 }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    await c.ExecuteAsync(new CommandDefinition(
                        "UPDATE registered_models SET next_version = @next WHERE name = @name AND next_version < @next",
                        new { name, next = maxVersion + 1 }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    var tagsInserted = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO registered_model_tags (name, key, value) VALUES (@name, @Key, @Value) ON CONFLICT DO NOTHING",
                        modelTags.Select(t => new { name, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    var v = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message) " +
                        "VALUES (@Name, @Version, @CreationTime, @LastUpdatedTime, @Description, @UserId, @CurrentStage, @Source, @StorageLocation, @RunId, @RunLink, @Status, @StatusMessage) ON CONFLICT DO NOTHING",
                        versions.Select(x =>
                        {
                            var source = Rewrite(x.Source ?? "", x.RunId);
                            return new
                            {
                                x.Name, x.Version, CreationTime = x.CreationTime ?? created, LastUpdatedTime = x.LastUpdatedTime ?? x.CreationTime ?? created, x.Description,
                                x.UserId, CurrentStage = x.CurrentStage ?? "None", Source = source,
                                StorageLocation = x.StorageLocation is { Length: > 0 } storage ? Rewrite(storage, x.RunId) : source,
                                RunId = string.IsNullOrEmpty(x.RunId) ? null : x.RunId, x.RunLink, Status = x.Status ?? "READY", x.StatusMessage,
                            };
                        }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    tagsInserted += await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO model_version_tags (name, version, key, value) VALUES (@name, @Version, @Key, @Value) ON CONFLICT DO NOTHING",
                        versionTags.Select(t => new { name, t.Version, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    // Each alias that arrives is an entry of the audit trail, so `cairn models history` says where it came from.
                    var a = 0;
                    foreach (var alias in aliases)
                    {
                        if (await c.ExecuteAsync(new CommandDefinition(
                            "INSERT INTO registered_model_aliases (name, alias, version) VALUES (@name, @Alias, @Version) ON CONFLICT DO NOTHING",
                            new { name, alias.Alias, alias.Version }, tx, cancellationToken: ct)).ConfigureAwait(false) == 0) continue;
                        a++;
                        await c.ExecuteAsync(new CommandDefinition(
                            "INSERT INTO registry_audit (name, action, alias, from_version, to_version, user_id, timestamp) VALUES (@name, @action, @Alias, NULL, @Version, @user, @now)",
                            new { name, action = RegistryActionText.ToText(RegistryAction.AliasSet), alias.Alias, alias.Version, user = ImportUser, now = database.NowMs() },
                            tx, cancellationToken: ct)).ConfigureAwait(false);
                    }
                    return (n > 0, v, a, tagsInserted);
                }, ct).ConfigureAwait(false);
                if (isNew) modelsImported++;
                Summary.Add("model versions", versions.Count, versionsNew);
                Summary.Add("aliases", aliases.Count, aliasesNew);
                Summary.Add("tags", modelTags.Count + versionTags.Count, tagsNew);
            }
            Summary.Add("registered models", models.Count, modelsImported);
        }

        /// <summary>A location under an imported run's MLflow artifact URI, moved under the run's Cairn artifact URI; anything else unchanged.</summary>
        private string Rewrite(string location, string? runId)
        {
            IEnumerable<(string Mlflow, string Cairn)> candidates = runId is { Length: > 0 } && _runUris.TryGetValue(runId, out var own) ? [own] : _runUris.Values;
            foreach (var (mlflow, cairn) in candidates)
            {
                var root = mlflow.TrimEnd('/');
                if (root.Length == 0) continue;
                if (location.TrimEnd('/') == root) return cairn;
                if (location.StartsWith(root + "/", StringComparison.Ordinal)) return cairn + location[root.Length..];
            }
            return location;
        }
    }
}

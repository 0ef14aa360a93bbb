using System.Globalization;
using System.IO.Enumeration;
using System.Text;
using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>
/// A memo of the last "everything up to date" verdict: the stat (size, mtime, inode) of the pipeline file,
/// lock file, params files and every file of every dep and output. When every stat still matches and no
/// file was added to a folder, the pipeline is still up to date and neither YAML nor content is read,
/// which keeps a no-op <c>cairn repro</c> at process start-up cost. Any difference falls back to the full check.
/// </summary>
public static class UpToDateStamp
{
    private const string Header = "cairn-uptodate 1";

    private static string FileOf(DataRepository repo) => Path.Combine(repo.CairnDir, "tmp", "uptodate");

    /// <summary>Forgets the memo (a repro is starting or something changed).</summary>
    public static void Invalidate(DataRepository repo)
    {
        string f = FileOf(repo);
        if (File.Exists(f)) File.Delete(f);
    }

    /// <summary>Records the current state of everything the pipeline's verdict depends on.</summary>
    public static void Write(DataRepository repo, Pipeline pipeline)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal) { PipelineFile.FileName, LockFile.FileName };
        foreach (var s in pipeline.Stages)
        {
            foreach (var p in s.Params) paths.Add(p.File);
            foreach (var d in s.Deps) paths.Add(d);
            foreach (var o in s.Outputs) paths.Add(o.Path);
        }
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var rel in paths)
        {
            string full = repo.ToFull(rel);
            if (Directory.Exists(full))
            {
                var files = DataRepository.EnumerateFilesPublic(full).ToList();
                sb.Append("D\t").Append(files.Count.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(rel).Append('\n');
                foreach (var (fileRel, fileFull) in files)
                {
                    if (!Append(sb, repo.Time, fileFull, rel + "/" + fileRel)) return; // vanished while we looked: no memo
                }
            }
            else if (!Append(sb, repo.Time, full, rel))
            {
                return;
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(FileOf(repo))!);
        AtomicFile.WriteAllText(FileOf(repo), sb.ToString());
    }

    private static bool Append(StringBuilder sb, TimeProvider time, string full, string rel)
    {
        if (rel.Contains('\n') || rel.Contains('\t') || !NativeFile.TryGetStat(full, out var st) || StatCache.IsRacy(st, time)) return false;
        sb.Append("F\t").Append(st.Size).Append('\t').Append(st.MtimeNs).Append('\t').Append(st.Inode).Append('\t').Append(rel).Append('\n');
        return true;
    }

    /// <summary>True when the memo exists and every recorded stat and folder listing is unchanged.</summary>
    public static bool IsValid(DataRepository repo)
    {
        string f = FileOf(repo);
        if (!File.Exists(f)) return false;
        var lines = File.ReadAllText(f).Split('\n');
        if (lines.Length == 0 || lines[0] != Header) return false;
        var expectedInDir = new Dictionary<string, int>(StringComparer.Ordinal);
        var recorded = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0) continue;
            var parts = line.Split('\t');
            if (parts[0] == "D" && parts.Length == 3)
            {
                expectedInDir[parts[2]] = int.Parse(parts[1], CultureInfo.InvariantCulture);
                continue;
            }
            if (parts[0] != "F" || parts.Length != 5) return false;
            if (!NativeFile.TryGetStat(repo.ToFull(parts[4]), out var st)
                || st.Size.ToString(CultureInfo.InvariantCulture) != parts[1]
                || st.MtimeNs.ToString(CultureInfo.InvariantCulture) != parts[2]
                || st.Inode.ToString(CultureInfo.InvariantCulture) != parts[3])
            {
                return false;
            }
            recorded.Add(parts[4]);
        }
        // Folders: no file added (all recorded files were found above, so equal counts mean equal sets).
        foreach (var (dir, count) in expectedInDir)
        {
            string full = repo.ToFull(dir);
            if (!Directory.Exists(full)) return false;
            int n = 0;
            var walk = new FileSystemEnumerable<bool>(full, (ref FileSystemEntry _) => true,
                new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            {
                ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
            };
            foreach (var _ in walk) n++;
            if (n != count) return false;
        }
        return true;
    }
}

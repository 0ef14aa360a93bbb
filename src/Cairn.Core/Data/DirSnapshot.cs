using System.Buffers.Binary;
using System.IO.Enumeration;

namespace Cairn.Data;

/// <summary>
/// The fast path of <c>cairn data status</c> for big folders: after a folder was found identical to its
/// manifest, the stat (size, mtime, inode) and a hash of the path of each file are stored in directory-walk
/// order, one segment for the files at the top and one per top-level sub-folder. Next time the segments
/// are walked in parallel with one stat per file and compared record by record, which proves the folder
/// unchanged without loading the manifest or the stat cache and without allocating per file. Any
/// difference (including a different walk order) falls back to the full comparison, which is always right.
/// </summary>
internal static class DirSnapshot
{
    private const uint Magic = 0x32534443; // "CDS2"
    private const int RecordSize = 32;

    private static string FileOf(DataRepository repo, string rel)
        => Path.Combine(repo.CairnDir, "tmp", "dirsnap", ContentHasher.HashBytes(System.Text.Encoding.UTF8.GetBytes(rel))[..32]);

    /// <summary>The segments of a folder: its own files (not recursive), then each top-level sub-folder (recursive).</summary>
    private static List<(string Path, bool Recursive)> Segments(string root)
    {
        var list = new List<(string, bool)> { (root, false) };
        foreach (var d in Directory.EnumerateDirectories(root)) list.Add((d, true));
        return list;
    }

    /// <summary>True when the folder still matches the snapshot taken for <paramref name="digest"/>.</summary>
    public static bool Matches(DataRepository repo, string rel, string digest)
    {
        byte[] data;
        try { data = File.ReadAllBytes(FileOf(repo, rel)); }
        catch (FileNotFoundException) { return false; }
        catch (DirectoryNotFoundException) { return false; }
        if (data.Length < 40 || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic) return false;
        var want = Digest32.FromHex(digest);
        if (!data.AsSpan(4, 32).SequenceEqual(want)) return false;

        string root = repo.ToFull(rel);
        var segments = Segments(root);
        if (BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(36)) != segments.Count) return false;
        var offsets = new (int Offset, int Count)[segments.Count];
        int pos = 40;
        for (int s = 0; s < segments.Count; s++)
        {
            if (pos + 16 > data.Length) return false;
            ulong key = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(pos));
            int count = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(pos + 8));
            if (key != PathHash(segments[s].Path.AsSpan(root.Length))) return false;
            offsets[s] = (pos + 16, count);
            pos += 16 + count * RecordSize;
        }
        if (pos != data.Length) return false;

        int bad = 0;
        Parallel.For(0, segments.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (s, state) =>
        {
            if (!SegmentMatches(data, offsets[s].Offset, offsets[s].Count, root, segments[s].Path, segments[s].Recursive))
            {
                Interlocked.Exchange(ref bad, 1);
                state.Stop();
            }
        });
        return bad == 0;
    }

    private static bool SegmentMatches(byte[] data, int offset, int count, string root, string path, bool recursive)
    {
        int i = 0;
        bool ok = true;
        char[] fullBuf = new char[1024];
        int dirFd = -1;
        int dirFdLen = -1; // the folder dirFd is open on is fullBuf[..dirFdLen]
        var walk = new FileSystemEnumerable<bool>(path, (ref FileSystemEntry e) =>
        {
            if (!ok) return false;
            if (i >= count) { ok = false; return false; }
            var rec = data.AsSpan(offset + i * RecordSize, RecordSize);
            i++;
            var dir = e.Directory;
            int fullLen = dir.Length + 1 + e.FileName.Length;
            bool sameDir = dirFdLen == dir.Length && dir.SequenceEqual(fullBuf.AsSpan(0, dirFdLen));
            if (fullLen > fullBuf.Length)
            {
                var bigger = new char[fullLen * 2];
                fullBuf.CopyTo(bigger, 0);
                fullBuf = bigger;
            }
            dir.CopyTo(fullBuf);
            fullBuf[dir.Length] = Path.DirectorySeparatorChar;
            e.FileName.CopyTo(fullBuf.AsSpan(dir.Length + 1));
            var full = fullBuf.AsSpan(0, fullLen);
            if (!sameDir && NativeFile.SupportsStatAt)
            {
                NativeFile.CloseDirectory(dirFd);
                dirFd = NativeFile.OpenDirectory(dir);
                dirFdLen = dir.Length;
            }
            FileStatInfo st;
            bool statOk = dirFd >= 0 ? NativeFile.TryGetStatAt(dirFd, e.FileName, out st) : NativeFile.TryGetStat(full, out st);
            if (BinaryPrimitives.ReadUInt64LittleEndian(rec) != PathHash(full[(root.Length + 1)..])
                || !statOk
                || BinaryPrimitives.ReadInt64LittleEndian(rec[8..]) != st.Size
                || BinaryPrimitives.ReadInt64LittleEndian(rec[16..]) != st.MtimeNs
                || BinaryPrimitives.ReadInt64LittleEndian(rec[24..]) != st.Inode)
            {
                ok = false;
            }
            return ok;
        }, new EnumerationOptions { RecurseSubdirectories = recursive, IgnoreInaccessible = false, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
        };
        try
        {
            foreach (var good in walk)
            {
                if (!good) return false;
            }
            return ok && i == count;
        }
        finally
        {
            NativeFile.CloseDirectory(dirFd);
        }
    }

    /// <summary>Takes a snapshot of a folder known to match <paramref name="digest"/>; skipped when a file is racy.</summary>
    public static void Write(DataRepository repo, string rel, string digest)
    {
        string root = repo.ToFull(rel);
        using var ms = new MemoryStream();
        Span<byte> head = stackalloc byte[40];
        var segments = Segments(root);
        BinaryPrimitives.WriteUInt32LittleEndian(head, Magic);
        var d = Digest32.FromHex(digest);
        ((ReadOnlySpan<byte>)d).CopyTo(head[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(head[36..], segments.Count);
        ms.Write(head);
        var rec = new byte[RecordSize];
        foreach (var (path, recursive) in segments)
        {
            var files = new FileSystemEnumerable<string>(path, (ref FileSystemEntry e) => e.ToFullPath(),
                new EnumerationOptions { RecurseSubdirectories = recursive, IgnoreInaccessible = false, AttributesToSkip = 0 })
            {
                ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
            }.ToList();
            var segHead = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(segHead, PathHash(path.AsSpan(root.Length)));
            BinaryPrimitives.WriteInt32LittleEndian(segHead.AsSpan(8), files.Count);
            ms.Write(segHead);
            foreach (var full in files)
            {
                if (!NativeFile.TryGetStat(full, out var st) || StatCache.IsRacy(st, repo.Time)) return;
                BinaryPrimitives.WriteUInt64LittleEndian(rec, PathHash(full.AsSpan(root.Length + 1)));
                BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(8), st.Size);
                BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(16), st.MtimeNs);
                BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(24), st.Inode);
                ms.Write(rec);
            }
        }
        string file = FileOf(repo, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        string tmp = file + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(tmp, ms.ToArray());
        File.Move(tmp, file, overwrite: true);
    }

    /// <summary>FNV-1a over the UTF-16 code units of a relative path: stable across processes.</summary>
    private static ulong PathHash(ReadOnlySpan<char> rel)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in rel)
        {
            h = (h ^ c) * 1099511628211UL;
        }
        return h;
    }
}

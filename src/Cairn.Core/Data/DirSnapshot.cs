using System.Buffers.Binary;
using System.IO.Enumeration;

namespace Cairn.Data;

/// <summary>
/// The fast path of <c>cairn data status</c> for big folders: after a folder was found identical to its
/// manifest, the stat (size, mtime, inode) and a hash of the path of each file are stored in directory-walk
/// order. Next time one walk with one stat per file, compared record by record, proves the folder unchanged
/// without loading the manifest or the stat cache or allocating per file. Any difference (including a
/// different walk order) falls back to the full comparison, which is always right.
/// </summary>
internal static class DirSnapshot
{
    private const uint Magic = 0x31534443; // "CDS1"
    private const int RecordSize = 32;

    private static string FileOf(DataRepository repo, string rel)
        => Path.Combine(repo.CairnDir, "tmp", "dirsnap", ContentHasher.HashBytes(System.Text.Encoding.UTF8.GetBytes(rel))[..32]);

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
        int count = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(36));
        if (data.Length != 40 + count * RecordSize) return false;

        int i = 0;
        bool ok = true;
        char[] fullBuf = new char[1024];
        string root = repo.ToFull(rel);
        var walk = new FileSystemEnumerable<bool>(root, (ref FileSystemEntry e) =>
        {
            if (!ok) return false;
            if (i >= count) { ok = false; return false; }
            var rec = data.AsSpan(40 + i * RecordSize, RecordSize);
            i++;
            var dir = e.Directory;
            int fullLen = dir.Length + 1 + e.FileName.Length;
            if (fullLen > fullBuf.Length) fullBuf = new char[fullLen * 2];
            dir.CopyTo(fullBuf);
            fullBuf[dir.Length] = Path.DirectorySeparatorChar;
            e.FileName.CopyTo(fullBuf.AsSpan(dir.Length + 1));
            var full = fullBuf.AsSpan(0, fullLen);
            if (BinaryPrimitives.ReadUInt64LittleEndian(rec) != PathHash(full[(root.Length + 1)..])
                || !NativeFile.TryGetStat(full, out var st)
                || BinaryPrimitives.ReadInt64LittleEndian(rec[8..]) != st.Size
                || BinaryPrimitives.ReadInt64LittleEndian(rec[16..]) != st.MtimeNs
                || BinaryPrimitives.ReadInt64LittleEndian(rec[24..]) != st.Inode)
            {
                ok = false;
            }
            return ok;
        }, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
        };
        foreach (var good in walk)
        {
            if (!good) return false;
        }
        return ok && i == count;
    }

    /// <summary>Takes a snapshot of a folder known to match <paramref name="digest"/>; skipped when a file is racy.</summary>
    public static void Write(DataRepository repo, string rel, string digest)
    {
        string root = repo.ToFull(rel);
        var records = new List<byte[]>();
        foreach (var (fileRel, fileFull) in DataRepository.EnumerateFiles(root))
        {
            if (!NativeFile.TryGetStat(fileFull, out var st) || StatCache.IsRacy(st)) return;
            var rec = new byte[RecordSize];
            BinaryPrimitives.WriteUInt64LittleEndian(rec, PathHash(fileRel.Replace('/', Path.DirectorySeparatorChar)));
            BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(8), st.Size);
            BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(16), st.MtimeNs);
            BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(24), st.Inode);
            records.Add(rec);
        }
        var data = new byte[40 + records.Count * RecordSize];
        BinaryPrimitives.WriteUInt32LittleEndian(data, Magic);
        var d = Digest32.FromHex(digest);
        ((ReadOnlySpan<byte>)d).CopyTo(data.AsSpan(4));
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(36), records.Count);
        for (int i = 0; i < records.Count; i++) records[i].CopyTo(data, 40 + i * RecordSize);
        string file = FileOf(repo, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        string tmp = file + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(tmp, data);
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

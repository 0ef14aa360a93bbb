using System.Buffers.Binary;
using System.Text;

namespace Cairn.Data;

/// <summary>
/// Remembers (path, size, mtime, inode) → SHA-256 so unchanged files are never hashed twice.
/// Kept as one compact binary file that is read in one go and rewritten atomically when it changed.
/// </summary>
internal sealed class StatCache
{
    private const uint Magic = 0x31435343; // "CSC1"
    private readonly string _file;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _entries;
    private readonly Dictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Lock _gate = new();
    private bool _dirty;

    internal struct Entry
    {
        public long Size;
        public long MtimeNs;
        public long Inode;
        public Digest32 Digest;
    }

    private StatCache(string file, Dictionary<string, Entry> entries, TimeProvider time)
    {
        _file = file;
        _time = time;
        _entries = entries;
        _lookup = entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _entries.Count;

    /// <summary>Loads the cache file; a missing or unreadable file gives an empty cache (it is only a cache).</summary>
    public static StatCache Load(string file, TimeProvider time)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(file);
        }
        catch (FileNotFoundException) { return new StatCache(file, new(StringComparer.Ordinal), time); }
        catch (DirectoryNotFoundException) { return new StatCache(file, new(StringComparer.Ordinal), time); }

        var span = data.AsSpan();
        if (span.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic)
        {
            return new StatCache(file, new(StringComparer.Ordinal), time);
        }
        int count = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        var dict = new Dictionary<string, Entry>(count, StringComparer.Ordinal);
        int pos = 8;
        try
        {
            for (int i = 0; i < count; i++)
            {
                int len = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
                pos += 2;
                string path = Encoding.UTF8.GetString(span.Slice(pos, len));
                pos += len;
                var e = new Entry
                {
                    Size = BinaryPrimitives.ReadInt64LittleEndian(span[pos..]),
                    MtimeNs = BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 8)..]),
                    Inode = BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 16)..]),
                };
                span.Slice(pos + 24, 32).CopyTo(e.Digest);
                pos += 56;
                dict[path] = e;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            // Truncated file: drop it, everything will simply be hashed again.
            dict.Clear();
        }
        return new StatCache(file, dict, time);
    }

    /// <summary>The cached digest when the file's stat still matches.</summary>
    public bool TryGet(ReadOnlySpan<char> relPath, in FileStatInfo stat, out Digest32 digest)
    {
        lock (_gate)
        {
            if (_lookup.TryGetValue(relPath, out var e) && e.Size == stat.Size && e.MtimeNs == stat.MtimeNs && e.Inode == stat.Inode)
            {
                digest = e.Digest;
                return true;
            }
        }
        digest = default;
        return false;
    }

    public bool TryGetHex(string relPath, in FileStatInfo stat, out string hex)
    {
        if (TryGet(relPath, stat, out var d))
        {
            hex = d.ToHex();
            return true;
        }
        hex = "";
        return false;
    }

    public void Set(string relPath, in FileStatInfo stat, in Digest32 digest)
    {
        // "Racy" files, modified within the last second, could change again without their mtime moving
        // (timestamp granularity): do not vouch for them; they are simply hashed again next time.
        if (IsRacy(stat, _time)) return;
        lock (_gate)
        {
            if (_entries.TryGetValue(relPath, out var old) && old.Size == stat.Size && old.MtimeNs == stat.MtimeNs
                && old.Inode == stat.Inode && old.Digest.SequenceEqual(digest))
            {
                return;
            }
            _entries[relPath] = new Entry { Size = stat.Size, MtimeNs = stat.MtimeNs, Inode = stat.Inode, Digest = digest };
            _dirty = true;
        }
    }

    /// <summary>True when the file was modified within a second before <paramref name="time"/>'s now, too recently for its stat to be trusted.</summary>
    public static bool IsRacy(in FileStatInfo stat, TimeProvider time)
        => stat.MtimeNs > (time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks - TimeSpan.TicksPerSecond) * 100;

    public void Set(string relPath, in FileStatInfo stat, string hex) => Set(relPath, stat, Digest32.FromHex(hex));

    /// <summary>Drops the entries <paramref name="remove"/> selects.</summary>
    public void Prune(Func<string, bool> remove)
    {
        lock (_gate)
        {
            foreach (var key in _entries.Keys.Where(remove).ToList())
            {
                _entries.Remove(key);
                _dirty = true;
            }
        }
    }

    /// <summary>Writes the cache back (temp file + rename) when something changed.</summary>
    public void Save()
    {
        lock (_gate)
        {
            if (!_dirty) return;
            Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
            string tmp = _file + "." + Environment.ProcessId + ".tmp";
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> head = stackalloc byte[8];
                BinaryPrimitives.WriteUInt32LittleEndian(head, Magic);
                BinaryPrimitives.WriteInt32LittleEndian(head[4..], _entries.Count);
                fs.Write(head);
                Span<byte> rec = stackalloc byte[56];
                byte[] name = new byte[1024];
                foreach (var (path, e) in _entries)
                {
                    int n = Encoding.UTF8.GetByteCount(path);
                    if (n > ushort.MaxValue) continue;
                    if (n + 2 > name.Length) name = new byte[n + 2];
                    BinaryPrimitives.WriteUInt16LittleEndian(name, (ushort)n);
                    Encoding.UTF8.GetBytes(path, name.AsSpan(2));
                    fs.Write(name, 0, n + 2);
                    BinaryPrimitives.WriteInt64LittleEndian(rec, e.Size);
                    BinaryPrimitives.WriteInt64LittleEndian(rec[8..], e.MtimeNs);
                    BinaryPrimitives.WriteInt64LittleEndian(rec[16..], e.Inode);
                    ((ReadOnlySpan<byte>)e.Digest).CopyTo(rec[24..]);
                    fs.Write(rec);
                }
            }
            File.Move(tmp, _file, overwrite: true);
            _dirty = false;
        }
    }
}

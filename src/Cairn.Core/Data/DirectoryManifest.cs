using System.Buffers;
using System.Text;

namespace Cairn.Data;

/// <summary>One file of a tracked directory: its path inside the directory ('/' separated), digest and size.</summary>
public readonly record struct ManifestEntry(string Path, string Digest, long Size);

/// <summary>
/// The content of a tracked directory as a sorted list of its files. The manifest is itself stored as a
/// cache object, so a directory's digest is the digest of its manifest and a one-file change stores one
/// new file object plus one new manifest.
/// </summary>
public sealed class DirectoryManifest
{
    private const string Header = "cairn-manifest 1";

    /// <summary>Creates a manifest; entries are sorted by ordinal path.</summary>
    public DirectoryManifest(IEnumerable<ManifestEntry> entries)
    {
        var list = entries.ToArray();
        Array.Sort(list, static (a, b) => string.CompareOrdinal(a.Path, b.Path));
        for (int i = 1; i < list.Length; i++)
        {
            if (list[i].Path == list[i - 1].Path) throw new InvalidParameterValueException($"manifest: path '{list[i].Path}' is listed twice");
        }
        Entries = list;
    }

    /// <summary>The files, sorted by ordinal path.</summary>
    public IReadOnlyList<ManifestEntry> Entries { get; }

    /// <summary>Sum of the file sizes.</summary>
    public long TotalSize => Entries.Sum(e => e.Size);

    /// <summary>The manifest's canonical bytes: a header line, then "digest size path" per line.</summary>
    public byte[] Serialize()
    {
        var sb = new ArrayBufferWriter<byte>(64 + Entries.Count * 100);
        Write(sb, Header + "\n");
        Span<char> num = stackalloc char[24];
        foreach (var e in Entries)
        {
            if (e.Path.Contains('\n')) throw new InvalidParameterValueException($"file name '{e.Path}' contains a newline, which Cairn cannot track");
            // What a checkout would refuse to read back (a '..\x' file name is legal on Linux, a climb on Windows).
            if (SafePath.Problem(e.Path) is { } problem) throw new InvalidParameterValueException($"file name '{SafePath.Printable(e.Path)}' {problem}, which Cairn cannot track");
            Write(sb, e.Digest);
            Write(sb, " ");
            e.Size.TryFormat(num, out int n, provider: System.Globalization.CultureInfo.InvariantCulture);
            Write(sb, num[..n]);
            Write(sb, " ");
            Write(sb, e.Path);
            Write(sb, "\n");
        }
        return sb.WrittenSpan.ToArray();
    }

    /// <summary>The digest of <see cref="Serialize"/>: the directory's digest.</summary>
    public string ComputeDigest() => ContentHasher.HashBytes(Serialize());

    /// <summary>Parses manifest bytes; <paramref name="source"/> names the object in errors.</summary>
    public static DirectoryManifest Parse(ReadOnlySpan<byte> data, string source)
    {
        var text = Encoding.UTF8.GetString(data);
        var lines = text.Split('\n');
        if (lines.Length == 0 || lines[0] != Header)
        {
            throw new InvalidStateException($"{source}: not a Cairn directory manifest (first line must be '{Header}')");
        }
        var entries = new List<ManifestEntry>(lines.Length);
        for (int i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0) continue;
            int a = line.IndexOf(' ');
            int b = a < 0 ? -1 : line.IndexOf(' ', a + 1);
            if (a != 64 || b < 0 || !long.TryParse(line.AsSpan(a + 1, b - a - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long size))
            {
                throw new InvalidStateException($"{source}: line {i + 1} is not 'digest size path'");
            }
            string digest = line[..64];
            if (!ContentHasher.IsValidDigest(digest))
            {
                throw new InvalidParameterValueException($"{source}: line {i + 1}: digest '{SafePath.Printable(digest)}' must be 64 lowercase hex characters");
            }
            entries.Add(new ManifestEntry(SafePath.Check(line[(b + 1)..], source, $"line {i + 1}: path"), digest, size));
        }
        return new DirectoryManifest(entries);
    }

    private static void Write(ArrayBufferWriter<byte> w, ReadOnlySpan<char> s)
    {
        var span = w.GetSpan(Encoding.UTF8.GetMaxByteCount(s.Length));
        w.Advance(Encoding.UTF8.GetBytes(s, span));
    }
}

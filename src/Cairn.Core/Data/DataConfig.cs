using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Cairn.Data;

/// <summary>How checked-out files are materialised from the cache.</summary>
public enum LinkType
{
    /// <summary>Copy-on-write clone (ioctl FICLONE on btrfs, XFS, …): instant and safe to edit.</summary>
    Reflink,
    /// <summary>Hard link to the read-only cache object: instant, but edits need the file to be replaced, not rewritten.</summary>
    Hardlink,
    /// <summary>Symbolic link to the read-only cache object.</summary>
    Symlink,
    /// <summary>A full copy: always safe, costs time and space.</summary>
    Copy,
}

/// <summary>One remote as written in <c>.cairn/config.yaml</c>.</summary>
public sealed class RemoteConfig
{
    /// <summary>A folder path, <c>file://</c> URL or <c>s3://bucket/prefix</c>.</summary>
    public string Url { get; set; } = "";
    /// <summary>S3 endpoint (MinIO, s3rver, …); empty for AWS.</summary>
    public string? Endpoint { get; set; }
    /// <summary>S3 region used for signing.</summary>
    public string? Region { get; set; }
    /// <summary>Use path-style bucket addressing (needed by most S3-compatible servers).</summary>
    public bool? PathStyle { get; set; }
    /// <summary>Send uploads with aws-chunked encoding (AWS default); turn off for servers that do not decode it.</summary>
    public bool? ChunkEncoding { get; set; }
    /// <summary>Access key; better kept in <c>.cairn/config.local.yaml</c> or AWS_ACCESS_KEY_ID.</summary>
    public string? AccessKeyId { get; set; }
    /// <summary>Secret key; better kept in <c>.cairn/config.local.yaml</c> or AWS_SECRET_ACCESS_KEY.</summary>
    public string? SecretAccessKey { get; set; }
}

/// <summary>The repository's data settings (<c>.cairn/config.yaml</c>, overlaid by <c>config.local.yaml</c>).</summary>
public sealed class DataConfig
{
    /// <summary>Link types to try in order, e.g. "reflink,copy".</summary>
    public string? LinkType { get; set; }
    /// <summary>Name of the default remote.</summary>
    public string? DefaultRemote { get; set; }
    /// <summary>Configured remotes by name.</summary>
    public Dictionary<string, RemoteConfig> Remotes { get; set; } = new(StringComparer.Ordinal);

    // Built on first use: the builders cost tens of milliseconds of start-up that most commands never need.
    private static readonly Lazy<IDeserializer> s_reader = new(() => new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance).IgnoreUnmatchedProperties().Build());
    private static readonly Lazy<ISerializer> s_writer = new(() => new SerializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull).Build());

    /// <summary>Reads a config file; a missing file gives defaults.</summary>
    public static DataConfig Load(string path)
    {
        if (!File.Exists(path)) return new DataConfig();
        try
        {
            return s_reader.Value.Deserialize<DataConfig?>(File.ReadAllText(path)) ?? new DataConfig();
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidParameterValueException($"{path}: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
    }

    /// <summary>Writes the config atomically.</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, s_writer.Value.Serialize(this));
    }

    /// <summary>Overlays non-empty values of <paramref name="local"/> (credentials, machine-only remotes).</summary>
    public void Merge(DataConfig local)
    {
        LinkType = local.LinkType ?? LinkType;
        DefaultRemote = local.DefaultRemote ?? DefaultRemote;
        foreach (var (name, r) in local.Remotes)
        {
            if (!Remotes.TryGetValue(name, out var mine)) { Remotes[name] = r; continue; }
            if (!string.IsNullOrEmpty(r.Url)) mine.Url = r.Url;
            mine.Endpoint = r.Endpoint ?? mine.Endpoint;
            mine.Region = r.Region ?? mine.Region;
            mine.PathStyle = r.PathStyle ?? mine.PathStyle;
            mine.ChunkEncoding = r.ChunkEncoding ?? mine.ChunkEncoding;
            mine.AccessKeyId = r.AccessKeyId ?? mine.AccessKeyId;
            mine.SecretAccessKey = r.SecretAccessKey ?? mine.SecretAccessKey;
        }
    }

    /// <summary>Parses "reflink,hardlink,copy" into link types.</summary>
    public static IReadOnlyList<LinkType> ParseLinkTypes(string? text, string field = "link_type")
    {
        if (string.IsNullOrWhiteSpace(text)) return [Data.LinkType.Reflink, Data.LinkType.Copy];
        var list = new List<LinkType>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<LinkType>(part, ignoreCase: true, out var t) || !Enum.IsDefined(t) || char.IsDigit(part[0]))
            {
                throw new InvalidParameterValueException($"{field}: '{part}' is not a link type (use reflink, hardlink, symlink or copy, comma-separated)");
            }
            list.Add(t);
        }
        return list;
    }
}

/// <summary>Writes files via a temp file and a rename, so readers never see half a file.</summary>
public static class AtomicFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        string tmp = path + "." + Environment.ProcessId + "." + Environment.CurrentManagedThreadId + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}

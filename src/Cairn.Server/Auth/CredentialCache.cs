using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Cairn.Server.Auth;

/// <summary>
/// Credentials verified in the last <see cref="Lifetime"/>, so a client logging metrics does not pay a slow password hash (or
/// a token lookup) per request. Keyed by an HMAC of the credentials under a key made at start (the plain secrets are never
/// held). Every change to a user or a token (password, admin flag, deletion, revocation) calls <see cref="Invalidate"/>,
/// which bumps a generation counter and empties the cache, so the next request is verified against the database again.
/// The counter lives in this process: with several replicas, another replica's entries live until they expire.
/// </summary>
internal sealed class CredentialCache(TimeProvider timeProvider)
{
    /// <summary>How long a verified credential is trusted without asking the database.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    /// <summary>At most this many entries; a full cache is emptied (bounded memory whatever clients send).</summary>
    public const int MaxEntries = 10_000;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _generation;

    /// <summary>A verified user: what the claims are built from.</summary>
    public sealed record Identity(long UserId, string Username, bool IsAdmin);

    private sealed record Entry(Identity Identity, long Generation, long ExpiresTicks);

    /// <summary>The current generation; read it before verifying, pass it to <see cref="Add"/>.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>The cache key of a credential: an HMAC, so a memory dump does not hold passwords or tokens.</summary>
    public string KeyOf(string kind, string secret)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(kind + "\0" + secret), mac);
        return Convert.ToBase64String(mac);
    }

    public Identity? Get(string key)
    {
        if (!_entries.TryGetValue(key, out var entry)) return null;
        if (entry.Generation == Generation && entry.ExpiresTicks > timeProvider.GetUtcNow().UtcTicks) return entry.Identity;
        _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        return null;
    }

    /// <summary>Remembers a credential verified against the database as it was at <paramref name="generation"/>.</summary>
    public void Add(string key, Identity identity, long generation)
    {
        // Verified before a change that has happened since: not cached (the change may be what made it stale).
        if (generation != Generation) return;
        if (_entries.Count >= MaxEntries) _entries.Clear();
        _entries[key] = new Entry(identity, generation, (timeProvider.GetUtcNow() + Lifetime).UtcTicks);
        // A change that happened while adding: drop what may have slipped in.
        if (generation != Generation) _entries.TryRemove(key, out _);
    }

    /// <summary>Forgets every verified credential: the next request of each client is verified again.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}

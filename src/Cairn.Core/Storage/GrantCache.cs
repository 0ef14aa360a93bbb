using System.Collections.Concurrent;

namespace Cairn.Storage;

/// <summary>
/// What the permission check read from the database in the last <see cref="Lifetime"/>: grants (also their absence) and the
/// experiment of each run, so a client logging to its own run does not cost two queries per request. Every grant write of
/// <see cref="SqlPermissionStore"/> calls <see cref="Invalidate"/> after it commits, which bumps a generation and empties the
/// cache; a read that began before a change is not cached (each <c>Add</c> compares generations), so within this
/// process a change takes effect on the next request. Another process writing the same database (a second replica) is seen
/// once entries expire. Creating an experiment or model grants its creator MANAGE, which invalidates too, so a model
/// re-created under an old name never inherits a cached grant. Ids of users, experiments and runs are never reused.
/// </summary>
internal sealed class GrantCache
{
    /// <summary>How long an entry is trusted without asking the database.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    /// <summary>At most this many entries per kind; a full map is emptied (bounded memory whatever callers ask).</summary>
    public const int MaxEntries = 50_000;

    private readonly record struct Entry<TValue>(TValue Value, long Generation, long ExpiresAt);

    private readonly ConcurrentDictionary<(long UserId, long ExperimentId), Entry<Access.Permission?>> _experiments = new();
    private readonly ConcurrentDictionary<(string Kind, long UserId, string Name), Entry<Access.Permission?>> _named = new();
    private readonly ConcurrentDictionary<string, Entry<long>> _runs = new(StringComparer.Ordinal);
    private long _generation;

    /// <summary>The current generation; read it before reading the database, pass it to <c>Add</c>.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public bool TryGetExperiment(long userId, long experimentId, out Access.Permission? grant) => TryGet(_experiments, (userId, experimentId), out grant);

    public void AddExperiment(long userId, long experimentId, Access.Permission? grant, long generation) => Add(_experiments, (userId, experimentId), grant, generation);

    /// <summary>A grant on a resource known by name (<paramref name="kind"/>: a registered model, a deployment).</summary>
    public bool TryGetNamed(string kind, long userId, string name, out Access.Permission? grant) => TryGet(_named, (kind, userId, name), out grant);

    public void AddNamed(string kind, long userId, string name, Access.Permission? grant, long generation) => Add(_named, (kind, userId, name), grant, generation);

    public bool TryGetRun(string runId, out long experimentId) => TryGet(_runs, runId, out experimentId);

    /// <summary>Remembers the experiment of an existing run (a run never moves, so only expiry and size evict it).</summary>
    public void AddRun(string runId, long experimentId, long generation) => Add(_runs, runId, experimentId, generation);

    /// <summary>Forgets everything: the next check of every caller reads the database again.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _experiments.Clear();
        _named.Clear();
        _runs.Clear();
    }

    private bool TryGet<TKey, TValue>(ConcurrentDictionary<TKey, Entry<TValue>> map, TKey key, out TValue value) where TKey : notnull
    {
        if (map.TryGetValue(key, out var entry))
        {
            if (entry.Generation == Generation && entry.ExpiresAt > Environment.TickCount64)
            {
                value = entry.Value;
                return true;
            }
            map.TryRemove(new KeyValuePair<TKey, Entry<TValue>>(key, entry));
        }
        value = default!;
        return false;
    }

    private void Add<TKey, TValue>(ConcurrentDictionary<TKey, Entry<TValue>> map, TKey key, TValue value, long generation) where TKey : notnull
    {
        // Read before a change that has happened since: not cached (the change may be what made it stale).
        if (generation != Generation) return;
        if (map.Count >= MaxEntries) map.Clear();
        map[key] = new Entry<TValue>(value, generation, Environment.TickCount64 + (long)Lifetime.TotalMilliseconds);
        // A change that happened while adding: drop what may have slipped in.
        if (generation != Generation) map.TryRemove(key, out _);
    }
}

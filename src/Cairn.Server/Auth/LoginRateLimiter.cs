namespace Cairn.Server.Auth;

/// <summary>
/// Failed logins per user name and per client address: after <see cref="MaxFailures"/> failures within
/// <see cref="Window"/>, further attempts for that name or from that address are refused (429 with Retry-After) until the
/// window that started with the first failure ends, right password or not. Bounded memory: expired windows are swept when
/// the table is full, and a table still full of live windows is emptied.
/// </summary>
internal sealed class LoginRateLimiter(TimeProvider timeProvider)
{
    public const int MaxFailures = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public const int MaxEntries = 100_000;

    private readonly Dictionary<string, (int Failures, long WindowStart)> _failures = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>How long the caller must wait, or null when neither the user name nor the address is blocked.</summary>
    public TimeSpan? RetryAfter(string? username, string? address)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            var wait = Blocked(UserKey(username), now);
            var byAddress = Blocked(AddressKey(address), now);
            return byAddress is { } b && (wait is null || b > wait) ? b : wait;
        }
    }

    public void RecordFailure(string? username, string? address)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            if (_failures.Count >= MaxEntries - 2) Sweep(now);
            Count(UserKey(username), now);
            Count(AddressKey(address), now);
        }
    }

    private static string? UserKey(string? username) => username is null ? null : "u:" + username;

    private static string? AddressKey(string? address) => address is null ? null : "a:" + address;

    private TimeSpan? Blocked(string? key, long now)
    {
        if (key is null || !_failures.TryGetValue(key, out var entry)) return null;
        var end = entry.WindowStart + Window.Ticks;
        if (end <= now) return null;
        return entry.Failures >= MaxFailures ? TimeSpan.FromTicks(end - now) : null;
    }

    private void Count(string? key, long now)
    {
        if (key is null) return;
        _failures[key] = _failures.TryGetValue(key, out var entry) && entry.WindowStart + Window.Ticks > now
            ? (entry.Failures + 1, entry.WindowStart)
            : (1, now);
    }

    private void Sweep(long now)
    {
        foreach (var (key, entry) in _failures.ToList())
            if (entry.WindowStart + Window.Ticks <= now) _failures.Remove(key);
        if (_failures.Count >= MaxEntries - 2) _failures.Clear();
    }
}

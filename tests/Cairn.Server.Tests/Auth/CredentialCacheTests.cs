using Cairn.Server.Auth;
using Microsoft.Extensions.Time.Testing;

namespace Cairn.Tests.Auth;

/// <summary>The credential cache and the failed-login limiter on a fake clock.</summary>
public sealed class CredentialCacheTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    [Fact]
    public void Entries_expire_and_an_invalidation_drops_them_and_refuses_stale_additions()
    {
        var cache = new CredentialCache(_time);
        var identity = new CredentialCache.Identity(1, "alice", false);
        var key = cache.KeyOf("basic", "alice:secret");
        Assert.DoesNotContain("secret", key, StringComparison.Ordinal);
        Assert.NotEqual(key, new CredentialCache(_time).KeyOf("basic", "alice:secret")); // keyed per process

        cache.Add(key, identity, cache.Generation);
        Assert.Equal(identity, cache.Get(key));
        _time.Advance(CredentialCache.Lifetime + TimeSpan.FromSeconds(1));
        Assert.Null(cache.Get(key));

        cache.Add(key, identity, cache.Generation);
        cache.Invalidate();
        Assert.Null(cache.Get(key));

        // Verified before a change, added after it: not cached.
        var before = cache.Generation;
        cache.Invalidate();
        cache.Add(key, identity, before);
        Assert.Null(cache.Get(key));
    }

    [Fact]
    public void The_cache_stays_bounded()
    {
        var cache = new CredentialCache(_time);
        for (var i = 0; i < CredentialCache.MaxEntries * 2; i++)
            cache.Add(cache.KeyOf("bearer", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), new(i, "u", false), cache.Generation);
        var last = cache.KeyOf("bearer", (CredentialCache.MaxEntries * 2 - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotNull(cache.Get(last));
        Assert.Null(cache.Get(cache.KeyOf("bearer", "0")));
    }

    [Fact]
    public void Ten_failures_block_the_user_name_and_the_address_separately_until_the_window_ends()
    {
        var limiter = new LoginRateLimiter(_time);
        for (var i = 0; i < LoginRateLimiter.MaxFailures - 1; i++) limiter.RecordFailure("alice", "10.0.0." + i);
        Assert.Null(limiter.RetryAfter("alice", "10.0.0.99"));
        limiter.RecordFailure("alice", "10.0.0.100");
        Assert.NotNull(limiter.RetryAfter("alice", "10.0.0.200")); // the user, from anywhere
        Assert.Null(limiter.RetryAfter("bob", "10.0.0.1")); // another user from an address with one failure

        for (var i = 0; i < LoginRateLimiter.MaxFailures; i++) limiter.RecordFailure("user" + i, "192.0.2.1");
        Assert.NotNull(limiter.RetryAfter("carol", "192.0.2.1")); // the address, whatever the name
        Assert.NotNull(limiter.RetryAfter(null, "192.0.2.1"));

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.InRange(limiter.RetryAfter("alice", null)!.Value.TotalSeconds, 29, 31);
        _time.Advance(LoginRateLimiter.Window);
        Assert.Null(limiter.RetryAfter("alice", "192.0.2.1"));
    }

    [Fact]
    public void The_limiter_stays_bounded()
    {
        var limiter = new LoginRateLimiter(_time);
        for (var i = 0; i < LoginRateLimiter.MaxEntries; i++) limiter.RecordFailure("u" + i, null);
        // Still works (the table was swept or emptied, never grown past its bound).
        for (var i = 0; i < LoginRateLimiter.MaxFailures; i++) limiter.RecordFailure("target", null);
        Assert.NotNull(limiter.RetryAfter("target", null));
    }
}

using System.Diagnostics;
using System.Text.Json;
using Cairn.Monitoring.Alerts;
using Cairn.Storage;
using Cairn.Tests.Monitoring.Alerts;

namespace Cairn.Tests.Alerts;

/// <summary>The webhook action against a real Kestrel listener on 127.0.0.1: retries, timeouts, the secret header, the bounded queue.</summary>
public sealed class WebhookActionTests : IAsyncDisposable
{
    private const string Secret = "hook-secret-7f3a9c";

    private readonly TempDirectory _dir = new();
    private readonly ListLogger _log = new();
    private CairnStores? _stores;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        _stores?.Dispose();
        _dir.Dispose();
        await ValueTask.CompletedTask;
    }

    private async Task<(SqlAlertStore Store, AlertEngine Engine)> StartAsync(HookServer hook, string settings)
    {
        var rules = AlertRulesFile.Parse($"""
            alerts:
              - name: tenure
                condition: psi(feature=tenure) > 0.2
                actions:
                  - log
                  - webhook: {"{"}url: "{hook.Url}", secret_header: X-Hook-Token, secret_env: HOOK_TOKEN, {settings}{"}"}
            """, "monitoring.yaml", _dir.Path, name => name == "HOOK_TOKEN" ? Secret : null);
        _stores = await CairnStores.OpenAsync(_dir.Combine("cairn.db"), new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var store = new SqlAlertStore(_stores.Database!);
        return (store, new AlertEngine(rules, store, new AlertActions(store, _log), _log));
    }

    private static async Task<AlertIncident> WebhookDoneAsync(SqlAlertStore store, AlertEngine engine, long completed = 1)
    {
        var clock = Stopwatch.StartNew();
        while (engine.Actions.Webhooks.Completed < completed)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the webhook never finished");
            await Task.Delay(20, Ct);
        }
        return Assert.Single(await store.ListIncidentsAsync(null, false, 10, Ct));
    }

    [Fact]
    public async Task The_incident_is_posted_as_json_with_the_secret_header_retried_on_500_and_the_secret_never_logged()
    {
        await using var hook = await HookServer.StartAsync(500, 503);
        var (store, engine) = await StartAsync(hook, "retries: 3, backoff_seconds: 0.2, timeout_seconds: 5");
        await using (engine)
        {
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
            await engine.OnWindowAsync(AlertWindows.Psi(1, 0.4), Ct); // still open: no second call
            var incident = await WebhookDoneAsync(store, engine);
            Assert.Equal("delivered (HTTP 200) after 3 attempts", incident.WebhookStatus);
        }

        var calls = hook.Calls.ToArray();
        Assert.Equal(3, calls.Length);
        Assert.All(calls, c => Assert.Equal(Secret, c.Headers["X-Hook-Token"]));
        Assert.All(calls, c => Assert.StartsWith("application/json", c.Headers["Content-Type"], StringComparison.Ordinal));
        // Backoff: 0.2 s, then 0.4 s.
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromMilliseconds(180), $"first retry after {(calls[1].At - calls[0].At).TotalMilliseconds} ms");
        Assert.True(calls[2].At - calls[1].At >= TimeSpan.FromMilliseconds(380), $"second retry after {(calls[2].At - calls[1].At).TotalMilliseconds} ms");

        using var body = JsonDocument.Parse(calls[0].Body);
        Assert.Equal("incident_opened", body.RootElement.GetProperty("event").GetString());
        var sent = body.RootElement.GetProperty("incident");
        Assert.Equal(("tenure", "churn-api", "churn", "1", "open", "psi(feature=tenure) > 0.2"),
            (sent.GetProperty("rule").GetString(), sent.GetProperty("deployment").GetString(), sent.GetProperty("model_name").GetString(),
             sent.GetProperty("model_version").GetString(), sent.GetProperty("status").GetString(), sent.GetProperty("condition").GetString()));
        Assert.Equal(0.3, sent.GetProperty("values").GetProperty("psi(feature=tenure)").GetDouble());
        Assert.Equal(AlertWindows.Origin.ToUnixTimeMilliseconds(), sent.GetProperty("window_start_time").GetInt64());
        Assert.Equal(AlertWindows.Origin.AddHours(1).ToUnixTimeMilliseconds(), sent.GetProperty("window_end_time").GetInt64());
        Assert.True(sent.GetProperty("incident_id").GetInt64() > 0);

        Assert.Contains(_log.Entries, e => e.EventId == 4110);
        Assert.DoesNotContain(Secret, _log.All, StringComparison.Ordinal);
        Assert.DoesNotContain("query-secret", _log.All, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, (await store.ListIncidentsAsync(null, false, 10, Ct))[0].WebhookStatus!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hook_slower_than_the_timeout_is_given_up_after_the_retries()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Delay = TimeSpan.FromSeconds(10);
        var (store, engine) = await StartAsync(hook, "retries: 1, backoff_seconds: 0, timeout_seconds: 0.3");
        await using (engine)
        {
            var clock = Stopwatch.StartNew();
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the monitor waited for the hook"); // the window returns long before the hook's 10 s
            var incident = await WebhookDoneAsync(store, engine);
            Assert.Equal("failed: timed out after 0.3 s after 2 attempts", incident.WebhookStatus);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"two attempts of 0.3 s took {clock.Elapsed}"); // not the hook's 10 s
        }
        Assert.Equal(2, hook.Calls.Count);
        Assert.Contains(_log.Entries, e => e.EventId == 4111);
        Assert.DoesNotContain(Secret, _log.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_error_is_not_retried()
    {
        await using var hook = await HookServer.StartAsync(404, 200);
        var (store, engine) = await StartAsync(hook, "retries: 3, backoff_seconds: 0");
        await using (engine)
        {
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
            Assert.Equal("failed: HTTP 404 (not retried) after 1 attempt", (await WebhookDoneAsync(store, engine)).WebhookStatus);
        }
        Assert.Single(hook.Calls);
    }

    [Fact]
    public async Task A_full_queue_drops_calls_instead_of_blocking_the_monitor()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (store, engine) = await StartAsync(hook, "retries: 0, timeout_seconds: 60");
        var rule = engine.Rules[0];
        var action = (WebhookAlertAction)rule.Actions[1];
        var incident = new AlertIncident
        {
            Id = 1, Rule = "tenure", Deployment = "churn-api", Condition = rule.ConditionText, Status = IncidentStatus.Open,
            OpenedAt = AlertWindows.Origin, WindowStart = AlertWindows.Origin, WindowEnd = AlertWindows.Origin, LastWindowEnd = AlertWindows.Origin, Windows = 1,
            Values = new Dictionary<string, double?>(),
        };
        int accepted;
        await using (engine)
        {
            var clock = Stopwatch.StartNew();
            accepted = Enumerable.Range(0, WebhookSender.Capacity + 20).Count(_ => engine.Actions.Webhooks.Enqueue(rule, action, incident));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"queueing took {clock.Elapsed} while the hook hung");
            // The loop holds one call (hanging in the hook) and the queue the capacity; the rest were dropped.
            Assert.InRange(accepted, WebhookSender.Capacity, WebhookSender.Capacity + 1);
            Assert.Contains(_log.Entries, e => e.EventId == 4112);
            hook.Hold.TrySetResult();
            var clock2 = Stopwatch.StartNew();
            while (engine.Actions.Webhooks.Completed < accepted)
            {
                Assert.True(clock2.Elapsed < TimeSpan.FromSeconds(30), "the queued calls were never sent");
                await Task.Delay(20, Ct);
            }
        }
        Assert.Equal(accepted, hook.Calls.Count);
    }
}

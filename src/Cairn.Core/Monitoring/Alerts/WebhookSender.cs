using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using Cairn.Storage;
using Microsoft.Extensions.Logging;

namespace Cairn.Monitoring.Alerts;

/// <summary>
/// Delivers webhook actions: a bounded queue (<see cref="Capacity"/>; when it is full the call is dropped and logged, so a
/// slow hook never blocks the monitor) drained by one background loop. Each call POSTs the incident as JSON
/// (<see cref="AlertWebhookPayload"/>), each attempt bounded by the action's timeout; a 5xx, 408, 429, a timeout or a
/// network error is retried after the action's backoff, doubled each time (at most 60 s); another 4xx is final. The secret
/// header's value is sent and never logged; the URL is logged without its query.
/// </summary>
internal sealed class WebhookSender : IAsyncDisposable
{
    /// <summary>Webhook calls that may wait; more are dropped.</summary>
    public const int Capacity = 256;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    private readonly SqlAlertStore _store;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Channel<(AlertRule Rule, WebhookAlertAction Action, AlertIncident Incident)> _queue =
        Channel.CreateBounded<(AlertRule, WebhookAlertAction, AlertIncident)>(new BoundedChannelOptions(Capacity) { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public WebhookSender(SqlAlertStore store, ILogger logger, HttpMessageHandler? handler = null)
    {
        _store = store;
        _logger = logger;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan, // each attempt has its own
        };
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Calls finished (delivered or given up), for tests and diagnostics.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    private long _completed;

    /// <summary>Queues a call; false (and a log line, and the incident's webhook status) when the queue is full.</summary>
    public bool Enqueue(AlertRule rule, WebhookAlertAction action, AlertIncident incident)
    {
        if (_queue.Writer.TryWrite((rule, action, incident))) return true;
        AlertLog.WebhookDropped(_logger, rule.Name, incident.Id, Capacity);
        _ = RecordAsync(incident.Id, $"dropped: the webhook queue ({Capacity}) was full");
        return false;
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var (rule, action, incident) in _queue.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                var status = await DeliverAsync(action, incident, _stopping.Token).ConfigureAwait(false);
                var url = action.Url.GetLeftPart(UriPartial.Path);
                if (status.StartsWith("delivered", StringComparison.Ordinal)) AlertLog.WebhookDone(_logger, rule.Name, incident.Id, url, status);
                else AlertLog.WebhookFailed(_logger, rule.Name, incident.Id, url, status);
                await RecordAsync(incident.Id, status).ConfigureAwait(false);
                Interlocked.Increment(ref _completed);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Stopping: what is still queued is not sent.
        }
    }

    /// <summary>Posts the incident, retrying as the action says; returns the outcome in words.</summary>
    internal async Task<string> DeliverAsync(WebhookAlertAction action, AlertIncident incident, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new AlertWebhookPayload { Incident = incident.ToWire() }, AlertJson.Default.AlertWebhookPayload);
        string last = "not sent";
        var backoff = action.Backoff;
        for (int attempt = 1; attempt <= action.Retries + 1; attempt++)
        {
            if (attempt > 1)
            {
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
            using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attemptCts.CancelAfter(action.Timeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, action.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                if (action.SecretHeader is { } header) request.Headers.TryAddWithoutValidation(header, action.Secret);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCts.Token).ConfigureAwait(false);
                var code = (int)response.StatusCode;
                if (response.IsSuccessStatusCode) return $"delivered (HTTP {code}) after {attempt} attempt{(attempt == 1 ? "" : "s")}";
                last = $"HTTP {code}";
                if (code < 500 && response.StatusCode is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests))
                    return $"failed: HTTP {code} (not retried) after {attempt} attempt{(attempt == 1 ? "" : "s")}";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"timed out after {action.Timeout.TotalSeconds:0.###} s";
            }
            catch (HttpRequestException e)
            {
                last = e.HttpRequestError.ToString(); // the kind, not the message: it may quote the URL's query
            }
        }
        return $"failed: {last} after {action.Retries + 1} attempt{(action.Retries == 0 ? "" : "s")}";
    }

    private async Task RecordAsync(long incidentId, string status)
    {
        try
        {
            await _store.SetWebhookStatusAsync(incidentId, status, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            AlertLog.RecordFailed(_logger, e, incidentId);
        }
    }

    /// <summary>Lets queued calls finish for up to 5 seconds, then cancels the rest.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);

    /// <summary>Lets queued calls finish for up to <paramref name="grace"/>, then cancels the rest.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _queue.Writer.TryComplete();
        if (await Task.WhenAny(_loop, Task.Delay(grace)).ConfigureAwait(false) != _loop) await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _http.Dispose();
        _stopping.Dispose();
    }
}

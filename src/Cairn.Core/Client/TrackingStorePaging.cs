using System.Runtime.CompilerServices;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>Walks every page of a search or a metric history, following <c>next_page_token</c>.</summary>
public static class TrackingStorePaging
{
    /// <summary>All experiments matching <paramref name="search"/>, page after page.</summary>
    public static async IAsyncEnumerable<Experiment> SearchAllExperimentsAsync(this ITrackingStore store, ExperimentSearch search,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var token = search.PageToken;
        do
        {
            var page = await store.SearchExperimentsAsync(search with { PageToken = token }, cancellationToken).ConfigureAwait(false);
            foreach (var experiment in page.Items) yield return experiment;
            token = page.NextPageToken;
        } while (token is not null);
    }

    /// <summary>All runs matching <paramref name="search"/>, page after page; <see cref="RunSearch.MaxResults"/> is the page size.</summary>
    public static async IAsyncEnumerable<Run> SearchAllRunsAsync(this ITrackingStore store, RunSearch search,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var token = search.PageToken;
        do
        {
            var page = await store.SearchRunsAsync(search with { PageToken = token }, cancellationToken).ConfigureAwait(false);
            foreach (var run in page.Items) yield return run;
            token = page.NextPageToken;
        } while (token is not null);
    }

    /// <summary>Every point of a metric, ordered by step then timestamp, however many pages the store splits it into.</summary>
    public static async Task<IReadOnlyList<Metric>> GetFullMetricHistoryAsync(this ITrackingStore store, string runId, string key,
        CancellationToken cancellationToken = default)
    {
        var all = new List<Metric>();
        string? token = null;
        do
        {
            var page = await store.GetMetricHistoryAsync(runId, key, pageToken: token, cancellationToken: cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Items);
            token = page.NextPageToken;
        } while (token is not null);
        return all;
    }
}

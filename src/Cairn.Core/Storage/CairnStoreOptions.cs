using Cairn.Client;

namespace Cairn.Storage;

/// <summary>How <see cref="CairnStores.OpenAsync"/> opens the stores behind a tracking URI.</summary>
public sealed class CairnStoreOptions
{
    /// <summary>
    /// Where new experiments keep their artifacts when a database is opened (folder, sqlite:///, postgresql://): a folder, an
    /// <c>s3://</c> prefix, or <c>mlflow-artifacts:</c> for a server that proxies them. Default: the <c>artifacts</c> folder next
    /// to the SQLite file, or <c>./.cairn/artifacts</c> for PostgreSQL. Not used over HTTP, where the server decides.
    /// </summary>
    public string? DefaultArtifactRoot { get; set; }

    /// <summary>Retries, timeouts, credentials and the optional HttpClient, for http(s):// tracking URIs.</summary>
    public HttpTrackingStoreOptions Http { get; set; } = new();

    /// <summary>The clock of the timestamps the stores write (creation and update times, default start times).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

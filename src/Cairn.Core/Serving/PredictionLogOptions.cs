namespace Cairn.Serving;

/// <summary>How the prediction log queues, samples, batches and retains scored rows.</summary>
public sealed class PredictionLogOptions
{
    /// <summary>Requests the queue holds before it drops new ones (never blocks, never grows past this).</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>The share of requests logged, 0 to 1; a request is in or out as a whole, decided by its id's hash.</summary>
    public double SampleRate { get; set; } = 1.0;

    /// <summary>The most requests the writer takes into one write.</summary>
    public int MaxRequestsPerWrite { get; set; } = 4_096;

    /// <summary>The most rows the writer takes into one write (a request bigger than this is written alone).</summary>
    public int MaxRowsPerWrite { get; set; } = 200_000;

    /// <summary>Rows older than this are pruned; null keeps them.</summary>
    public TimeSpan? MaxAge { get; set; }

    /// <summary>The rows kept at most (the oldest blocks go first); null for no bound.</summary>
    public long? MaxRows { get; set; }

    /// <summary>How often the writer prunes when <see cref="MaxAge"/> or <see cref="MaxRows"/> is set.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Checks the values, naming the one that is wrong.</summary>
    public void Validate()
    {
        if (QueueCapacity < 1) throw new InvalidParameterValueException($"The prediction log's queue capacity must be at least 1; it was {QueueCapacity}.");
        if (!(SampleRate is >= 0 and <= 1)) throw new InvalidParameterValueException($"The prediction log's sample rate must be between 0 and 1; it was {SampleRate}.");
        if (MaxRequestsPerWrite < 1) throw new InvalidParameterValueException($"The prediction log's max requests per write must be at least 1; it was {MaxRequestsPerWrite}.");
        if (MaxRowsPerWrite < 1) throw new InvalidParameterValueException($"The prediction log's max rows per write must be at least 1; it was {MaxRowsPerWrite}.");
        if (MaxAge is { } age && age <= TimeSpan.Zero) throw new InvalidParameterValueException($"The prediction log's max age must be positive; it was {age}.");
        if (MaxRows is < 0) throw new InvalidParameterValueException($"The prediction log's max rows must be 0 or more; it was {MaxRows}.");
        if (PruneInterval <= TimeSpan.Zero) throw new InvalidParameterValueException($"The prediction log's prune interval must be positive; it was {PruneInterval}.");
    }
}

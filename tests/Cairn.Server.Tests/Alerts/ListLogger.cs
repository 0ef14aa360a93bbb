using Microsoft.Extensions.Logging;

namespace Cairn.Tests.Alerts;

/// <summary>A logger that keeps what it is given, to prove a secret never reaches a log line.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly List<(int EventId, string Message)> _entries = [];

    public IReadOnlyList<(int EventId, string Message)> Entries
    {
        get { lock (_entries) return _entries.ToList(); }
    }

    public string All => string.Join("\n", Entries.Select(e => e.Message));

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        // Structured state too: a secret must not be in any property either.
        var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
        lock (_entries) _entries.Add((eventId.Id, formatter(state, exception) + " " + properties + (exception is null ? "" : " " + exception)));
    }
}

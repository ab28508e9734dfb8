using Microsoft.Extensions.Logging;

namespace ActiveCalls.Service.Tests.Fakes;

public sealed record LogEntry(LogLevel Level, string Message, Exception? Exception);

/// <summary>Keeps every log entry, to assert what the service logged (and that it logged what it did not send).</summary>
public sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly Lock _gate = new();
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get { lock (_gate) return [.. _entries]; }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_gate) _entries.Add(new LogEntry(logLevel, formatter(state, exception), exception));
    }
}

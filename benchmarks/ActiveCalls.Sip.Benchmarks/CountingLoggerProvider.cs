using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.Benchmarks;

/// <summary>Counts the SIP stack's warnings and errors (keeping the first few) without paying for lower levels.</summary>
internal sealed class CountingLoggerProvider : ILoggerProvider
{
    private long _warnings;
    private long _errors;

    public ConcurrentQueue<string> First { get; } = new();

    public long Warnings => Interlocked.Read(ref _warnings);

    public long Errors => Interlocked.Read(ref _errors);

    public ILogger CreateLogger(string categoryName) => new Counter(this);

    public void Dispose()
    {
    }

    private sealed class Counter(CountingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            if (logLevel >= LogLevel.Error) Interlocked.Increment(ref owner._errors);
            else Interlocked.Increment(ref owner._warnings);
            if (owner.First.Count < 10) owner.First.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
    }
}

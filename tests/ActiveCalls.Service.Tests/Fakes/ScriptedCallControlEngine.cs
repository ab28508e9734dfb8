using ActiveCalls.Sip.CallControl;

namespace ActiveCalls.Service.Tests.Fakes;

/// <summary>What the command component asked of the engine.</summary>
public abstract record EngineCall;
public sealed record CreateCall(CallSetup Setup) : EngineCall;
public sealed record TerminateCall(DialogId Dialog) : EngineCall;
public sealed record CancelCall(string CallId, string FromTag) : EngineCall;
public sealed record TransferCall(DialogId Dialog, TransferEndpoint Endpoint, string TargetUri) : EngineCall;

/// <summary>An <see cref="ICallControlEngine"/> that records every call and throws what the test scripted, once each, in order.</summary>
public sealed class ScriptedCallControlEngine : ICallControlEngine
{
    private readonly Lock _gate = new();
    private readonly List<EngineCall> _calls = [];
    private readonly Queue<Exception> _failures = new();

    public IReadOnlyList<EngineCall> Calls
    {
        get { lock (_gate) return [.. _calls]; }
    }

    public EngineCall SingleCall => Assert.Single(Calls);

    /// <summary>The next call fails with <c>new CallControlException(message)</c>.</summary>
    public ScriptedCallControlEngine FailNext(string message) => FailNext(new CallControlException(message));

    /// <summary>The next call throws <paramref name="exception"/> (e.g. an unexpected bug).</summary>
    public ScriptedCallControlEngine FailNext(Exception exception)
    {
        lock (_gate) _failures.Enqueue(exception);
        return this;
    }

    public void Reset()
    {
        lock (_gate)
        {
            _calls.Clear();
            _failures.Clear();
        }
    }

    public Task CreateAsync(CallSetup setup, CancellationToken cancellationToken) => Record(new CreateCall(setup));

    public Task TerminateAsync(DialogId dialog, CancellationToken cancellationToken) => Record(new TerminateCall(dialog));

    public Task CancelAsync(string callId, string fromTag, CancellationToken cancellationToken) => Record(new CancelCall(callId, fromTag));

    public Task TransferAsync(DialogId dialog, TransferEndpoint endpoint, string targetUri, CancellationToken cancellationToken) =>
        Record(new TransferCall(dialog, endpoint, targetUri));

    private Task Record(EngineCall call)
    {
        lock (_gate)
        {
            _calls.Add(call);
            return _failures.TryDequeue(out var failure) ? Task.FromException(failure) : Task.CompletedTask;
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Iq;

/// <summary>
/// Correlates IQ replies with requests. A waiter is registered before the request is written; a reply must match the
/// id and come from an allowed sender; exactly one of reply, timeout, cancellation or stream loss completes it.
/// </summary>
public sealed class IqTracker
{
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public IqTracker(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>Requests waiting for a reply.</summary>
    public int Outstanding => _pending.Count;

    /// <summary>Replies that matched no waiter: late (after a timeout), duplicated, or spoofed.</summary>
    public long UnmatchedReplies => Interlocked.Read(ref _unmatched);
    private long _unmatched;

    /// <summary>An id no peer can guess, so a spoofed reply cannot hit a waiter by luck.</summary>
    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Registers a waiter. <paramref name="acceptFrom"/> decides which <c>from</c> addresses may answer.</summary>
    public IqWaiter Register(string id, Func<Jid?, bool> acceptFrom, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var pending = new Pending(id, acceptFrom, timeout) { Owner = this };
        if (!_pending.TryAdd(id, pending)) throw new InvalidOperationException($"IQ id '{id}' is already pending.");
        pending.Timer = _time.CreateTimer(static state => ((Pending)state!).Owner!.Expire((Pending)state), pending, timeout, Timeout.InfiniteTimeSpan);
        if (cancellationToken.CanBeCanceled)
            pending.Registration = cancellationToken.Register(static (state, token) =>
            {
                var p = (Pending)state!;
                if (p.Owner!.Remove(p)) p.Completion.TrySetCanceled(token);
            }, pending);
        return new IqWaiter(this, pending);
    }

    /// <summary>Offers an inbound <c>result</c>/<c>error</c> IQ. Returns false when nobody was waiting for it.</summary>
    public bool TryComplete(XElement iq)
    {
        if (!TryTake(iq, out var pending)) return false;
        if ((string?)iq.Attribute("type") == "error")
            pending.Completion.TrySetException(new XmppStanzaErrorException(StanzaError.FromStanza(iq), iq));
        else
            pending.Completion.TrySetResult(iq);
        return true;
    }

    /// <summary>Fails the waiter an inbound <c>result</c>/<c>error</c> IQ answers, when the reply itself cannot be used
    /// (<paramref name="iq"/> is what could be read of it: its id and sender). Returns false when nobody was waiting for it.</summary>
    public bool TryFail(XElement iq, Exception error)
    {
        if (!TryTake(iq, out var pending)) return false;
        pending.Completion.TrySetException(error);
        return true;
    }

    /// <summary>Removes the waiter <paramref name="iq"/> answers: same id, and a sender it accepts.</summary>
    private bool TryTake(XElement iq, [NotNullWhen(true)] out Pending? pending)
    {
        pending = null;
        var id = (string?)iq.Attribute("id");
        if (id is null || !_pending.TryGetValue(id, out pending)) return Unmatched();
        if (!Jid.TryParseOptional((string?)iq.Attribute("from"), out var from) || !pending.AcceptFrom(from)) return Unmatched();
        return Remove(pending) || Unmatched();
    }

    /// <summary>Fails every waiter at once, e.g. when the stream is lost and cannot be resumed.</summary>
    public void FailAll(Func<Exception> error)
    {
        foreach (var pending in _pending.Values)
            if (Remove(pending)) pending.Completion.TrySetException(error());
    }

    internal void Fail(Pending pending, Exception error)
    {
        if (Remove(pending)) pending.Completion.TrySetException(error);
    }

    private bool Unmatched()
    {
        Interlocked.Increment(ref _unmatched);
        return false;
    }

    private void Expire(Pending pending)
    {
        if (Remove(pending)) pending.Completion.TrySetException(new XmppIqTimeoutException(pending.Id, pending.Timeout));
    }

    private bool Remove(Pending pending)
    {
        if (!_pending.TryRemove(new KeyValuePair<string, Pending>(pending.Id, pending))) return false;
        pending.Timer?.Dispose();
        pending.Registration.Dispose();
        return true;
    }

    internal sealed class Pending(string id, Func<Jid?, bool> acceptFrom, TimeSpan timeout)
    {
        public string Id { get; } = id;
        public Func<Jid?, bool> AcceptFrom { get; } = acceptFrom;
        public TimeSpan Timeout { get; } = timeout;
        public TaskCompletionSource<XElement> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ITimer? Timer { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
        public IqTracker? Owner { get; set; }
    }
}

/// <summary>The handle of one registered request.</summary>
public readonly struct IqWaiter
{
    private readonly IqTracker _tracker;
    private readonly IqTracker.Pending _pending;

    internal IqWaiter(IqTracker tracker, IqTracker.Pending pending)
    {
        _tracker = tracker;
        _pending = pending;
    }

    public Task<XElement> Reply => _pending.Completion.Task;

    /// <summary>Completes the waiter with an error (for example because the send failed) unless something else won first.</summary>
    public void Fail(Exception error) => _tracker.Fail(_pending, error);
}

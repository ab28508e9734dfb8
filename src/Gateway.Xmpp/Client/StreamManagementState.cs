using System.Xml.Linq;

namespace Gateway.Xmpp.Client;

/// <summary>
/// XEP-0198 bookkeeping for one session: counters modulo 2^32, the FIFO of sent-but-unacknowledged stanzas, the
/// resumption id, and when to answer or ask for an ack. Only <c>iq</c>, <c>message</c> and <c>presence</c> count.
/// Acknowledgements are cumulative.
/// </summary>
/// <remarks>
/// The ack policy keeps acks from dominating a busy stream. Every ack costs the peer a parse, a queue trim and (for
/// Prosody) timer bookkeeping, so: an <c>&lt;r/&gt;</c> from the peer is answered in the writer's next flush, one
/// <c>&lt;a/&gt;</c> for however many requests arrived since the last answer, carrying the count at that moment (§4:
/// "as soon as possible", never withheld); our own <c>&lt;r/&gt;</c> goes out once <see cref="AckRequestWindow"/> stanzas
/// were sent since the last one, at once after a message or presence (an ack is their only delivery confirmation, as in
/// Smack), and when the stream falls idle with stanzas unconfirmed, but never while an earlier request is unanswered:
/// its answer is cumulative and the next request will cover the rest.
/// </remarks>
public sealed class StreamManagementState
{
    /// <summary>Stanzas sent between two of our ack requests. An IQ's reply already proves it arrived; the ack only
    /// trims the re-send queue, so requests can be sparse.</summary>
    public const int AckRequestWindow = 10;

    private readonly Queue<XElement> _unacked = new();
    private readonly object _gate = new();
    private int _sinceLastRequest;
    private bool _requestOutstanding;
    private bool _requestUrgent;
    private bool _ackOwed;
    private long _sent;
    private long _sentAtLastIdleCheck;
    private long _ackRequestsReceived;
    private long _acksSent;
    private long _ackRequestsSent;
    private long _acksReceived;

    public StreamManagementState(string? resumptionId, bool resumable)
        : this(resumptionId, resumable, inbound: 0, acknowledged: 0) { }

    /// <summary>Starts the counters elsewhere than zero (lets tests reach the 2^32 wrap).</summary>
    internal StreamManagementState(string? resumptionId, bool resumable, uint inbound, uint acknowledged)
    {
        ResumptionId = resumptionId;
        Resumable = resumable && resumptionId is not null;
        Inbound = inbound;
        Acknowledged = acknowledged;
    }

    public string? ResumptionId { get; }
    public bool Resumable { get; }

    /// <summary>Stanzas received on this session (the <c>h</c> we report).</summary>
    public uint Inbound { get; private set; }

    /// <summary>Stanzas the peer has acknowledged.</summary>
    public uint Acknowledged { get; private set; }

    /// <summary>Acks whose count was impossible (beyond what was sent); the queue is trusted as far as it goes.</summary>
    public int InconsistentAcks { get; private set; }

    public int UnackedCount { get { lock (_gate) return _unacked.Count; } }

    /// <summary>What acking has cost this session so far (it survives resumption).</summary>
    public StreamManagementStatistics Statistics
    {
        get
        {
            lock (_gate)
                return new StreamManagementStatistics(_ackRequestsReceived, _acksSent, _ackRequestsSent, _acksReceived, _unacked.Count, InconsistentAcks);
        }
    }

    public static bool Counts(XElement element) => element.Name.LocalName is "iq" or "message" or "presence";

    public void OnInboundStanza() { lock (_gate) Inbound = unchecked(Inbound + 1); }

    /// <summary>Records a stanza handed to the socket.</summary>
    public void OnSent(XElement stanza)
    {
        lock (_gate)
        {
            _unacked.Enqueue(stanza);
            _sinceLastRequest++;
            _sent++;
            if (stanza.Name.LocalName != "iq") _requestUrgent = true;
        }
    }

    /// <summary>The peer sent <c>&lt;r/&gt;</c>. True when no answer was owed yet, i.e. the writer must be woken for it;
    /// false when an answer is already on its way (it will carry the newer count too).</summary>
    public bool OnAckRequested()
    {
        lock (_gate)
        {
            _ackRequestsReceived++;
            if (_ackOwed) return false;
            _ackOwed = true;
            return true;
        }
    }

    /// <summary>Called by the writer as it flushes: whether an <c>&lt;a/&gt;</c> is owed and, if so, the <c>h</c> to
    /// send (the count now, which answers every request received so far).</summary>
    public bool TryTakeOwedAck(out uint h)
    {
        lock (_gate)
        {
            h = Inbound;
            if (!_ackOwed) return false;
            _ackOwed = false;
            _acksSent++;
            return true;
        }
    }

    /// <summary>Called by the writer as it flushes: whether to end the write with our own <c>&lt;r/&gt;</c>.</summary>
    public bool TryBeginAckRequest()
    {
        lock (_gate)
        {
            if (_requestOutstanding || _sinceLastRequest == 0) return false;
            if (_sinceLastRequest < AckRequestWindow && !_requestUrgent) return false;
            _requestOutstanding = true;
            _requestUrgent = false;
            _sinceLastRequest = 0;
            _ackRequestsSent++;
            return true;
        }
    }

    /// <summary>Called periodically: true when nothing was sent since the last call while stanzas still wait for an ack
    /// that nobody asked for, so the writer should be woken to ask now.</summary>
    public bool RequestAckIfIdle()
    {
        lock (_gate)
        {
            var idle = _sent == _sentAtLastIdleCheck;
            _sentAtLastIdleCheck = _sent;
            if (!idle || _requestOutstanding || _sinceLastRequest == 0) return false;
            _requestUrgent = true;
            return true;
        }
    }

    /// <summary>Applies <c>&lt;a h='…'/&gt;</c>: drops everything up to <paramref name="h"/>. False when <paramref name="h"/>
    /// acknowledges more than was ever sent (counted in <see cref="InconsistentAcks"/>).</summary>
    public bool OnAck(uint h)
    {
        lock (_gate)
        {
            _acksReceived++;
            _requestOutstanding = false;
            return Trim(h);
        }
    }

    /// <summary>Continues this session on a new socket after <c>&lt;resumed h='…'/&gt;</c>: drops what the server had
    /// handled and returns the rest, to be sent again (each is counted again as it goes out). Requests and answers that
    /// were in flight died with the old socket: the server's <c>h</c> in <c>&lt;resumed/&gt;</c> and ours in
    /// <c>&lt;resume/&gt;</c> replaced them.</summary>
    public IReadOnlyList<XElement> Resume(uint h)
    {
        lock (_gate)
        {
            Trim(h);
            _requestOutstanding = false;
            _requestUrgent = false;
            _ackOwed = false;
            _sinceLastRequest = 0;
            return Drain();
        }
    }

    /// <summary>Takes the unacknowledged stanzas out (to report them as lost), after applying the server's last
    /// <c>h</c> when it told one.</summary>
    public IReadOnlyList<XElement> TakeUnacked(uint? h = null)
    {
        lock (_gate)
        {
            if (h is { } acknowledged) Trim(acknowledged);
            return Drain();
        }
    }

    private bool Trim(uint h)
    {
        var newlyAcked = unchecked(h - Acknowledged);
        var consistent = newlyAcked <= (uint)_unacked.Count;
        if (!consistent)
        {
            InconsistentAcks++;
            newlyAcked = (uint)_unacked.Count;
        }
        for (var i = 0u; i < newlyAcked; i++) _unacked.Dequeue();
        Acknowledged = unchecked(Acknowledged + newlyAcked);
        return consistent;
    }

    private XElement[] Drain()
    {
        var items = _unacked.ToArray();
        _unacked.Clear();
        return items;
    }
}

/// <summary>XEP-0198 traffic of one session: requests received and answered, requests sent and answers received, the
/// stanzas still waiting for an ack, and answers that acknowledged more than was sent.</summary>
public readonly record struct StreamManagementStatistics(
    long AckRequestsReceived,
    long AcksSent,
    long AckRequestsSent,
    long AcksReceived,
    int Unacked,
    int InconsistentAcks);

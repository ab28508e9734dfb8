using System.Xml.Linq;

namespace Gateway.Xmpp.Client;

/// <summary>
/// XEP-0198 bookkeeping for one session: counters modulo 2^32, the FIFO of sent-but-unacknowledged stanzas and the
/// resumption id. Only <c>iq</c>, <c>message</c> and <c>presence</c> count. Acknowledgements are cumulative.
/// </summary>
public sealed class StreamManagementState
{
    private readonly Queue<XElement> _unacked = new();
    private readonly object _gate = new();

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

    /// <summary>Stanzas sent since the last ack request.</summary>
    public int SinceLastRequest { get; private set; }

    /// <summary>Acks whose count was impossible (beyond what was sent); logged, then the queue is trusted as far as it goes.</summary>
    public int InconsistentAcks { get; private set; }

    public int UnackedCount { get { lock (_gate) return _unacked.Count; } }

    public static bool Counts(XElement element) => element.Name.LocalName is "iq" or "message" or "presence";

    public void OnInboundStanza() { lock (_gate) Inbound = unchecked(Inbound + 1); }

    public void OnSent(XElement stanza)
    {
        lock (_gate)
        {
            _unacked.Enqueue(stanza);
            SinceLastRequest++;
        }
    }

    public void OnAckRequested() { lock (_gate) SinceLastRequest = 0; }

    /// <summary>Applies <c>&lt;a h='…'/&gt;</c> (or the <c>h</c> of <c>&lt;resumed/&gt;</c>): drops everything up to <paramref name="h"/>.</summary>
    public void OnAck(uint h)
    {
        lock (_gate)
        {
            var newlyAcked = unchecked(h - Acknowledged);
            if (newlyAcked > (uint)_unacked.Count)
            {
                InconsistentAcks++;
                newlyAcked = (uint)_unacked.Count;
            }
            for (var i = 0u; i < newlyAcked; i++) _unacked.Dequeue();
            Acknowledged = unchecked(Acknowledged + newlyAcked);
        }
    }

    /// <summary>Takes the unacknowledged stanzas out (to re-send them after a resume, or to report them as lost).</summary>
    public IReadOnlyList<XElement> TakeUnacked()
    {
        lock (_gate)
        {
            var items = _unacked.ToArray();
            _unacked.Clear();
            return items;
        }
    }

    /// <summary>The state carried into a resumed stream: same inbound count and id, queue emptied of acked stanzas.</summary>
    public void ContinueAfterResume(uint peerH) => OnAck(peerH);
}

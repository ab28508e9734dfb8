using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Sip.Transactions;

/// <summary>
/// The transaction layer (RFC 3261 §17): creates client transactions, matches responses to them (§17.1.3: top Via
/// branch and CSeq method), matches requests to server transactions (§17.2.3: branch, sent-by and method, ACK
/// matching its INVITE) and passes what no transaction absorbs to the transaction user: new requests, ACKs for
/// 2xx, and responses no transaction wants (2xx retransmissions after the INVITE transaction ended).
/// </summary>
public sealed class SipTransactionLayer
{
    private readonly ConcurrentDictionary<string, ClientTransaction> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ServerTransaction> _servers = new(StringComparer.Ordinal);

    public SipTransactionLayer(SipUdpTransport transport, SipTimerOptions? timers = null, TimeProvider? time = null, ILogger? logger = null)
    {
        Transport = transport;
        Timers = timers ?? new SipTimerOptions();
        Time = time ?? TimeProvider.System;
        Logger = logger ?? NullLogger.Instance;
    }

    public SipUdpTransport Transport { get; }

    public SipTimerOptions Timers { get; }

    public TimeProvider Time { get; }

    internal ILogger Logger { get; }

    /// <summary>The trace each Call-ID's transactions join (<see cref="SipTracing"/>).</summary>
    public SipCallTraces Traces { get; } = new();

    /// <summary>Transactions not terminated yet (client and server).</summary>
    public int ActiveCount => _clients.Count + _servers.Count;

    /// <summary>A new request (not an ACK) created this server transaction; answer it with <see cref="ServerTransaction.SendResponse"/>.</summary>
    public Action<ServerTransaction>? RequestReceived { get; set; }

    /// <summary>An ACK that matched no server transaction (the ACK of a 2xx).</summary>
    public Action<SipRequest, IPEndPoint>? AckReceived { get; set; }

    /// <summary>A response no client transaction matched (e.g. a retransmitted or forked 2xx to an INVITE).</summary>
    public Action<SipResponse, IPEndPoint>? StrayResponse { get; set; }

    /// <summary>A new RFC 3261 branch (<c>z9hG4bK</c> + 64 random bits).</summary>
    public static string NewBranch() => ViaHeader.MagicCookie + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>
    /// Sends <paramref name="request"/> (complete, its top Via carrying a fresh branch) in a new client transaction.
    /// INVITE gets the INVITE machine, anything but ACK the non-INVITE one.
    /// </summary>
    public ClientTransaction SendRequest(SipRequest request, IPEndPoint destination, Action<ClientTransaction, SipResponse> onResponse)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Method == SipMethods.Ack) throw new ArgumentException("An ACK is not sent in a transaction; use SendStateless.", nameof(request));
        var branch = request.TopVia.Branch ?? throw new ArgumentException("The top Via has no branch.", nameof(request));
        var key = ClientKey(branch, request.CSeq.Method);
        ClientTransaction tx = request.Method == SipMethods.Invite
            ? new InviteClientTransaction(this, key, request, destination, onResponse)
            : new NonInviteClientTransaction(this, key, request, destination, onResponse);
        if (!_clients.TryAdd(key, tx)) throw new InvalidOperationException($"A client transaction with branch {branch} exists.");
        tx.StartSpan(ActivityKind.Client, Traces.ParentFor(request.CallId));
        tx.Start();
        return tx;
    }

    /// <summary>Sends outside any transaction (the ACK of a 2xx, a UAS's 2xx retransmissions). Transport errors are logged.</summary>
    public bool SendStateless(SipMessage message, IPEndPoint destination)
    {
        try
        {
            Transport.Send(message, destination);
            return true;
        }
        catch (SipTransportException e)
        {
            Logger.LogWarning("Sending to {Destination} failed: {Error}", destination, e.Message);
            return false;
        }
    }

    /// <summary>The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2), if it still exists.</summary>
    public InviteServerTransaction? FindInviteFor(SipRequest cancel)
    {
        ArgumentNullException.ThrowIfNull(cancel);
        return _servers.TryGetValue(ServerKey(cancel, SipMethods.Invite), out var tx) ? tx as InviteServerTransaction : null;
    }

    /// <summary>Entry point for everything the transport receives (runs on the receive loop).</summary>
    public void OnMessage(SipMessage message, IPEndPoint source)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message is SipResponse response)
        {
            var branch = response.TopVia.Branch;
            if (branch is not null && _clients.TryGetValue(ClientKey(branch, response.CSeq.Method), out var client))
                client.OnResponse(response);
            else
                StrayResponse?.Invoke(response, source);
            return;
        }

        var request = (SipRequest)message;
        var key = ServerKey(request, request.Method == SipMethods.Ack ? SipMethods.Invite : request.Method);
        if (_servers.TryGetValue(key, out var existing))
        {
            existing.OnRetransmission(request);
            return;
        }
        if (request.Method == SipMethods.Ack)
        {
            AckReceived?.Invoke(request, source);
            return;
        }

        var destination = ResponseDestination(request.TopVia, source);
        ServerTransaction tx = request.Method == SipMethods.Invite
            ? new InviteServerTransaction(this, key, request, destination)
            : new NonInviteServerTransaction(this, key, request, destination);
        if (!_servers.TryAdd(key, tx))
        {
            _servers[key].OnRetransmission(request);
            return;
        }
        tx.StartSpan(ActivityKind.Server, Traces.ParentFor(request.CallId));
        if (tx is InviteServerTransaction invite) invite.SendTrying();
        if (RequestReceived is { } handler)
        {
            try
            {
                handler(tx);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Logger.LogError(e, "The request handler failed for {Method} {Key}", request.Method, key);
                tx.SendResponse(request.CreateResponse(500, toTag: "err"));
            }
        }
        else
        {
            tx.SendResponse(request.CreateResponse(503, toTag: "none"));
        }
    }

    /// <summary>Where the responses to a request go: received/rport, else sent-by (RFC 3261 §18.2.2, RFC 3581).
    /// A sent-by host name is not looked up; the source address is used instead.</summary>
    internal static IPEndPoint ResponseDestination(ViaHeader via, IPEndPoint source)
    {
        var host = via.Received ?? via.Host;
        int port = via.Rport ?? via.Port ?? SipResolver.DefaultPort;
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, port) : new IPEndPoint(source.Address, port);
    }

    internal void Remove(Transaction tx)
    {
        if (tx is ClientTransaction) _clients.TryRemove(new KeyValuePair<string, ClientTransaction>(tx.Key, (ClientTransaction)tx));
        else _servers.TryRemove(new KeyValuePair<string, ServerTransaction>(tx.Key, (ServerTransaction)tx));
    }

    /// <summary>Terminates every transaction (shutdown).</summary>
    public void AbortAll()
    {
        foreach (var tx in _clients.Values) tx.Abort();
        foreach (var tx in _servers.Values) tx.Abort();
    }

    private static string ClientKey(string branch, string method) => branch + "|" + method;

    private static string ServerKey(SipRequest request, string method)
    {
        var via = request.TopVia;
        if (via.HasRfc3261Branch) return $"{via.Branch}|{via.SentBy}|{method}";
        // RFC 2543 peers: no usable branch, match on the dialog-ish identifiers (§17.2.3, simplified).
        return $"2543|{request.CallId}|{request.From.Tag}|{request.CSeq.Number}|{via.SentBy}|{via.Branch}|{method}";
    }
}

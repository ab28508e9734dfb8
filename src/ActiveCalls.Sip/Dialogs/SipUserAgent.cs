using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using ActiveCalls.Sip.Messages;
using ActiveCalls.Sip.Transactions;
using ActiveCalls.Sip.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Sip.Dialogs;

/// <summary>
/// The UA core (RFC 3261 §8, §12–§15) over one UDP transport: sends INVITEs and in-dialog requests, keeps the
/// dialogs, and answers what arrives — BYE/OPTIONS/INFO/re-INVITE inside a dialog, CANCEL, OPTIONS outside one, and
/// refuses unsolicited INVITEs (a third-party call controller takes no calls).
/// </summary>
public sealed class SipUserAgent : IAsyncDisposable
{
    /// <summary>The methods this UA handles, for Allow headers.</summary>
    public const string AllowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

    /// <summary>Session timers running (RFC 4028), one per dialog at most; 0 once every dialog ended.</summary>
    internal int SessionTimersRunning;

    private readonly ConcurrentDictionary<string, SipDialog> _dialogs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OutgoingInvite> _invites = new(StringComparer.Ordinal);

    public SipUserAgent(SipOptions options, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { Count: > 0 } problems) throw new ArgumentException(string.Join(" ", problems), nameof(options));
        Options = options;
        loggers ??= NullLoggerFactory.Instance;
        Logger = loggers.CreateLogger("ActiveCalls.Sip.UserAgent");
        Transport = new SipUdpTransport(options.TransportOptions, loggers.CreateLogger("ActiveCalls.Sip.Transport"));
        Transactions = new SipTransactionLayer(Transport, options.TimerOptions, time ?? TimeProvider.System, loggers.CreateLogger("ActiveCalls.Sip.Transactions"))
        {
            RequestReceived = OnRequest,
            AckReceived = OnAck,
            StrayResponse = OnStrayResponse,
        };
        Router = new SipRouter(options);
        ContactHeader = $"<sip:{SipSyntax.Escape(options.CallSetupUser, SipSyntax.IsUserChar)}@{Transport.AdvertisedHost}:{Transport.AdvertisedPort.ToString(CultureInfo.InvariantCulture)}>";
    }

    public SipOptions Options { get; }

    public SipUdpTransport Transport { get; }

    public SipTransactionLayer Transactions { get; }

    public SipRouter Router { get; }

    internal ILogger Logger { get; }

    /// <summary>Our Contact, <c>&lt;sip:call-setup@host:port&gt;</c>.</summary>
    public string ContactHeader { get; }

    public IPEndPoint LocalEndPoint => Transport.LocalEndPoint;

    /// <summary>Dialogs not terminated yet.</summary>
    public int DialogCount => _dialogs.Count;

    /// <summary>INVITEs still waiting for a final response, or still inside their fork window after a 2xx.</summary>
    public int InviteCount => _invites.Count;

    /// <summary>Dialogs whose RFC 4028 session timer is scheduled (for tests and health checks).</summary>
    public int SessionTimerCount => Volatile.Read(ref SessionTimersRunning);

    /// <summary>Transactions not terminated yet.</summary>
    public int TransactionCount => Transactions.ActiveCount;

    public void Start() => Transport.Start(Transactions.OnMessage);

    /// <summary>Sends an INVITE. Failures after this point (timeouts, error responses) reach the observer.</summary>
    /// <exception cref="SipTransportException">the next hop's name cannot be resolved.</exception>
    public async Task<OutgoingInvite> InviteAsync(InviteParameters parameters, IInviteObserver observer, CancellationToken cancellationToken = default)
    {
        var invite = new OutgoingInvite(this, parameters, observer);
        _invites[invite.Key] = invite;
        try
        {
            await invite.StartAsync(cancellationToken);
        }
        catch
        {
            _invites.TryRemove(invite.Key, out _);
            throw;
        }
        return invite;
    }

    internal static string NewTag() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));

    internal static string NewCallId(string host) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) + "@" + host;

    internal string NewVia() => $"SIP/2.0/UDP {Transport.AdvertisedHost}:{Transport.AdvertisedPort.ToString(CultureInfo.InvariantCulture)};branch={SipTransactionLayer.NewBranch()};rport";

    internal static string DialogKey(string callId, string localTag, string remoteTag) => $"{callId}|{localTag}|{remoteTag}";

    internal static string InviteKey(string callId, string localTag) => $"{callId}|{localTag}";

    internal SipResponse WithAllow(SipResponse response)
    {
        response.Headers.Set("Allow", AllowedMethods);
        response.Headers.Set("User-Agent", Options.UserAgent);
        return response;
    }

    /// <summary>The first Route's address if there is one, else the Request-URI's (maddr honoured).</summary>
    internal static Task<IPEndPoint> NextHopAsync(SipRequest request, CancellationToken cancellationToken)
    {
        var routes = request.Routes;
        var uri = routes.Count > 0 ? routes[0].Uri : request.RequestUri;
        return SipResolver.ResolveAsync(uri.Parameters["maddr"] ?? uri.Host, uri.Port, cancellationToken);
    }

    internal void Register(SipDialog dialog) => _dialogs[dialog.Key] = dialog;

    internal void Forget(SipDialog dialog) => _dialogs.TryRemove(new KeyValuePair<string, SipDialog>(dialog.Key, dialog));

    internal void Forget(OutgoingInvite invite) => _invites.TryRemove(new KeyValuePair<string, OutgoingInvite>(invite.Key, invite));

    /// <summary>Keeps an answered INVITE for 64·T1 so later 2xx from other branches are recognised.</summary>
    internal void KeepForForks(OutgoingInvite invite)
    {
        ITimer? timer = null;
        timer = Transactions.Time.CreateTimer(_ =>
        {
            Forget(invite);
            timer?.Dispose();
        }, null, Transactions.Timers.TransactionTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Sends a request in <paramref name="dialog"/> and returns its final response, answering one 401/407
    /// with the configured credentials.</summary>
    internal async Task<SipResponse> SendInDialogAsync(SipDialog dialog, string method, byte[]? body, string? contentType, CancellationToken cancellationToken)
    {
        var request = dialog.NewRequest(method);
        request.SetBody(body, contentType);
        for (int attempt = 0; ; attempt++)
        {
            var destination = await NextHopAsync(request, cancellationToken);
            var tx = Transactions.SendRequest(request, destination, static (_, _) => { });
            var final = await tx.FinalResponse.WaitAsync(cancellationToken);
            if (final.StatusCode is not (401 or 407) || attempt >= 1) return final;
            var challenge = DigestAuthentication.SelectChallenge(final);
            var credentials = challenge is null ? null : Router.CredentialsFor(dialog.TargetDomain, challenge.Realm);
            if (challenge is null || credentials is null) return final;
            var retry = dialog.NewRequest(method);
            retry.SetBody(body, contentType);
            retry.Headers.Add(DigestAuthentication.AnswerHeaderFor(final.StatusCode), DigestAuthentication.CreateAuthorization(
                challenge, method, retry.RequestUri.ToString(), credentials.Value.Username, credentials.Value.Password, 1));
            request = retry;
        }
    }

    private void OnRequest(ServerTransaction tx)
    {
        var request = tx.Request;
        if (!request.RequestUri.IsSip)
        {
            tx.SendResponse(request.CreateResponse(416, toTag: NewTag()));
            return;
        }

        if (request.Method == SipMethods.Cancel)
        {
            var invite = Transactions.FindInviteFor(request);
            if (invite is null || invite.IsAnswered)
            {
                tx.SendResponse(request.CreateResponse(481, toTag: NewTag()));
                return;
            }
            var tag = request.To.Tag ?? NewTag();
            tx.SendResponse(request.CreateResponse(200, toTag: tag));
            invite.SendResponse(invite.Request.CreateResponse(487, toTag: tag));
            return;
        }

        var required = request.Headers.GetValues("Require")
            .Where(tag => !(Options.SessionTimers.Enabled && tag.Trim().Equals("timer", StringComparison.OrdinalIgnoreCase))).ToList();
        if (required.Count > 0 && request.Method != SipMethods.Ack)
        {
            var response = request.CreateResponse(420, toTag: NewTag());
            response.Headers.Add("Unsupported", string.Join(", ", required));
            tx.SendResponse(response);
            return;
        }

        var toTag = request.To.Tag;
        if (toTag is not null)
        {
            if (_dialogs.TryGetValue(DialogKey(request.CallId, toTag, request.From.Tag ?? ""), out var dialog))
                dialog.OnRequest(tx);
            else
                tx.SendResponse(request.CreateResponse(481));
            return;
        }

        switch (request.Method)
        {
            case SipMethods.Options:
                var ok = WithAllow(request.CreateResponse(200, toTag: NewTag()));
                ok.Headers.Add("Accept", Sdp.ContentType);
                tx.SendResponse(ok);
                break;
            case SipMethods.Invite:
                var status = Options.UnsolicitedInviteStatus is >= 400 and <= 699 ? Options.UnsolicitedInviteStatus : 403;
                Logger.LogInformation("Refused an unsolicited INVITE from {From} ({CallId}) with {Status}", request.Headers["From"], request.CallId, status);
                tx.SendResponse(request.CreateResponse(status, status == 403 ? "Forbidden (call control only)" : null, NewTag()));
                break;
            case SipMethods.Bye:
                tx.SendResponse(request.CreateResponse(481, toTag: NewTag()));
                break;
            default:
                tx.SendResponse(WithAllow(request.CreateResponse(405, toTag: NewTag())));
                break;
        }
    }

    private void OnAck(SipRequest ack, IPEndPoint source)
    {
        if (ack.To.Tag is { } tag && _dialogs.TryGetValue(DialogKey(ack.CallId, tag, ack.From.Tag ?? ""), out var dialog))
            dialog.OnAck(ack);
    }

    private void OnStrayResponse(SipResponse response, IPEndPoint source)
    {
        if (!response.IsSuccess || response.CSeq.Method != SipMethods.Invite) return;
        var localTag = response.From.Tag ?? "";
        var remoteTag = response.To.Tag ?? "";
        if (_dialogs.TryGetValue(DialogKey(response.CallId, localTag, remoteTag), out var dialog))
        {
            _ = dialog.OnRetransmitted2xxAsync(response);
            return;
        }
        if (_invites.TryGetValue(InviteKey(response.CallId, localTag), out var invite) && invite.Dialog is { } first && first.RemoteTag != remoteTag)
        {
            Logger.LogInformation("A second 2xx for {CallId} from another branch ({Tag}): ACK and BYE", response.CallId, remoteTag);
            _ = invite.OnForked2xxAsync(response);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dialog in _dialogs.Values) dialog.StopTimers();
        Transactions.AbortAll();
        await Transport.DisposeAsync();
    }
}

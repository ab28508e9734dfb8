using System.Globalization;
using System.Security.Cryptography;
using System.Xml.Linq;
using ActiveCalls.Service.Hosting;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Iq;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActiveCalls.Service.Auth;

/// <summary>
/// <c>commands.auth.&lt;domain&gt;</c>: the XEP-0050 <c>authorize-plain</c> command of OnSIP's Auth component. A JID
/// proves it may act for a SIP address (or for every address of that address's owner, <c>auth-for-all</c>) with the
/// address's password, and is authorised in the <see cref="IAuthorizationStore"/> until now + the configured lifetime.
/// </summary>
/// <remarks>
/// Single-stage: a command carrying a submit form is executed at once; a command without a form answers the form
/// (status <c>executing</c>) and the next submission with or without that <c>sessionid</c> is executed the same way.
/// Sessions are not tracked: the command has one stage and nothing to resume, so any <c>sessionid</c> is accepted.
/// Results and errors are shaped exactly as OnSIP's (reference §3.2/§3.3), errors echoing the submitted command.
/// Passwords are never logged.
/// </remarks>
public sealed class AuthComponent
{
    public const string AuthorizeNode = "authorize-plain";
    public const string AuthenticationFailedText = "Execution Errors; base Authentication failed - invalid username or password.; missing response";
    private const string ExpiresFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";
    private static readonly XNamespace TimeNs = "urn:xmpp:time";

    private readonly UserDirectory _users;
    private readonly IAuthorizationStore _store;
    private readonly ActiveCallsServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public AuthComponent(UserDirectory users, IAuthorizationStore store, ActiveCallsServiceOptions options,
        TimeProvider? timeProvider = null, ILogger<AuthComponent>? logger = null)
    {
        _users = users ?? throw new ArgumentNullException(nameof(users));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The component's address, <c>commands.auth.&lt;domain&gt;</c>.</summary>
    public Jid Jid => _options.AuthJid;

    /// <summary>Serves the command, disco#info, disco#items and XEP-0202 entity time on <paramref name="router"/> (the
    /// component's stream) until disposed.</summary>
    public IDisposable Attach(IIqRequestRouter router)
    {
        ArgumentNullException.ThrowIfNull(router);
        var registrations = new List<IDisposable>
        {
            router.RegisterIqHandler(IqType.Set, Ns.Commands + "command", HandleCommandAsync),
            router.RegisterIqHandler(IqType.Get, Ns.DiscoInfo + "query", HandleDiscoInfoAsync),
            router.RegisterIqHandler(IqType.Get, Ns.DiscoItems + "query", HandleDiscoItemsAsync),
            router.RegisterIqHandler(IqType.Get, TimeNs + "time", HandleTimeAsync),
        };
        return new Registrations(registrations);
    }

    /// <summary>Handles <c>&lt;iq type='set'&gt;&lt;command xmlns='http://jabber.org/protocol/commands'/&gt;</c>.</summary>
    public Task<IqResponse> HandleCommandAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(HandleCommand(request));
    }

    private IqResponse HandleCommand(IqRequest request)
    {
        var command = request.Payload;
        var node = (string?)command.Attribute("node");
        if (node != AuthorizeNode)
            return IqResponse.Failure(StanzaError.ItemNotFound($"No command '{node}' here; this component offers '{AuthorizeNode}'."));
        var sessionId = (string?)command.Attribute("sessionid") is { Length: > 0 } given ? given : NewSessionId();
        var echo = new XElement(command);
        echo.SetAttributeValue("sessionid", sessionId);

        switch ((string?)command.Attribute("action"))
        {
            case null or "execute" or "complete":
                break;
            case "cancel":
                return IqResponse.Result(Command(sessionId, "canceled"));
            case "prev" or "next":
                return IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "bad-request",
                    "Execution Errors; authorize-plain has a single stage", Ns.Commands + "bad-action", 400), echo);
            default:
                return IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "bad-request", null, Ns.Commands + "malformed-action", 400), echo);
        }

        if (command.Element(Ns.DataForms + "x") is not { } x)
            return IqResponse.Result(Command(sessionId, "executing",
                new XElement(Ns.Commands + "actions", new XAttribute("execute", "complete"), new XElement(Ns.Commands + "complete")),
                RequestForm().ToXml()));

        DataForm form;
        try { form = DataForm.Parse(x); }
        catch (XmppProtocolException e) { return ValidationFailure(echo, [$"The form cannot be read: {e.Message}"]); }
        if (form.Type == DataFormType.Cancel) return IqResponse.Result(Command(sessionId, "canceled"));
        if (form.Type != DataFormType.Submit) return ValidationFailure(echo, [$"The form must be of type 'submit', not '{form.Type.ToWireName()}'"]);

        var problems = new List<string>();
        var sipAddressText = form.GetValue("sip-address")?.Trim();
        string? sipAddress = null;
        if (string.IsNullOrEmpty(sipAddressText)) problems.Add("Field 'sip-address' is required");
        else if (!UserDirectory.TryNormalizeAddress(sipAddressText, allowSipPrefix: true, out sipAddress))
            problems.Add($"Field 'sip-address' is in an invalid format with value: {sipAddressText}");

        var password = form.GetValue("password");
        if (string.IsNullOrEmpty(password)) problems.Add("Field 'password' is required");

        var jidText = form.GetValue("jid")?.Trim();
        Jid? jid = request.From;
        if (!string.IsNullOrEmpty(jidText) && !Jid.TryParse(jidText, out jid))
            problems.Add($"Field 'jid' is in an invalid format with value: {jidText}");
        else if (jid is null)
            problems.Add("Field 'jid' is required when the request has no sender");

        var authForAllText = form.GetValue("auth-for-all")?.Trim();
        var authForAll = false;
        if (!string.IsNullOrEmpty(authForAllText) && !TryParseBoolean(authForAllText, out authForAll))
            problems.Add($"Field 'auth-for-all' is in an invalid format with value: {authForAllText}");

        if (problems.Count > 0) return ValidationFailure(echo, problems);

        if (!_users.TryAuthenticate(sipAddress, password, out var user))
        {
            _logger.LogWarning("authorize-plain for {Address} from {From} refused: invalid username or password", sipAddress, request.From);
            return IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "bad-request", AuthenticationFailedText, Ns.Commands + "bad-action", 400), echo);
        }

        var bare = jid!.Bare;
        IReadOnlyList<string> addresses = authForAll
            ? [user.Address, .. _users.AddressesOwnedBy(user.Owner).Where(a => a != user.Address)]
            : [user.Address];
        var now = _time.GetUtcNow();
        var exact = now + _options.AuthorizationLifetime;
        // What the result says is what is stored: whole seconds, as OnSIP writes them.
        var expires = new DateTimeOffset(exact.UtcTicks - exact.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        _store.Authorize(bare, addresses, expires);

        var expiresText = expires.UtcDateTime.ToString(ExpiresFormat, CultureInfo.InvariantCulture);
        var result = DataForm.Create(DataFormType.Result).Add("expires", expiresText, FormFieldType.Fixed);
        foreach (var address in addresses) result = result.Add("sip", address, FormFieldType.Fixed);
        return IqResponse.Result(Command(sessionId, "completed",
            new XElement(Ns.Commands + "note", new XAttribute("type", "info"),
                $"JID '{bare}' has been authorized to access resources for SIP Address(es) '{string.Join(",", addresses)}' until {expiresText}"),
            result.Build().ToXml()));
    }

    /// <summary>The form an empty <c>authorize-plain</c> command answers.</summary>
    public static DataForm RequestForm() =>
        DataForm.Create(DataFormType.Form)
            .WithTitle("Authorize")
            .WithInstructions("Authorize a JID to act for a SIP address (or every address of its owner) with the address's password.")
            .Add(new FormField("sip-address", FormFieldType.TextSingle) { Label = "SIP Address", Required = true })
            .Add(new FormField("password", FormFieldType.TextPrivate) { Label = "Password", Required = true })
            .Add(new FormField("jid", FormFieldType.Hidden) { Label = "JID to authorize (defaults to the sender)" })
            .Add(new FormField("auth-for-all", FormFieldType.Boolean, ["false"]) { Label = "Authorize every SIP address of the owner" })
            .Build();

    public Task<IqResponse> HandleDiscoInfoAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoInfo + "query", node is null ? null : new XAttribute("node", node));
        switch (node)
        {
            case null:
                query.Add(Identity("component", "generic", "Active-Calls Auth"),
                    Features(Ns.DiscoInfo.NamespaceName, Ns.DiscoItems.NamespaceName, Ns.Commands.NamespaceName,
                        Ns.DataForms.NamespaceName, TimeNs.NamespaceName, Ns.Ping.NamespaceName));
                break;
            case var n when n == Ns.Commands.NamespaceName:
                query.Add(Identity("automation", "command-list", "Commands"), Features(Ns.Commands.NamespaceName));
                break;
            case AuthorizeNode:
                query.Add(Identity("automation", "command-node", "Authorize"), Features(Ns.Commands.NamespaceName, Ns.DataForms.NamespaceName));
                break;
            default:
                return Task.FromResult(IqResponse.Failure(StanzaError.ItemNotFound()));
        }
        return Task.FromResult(IqResponse.Result(query));
    }

    public Task<IqResponse> HandleDiscoItemsAsync(IqRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var node = (string?)request.Payload.Attribute("node");
        var query = new XElement(Ns.DiscoItems + "query", node is null ? null : new XAttribute("node", node));
        if (node is null || node == Ns.Commands.NamespaceName)
            query.Add(new XElement(Ns.DiscoItems + "item", new XAttribute("jid", Jid), new XAttribute("node", AuthorizeNode), new XAttribute("name", "Authorize")));
        else if (node != AuthorizeNode)
            return Task.FromResult(IqResponse.Failure(StanzaError.ItemNotFound()));
        return Task.FromResult(IqResponse.Result(query));
    }

    /// <summary>XEP-0202: OXJS asks the Auth component for its clock to interpret the <c>expires</c> it was given.</summary>
    public Task<IqResponse> HandleTimeAsync(IqRequest request, CancellationToken cancellationToken = default) =>
        Task.FromResult(IqResponse.Result(new XElement(TimeNs + "time",
            new XElement(TimeNs + "tzo", "+00:00"),
            new XElement(TimeNs + "utc", _time.GetUtcNow().UtcDateTime.ToString(ExpiresFormat, CultureInfo.InvariantCulture)))));

    private static XElement Command(string sessionId, string status, params object[] content) =>
        new(Ns.Commands + "command",
            new XAttribute("status", status),
            new XAttribute("node", AuthorizeNode),
            new XAttribute("sessionid", sessionId),
            content);

    private static IqResponse ValidationFailure(XElement echo, IReadOnlyList<string> problems) =>
        IqResponse.Failure(new StanzaError(StanzaErrorType.Modify, "bad-request",
            "Validation Errors; " + string.Join("; ", problems), Ns.Commands + "bad-payload", 400), echo);

    /// <summary>XEP-0004 booleans, leniently: <c>true</c>/<c>false</c> in any case, <c>1</c>/<c>0</c>.</summary>
    internal static bool TryParseBoolean(string text, out bool value)
    {
        if (text is "1" || text.Equals("true", StringComparison.OrdinalIgnoreCase)) { value = true; return true; }
        if (text is "0" || text.Equals("false", StringComparison.OrdinalIgnoreCase)) { value = false; return true; }
        value = false;
        return false;
    }

    private static string NewSessionId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static XElement Identity(string category, string type, string name) =>
        new(Ns.DiscoInfo + "identity", new XAttribute("category", category), new XAttribute("type", type), new XAttribute("name", name));

    private static IEnumerable<XElement> Features(params string[] features) =>
        features.Select(f => new XElement(Ns.DiscoInfo + "feature", new XAttribute("var", f)));

    private sealed class Registrations(List<IDisposable> registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations) registration.Dispose();
            registrations.Clear();
        }
    }
}

using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.ActiveCalls;

/// <summary>
/// Node names of the active-calls PubSub tree: the JID-level collection <c>/me/&lt;bare-jid&gt;</c> (every SIP address
/// the JID is authorized for) and the leaf per SIP address <c>/&lt;sip-domain&gt;/&lt;sip-user&gt;</c> where items are published.
/// </summary>
public static class ActiveCallsNodes
{
    /// <summary>The active-calls PubSub service.</summary>
    public static readonly Jid DefaultService = new(null, "pubsub.active-calls.xmpp.onsip.com");

    private const string MePrefix = "/me/";
    private static readonly SearchValues<char> NotInSegment = SearchValues.Create("/@;?# \t\r\n");

    /// <summary><c>/me/&lt;bare-jid&gt;</c>; a resource, if any, is dropped.</summary>
    public static string ForJid(Jid jid)
    {
        ArgumentNullException.ThrowIfNull(jid);
        return MePrefix + jid.Bare;
    }

    /// <summary><c>/&lt;domain&gt;/&lt;user&gt;</c> for <c>user@domain</c> (a leading <c>sip:</c> is accepted and dropped;
    /// the domain is lower-cased, the user part kept as given).</summary>
    /// <exception cref="FormatException">not a plain <c>user@domain</c> address.</exception>
    public static string ForSipAddress(string sipAddress)
    {
        ArgumentNullException.ThrowIfNull(sipAddress);
        var address = sipAddress.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? sipAddress[4..] : sipAddress;
        var at = address.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == address.Length - 1) throw new FormatException($"'{sipAddress}' is not a user@domain SIP address.");
        var user = address[..at];
        var domain = address[(at + 1)..].ToLowerInvariant();
        if (!IsSegment(user) || !IsSegment(domain) || domain == "me")
            throw new FormatException($"'{sipAddress}' is not a user@domain SIP address.");
        return "/" + domain + "/" + user;
    }

    /// <summary>Reads the bare JID back from a <c>/me/&lt;bare-jid&gt;</c> node (deeper <c>/me/jid/domain</c> nodes do not match).</summary>
    public static bool TryParseJid(string? node, [NotNullWhen(true)] out Jid? bareJid)
    {
        bareJid = null;
        if (node is null || !node.StartsWith(MePrefix, StringComparison.Ordinal)) return false;
        var rest = node[MePrefix.Length..];
        if (rest.Contains('/', StringComparison.Ordinal) || !Jid.TryParse(rest, out var jid) || jid is null) return false;
        bareJid = jid;
        return true;
    }

    /// <summary>Reads <c>user@domain</c> back from a <c>/&lt;domain&gt;/&lt;user&gt;</c> leaf node.</summary>
    public static bool TryParseSipAddress(string? node, [NotNullWhen(true)] out string? sipAddress)
    {
        sipAddress = null;
        if (node is null || node.Length < 4 || node[0] != '/') return false;
        var slash = node.IndexOf('/', 1);
        if (slash < 0) return false;
        var domain = node[1..slash];
        var user = node[(slash + 1)..];
        if (domain == "me" || !IsSegment(domain) || !IsSegment(user)) return false;
        sipAddress = user + "@" + domain;
        return true;
    }

    private static bool IsSegment(string value) =>
        value.Length > 0 && value.AsSpan().IndexOfAny(NotInSegment) < 0;
}

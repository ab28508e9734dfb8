using System.Diagnostics.CodeAnalysis;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.PubSub;

/// <summary>A PubSub service and (optionally) a node on it, as carried by an XEP-0147 URI such as
/// <c>xmpp:pubsub.example.com?;node=princely_musings</c>.</summary>
public sealed record PubSubAddress(Jid Service, string? Node)
{
    /// <summary>
    /// Parses <c>xmpp:[//authority/]jid[?querytype][;key=value]*[#fragment]</c> (RFC 5122, XEP-0147): the JID and the
    /// <c>node</c> key are percent-decoded; other keys and the query type are ignored.
    /// </summary>
    public static bool TryParseXmppUri(string? uri, [NotNullWhen(true)] out PubSubAddress? address)
    {
        address = null;
        if (uri is null) return false;
        var text = uri.Trim();
        if (!text.StartsWith("xmpp:", StringComparison.OrdinalIgnoreCase)) return false;
        var rest = text.AsSpan(5);

        var hash = rest.IndexOf('#');
        if (hash >= 0) rest = rest[..hash];
        if (rest.StartsWith("//"))
        {
            // xmpp://auth@host/target: the authority names who acts, the path is the target.
            var slash = rest[2..].IndexOf('/');
            if (slash < 0) return false;
            rest = rest[(slash + 3)..];
        }

        var question = rest.IndexOf('?');
        var path = question >= 0 ? rest[..question] : rest;
        if (!Jid.TryParse(Uri.UnescapeDataString(path.ToString()), out var service) || service is null) return false;

        string? node = null;
        if (question >= 0)
        {
            foreach (var part in rest[(question + 1)..].ToString().Split(';'))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) continue; // the query type ("" or "pubsub") or a malformed pair
                if (part.AsSpan(0, eq).Equals("node", StringComparison.Ordinal))
                    node = Uri.UnescapeDataString(part[(eq + 1)..]);
            }
        }
        address = new PubSubAddress(service, string.IsNullOrEmpty(node) ? null : node);
        return true;
    }

    /// <summary>Formats the address as <c>xmpp:service?;node=…</c>, percent-encoding what a URI cannot carry raw.</summary>
    public string ToXmppUri() =>
        "xmpp:" + Escape(Service.ToString()) + (Node is null ? "" : "?;node=" + Escape(Node));

    public override string ToString() => ToXmppUri();

    // Keeps '/', '@', ':' and '!' readable: they are legal in an RFC 3986 path/query and OnSIP's node names are full of them.
    private static string Escape(string value) =>
        Uri.EscapeDataString(value)
            .Replace("%2F", "/", StringComparison.Ordinal)
            .Replace("%40", "@", StringComparison.Ordinal)
            .Replace("%3A", ":", StringComparison.Ordinal)
            .Replace("%21", "!", StringComparison.Ordinal);
}

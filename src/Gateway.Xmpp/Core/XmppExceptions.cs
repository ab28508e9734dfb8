using System.Xml.Linq;

namespace Gateway.Xmpp.Core;

/// <summary>Base of every failure this library reports.</summary>
public class XmppException : Exception
{
    public XmppException(string message) : base(message) { }
    public XmppException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>The peer answered an IQ with <c>type="error"</c>. The full stanza is kept (OnSIP echoes the command in it).</summary>
public sealed class XmppStanzaErrorException(StanzaError error, XElement stanza)
    : XmppException($"Stanza error {error}")
{
    public StanzaError Error { get; } = error;
    public XElement Stanza { get; } = stanza;
}

/// <summary>No reply to an IQ arrived in time. The request may or may not have been executed by the peer.</summary>
public sealed class XmppIqTimeoutException(string id, TimeSpan timeout)
    : XmppException($"No reply to IQ '{id}' within {timeout.TotalMilliseconds:0} ms")
{
    public string Id { get; } = id;
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>The stream carrying a request was lost (and not resumed) before its reply arrived, or there was no stream to send on.</summary>
public sealed class XmppConnectionLostException : XmppException
{
    public XmppConnectionLostException(string message, Exception? inner = null) : base(message, inner) { }
    /// <summary>True when the request was never written to the socket, so retrying it cannot execute it twice.</summary>
    public bool NeverSent { get; init; }
}

/// <summary>The server closed the stream with a stream error (RFC 6120 §4.9).</summary>
public sealed class XmppStreamErrorException(string condition, string? text, XElement? element)
    : XmppException($"Stream error '{condition}'" + (text is null ? "" : $": {text}"))
{
    public string Condition { get; } = condition;
    public string? Text { get; } = text;
    public XElement? Element { get; } = element;

    public static XmppStreamErrorException Parse(XElement error)
    {
        string condition = "undefined-condition";
        string? text = null;
        foreach (var child in error.Elements())
        {
            if (child.Name.Namespace != Ns.Streams) continue;
            if (child.Name.LocalName == "text") text = child.Value;
            else condition = child.Name.LocalName;
        }
        return new XmppStreamErrorException(condition, text, error);
    }
}

/// <summary>SASL authentication (or a component handshake) was refused. Never retried automatically.</summary>
public sealed class XmppAuthenticationException(string condition, string? text = null)
    : XmppException($"Authentication failed: {condition}" + (text is null ? "" : $" ({text})"))
{
    public string Condition { get; } = condition;
    public string? Text { get; } = text;
}

/// <summary>The peer broke the protocol: malformed XML, a DTD, an oversized stanza, an unexpected element.</summary>
public sealed class XmppProtocolException : XmppException
{
    public XmppProtocolException(string message, Exception? inner = null) : base(message, inner) { }
}

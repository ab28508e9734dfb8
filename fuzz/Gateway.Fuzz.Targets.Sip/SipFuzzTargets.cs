using ActiveCalls.Sip.Messages;

namespace Gateway.Fuzz.Targets.Sip;

/// <summary>
/// The fuzz target of the SIP stack's one network parser, <see cref="SipMessageParser"/>: a UDP datagram in, what the
/// transport and the transaction and dialog layers then read out of the message.
/// </summary>
public static class SipFuzzTargets
{
    /// <summary>
    /// <c>sip-message</c>: one datagram parsed with <see cref="SipMessageParser.Parse(ReadOnlySpan{byte})"/>. A message it
    /// accepts has its Via, From, To, Call-ID, CSeq, Contact and route headers validated, so every accessor the layers
    /// above use must work without a further exception; a request is stamped and answered as the transport and a UAS do,
    /// and what the stack serialises must parse again. A refused request whose headers were readable is answered as
    /// the transport answers malformed requests.
    /// </summary>
    /// <remarks>Expected: <see cref="SipParseException"/> from the parser (and from the To header the malformed-request
    /// answer re-reads, which the transport catches too). A null result is a keep-alive.</remarks>
    public static bool SipMessages(ReadOnlySpan<byte> input)
    {
        SipMessage? message;
        try
        {
            message = SipMessageParser.Parse(input);
        }
        catch (SipParseException e)
        {
            AnswerMalformed(e);
            return false;
        }
        if (message is null) return false;

        _ = message.CallId;
        var cseq = message.CSeq;
        var from = message.From;
        var to = message.To;
        _ = from.Tag;
        _ = to.Tag;
        _ = from.Uri.AddressOfRecord;
        _ = to.Uri.HostAddress;
        foreach (var via in message.Vias)
        {
            _ = via.SentBy;
            _ = via.Rport;
            _ = via.HasRfc3261Branch;
        }
        foreach (var contact in message.Contacts) _ = contact.Uri.HostPort;
        foreach (var route in message.RecordRoutes) _ = route.Uri.IsLooseRouter;
        foreach (var route in message.Routes) _ = route.Uri.Transport;
        _ = message.MaxForwards;
        _ = message.ContentType;
        _ = message.BodyText;

        if (message is SipRequest request)
        {
            _ = request.RequestUri.ToString();
            _ = request.RequestUri.WithoutParametersAndHeaders().ToString();
            if (!string.Equals(cseq.Method, request.Method, StringComparison.Ordinal))
                throw new FuzzOracleException($"The parser accepted CSeq method '{cseq.Method}' for a {request.Method}.");

            // What the transport does to every request (RFC 3261 §18.2.1, RFC 3581 §4).
            var top = request.TopVia;
            if (top.HasRport) top.Parameters.Set("rport", "5060");
            top.Received = "192.0.2.1";
            request.SetTopVia(top);

            // A UAS answer, and the copy a client transaction keeps.
            ReparseOwn(request.CreateResponse(180, null, "fuzz-tag"));
            ReparseOwn(request.CreateResponse(100));
            ReparseOwn(request.Clone());
        }
        ReparseOwn(message);
        return true;
    }

    /// <summary>What the stack writes from a message it accepted must be a message it accepts.</summary>
    private static void ReparseOwn(SipMessage message)
    {
        var bytes = message.ToBytes();
        try
        {
            if (SipMessageParser.Parse(bytes) is null) throw new FuzzOracleException("A serialised message parsed as a keep-alive.");
        }
        catch (SipParseException e)
        {
            throw new FuzzOracleException($"The stack's own serialisation does not parse ({e.Message}):\n{message}", e);
        }
    }

    /// <summary>As the UDP transport answers a malformed request whose Via, From, To, Call-ID and CSeq were readable.</summary>
    private static void AnswerMalformed(SipParseException error)
    {
        if (error.RequestHeaders is not { } headers || error.Method == "ACK") return;
        try
        {
            var response = new SipResponse(error.SuggestedStatus, SipStatus.DefaultReason(error.SuggestedStatus));
            foreach (var via in headers.GetFields("Via")) response.Headers.Add("Via", via);
            response.Headers.Add("From", headers["From"]!);
            var to = NameAddress.Parse(headers["To"]!);
            to.Tag ??= "fuzz-tag"; // the transport draws a random one
            response.Headers.Add("To", to.ToString());
            response.Headers.Add("Call-ID", headers["Call-ID"]!);
            response.Headers.Add("CSeq", headers["CSeq"]!);
            var detail = error.Message.Replace('"', '\'').Replace('\r', ' ').Replace('\n', ' ');
            response.Headers.Add("Warning", $"399 fuzz.invalid \"{detail}\"");
            _ = response.ToBytes();
        }
        catch (SipParseException)
        {
            // The transport catches this too: such a request is dropped unanswered.
        }
    }
}

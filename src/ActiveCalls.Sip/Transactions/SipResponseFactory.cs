using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip.Transactions;

internal static class SipResponseFactory
{
    /// <summary>A response the stack reports in place of one that never came.</summary>
    public static SipResponse Local(SipRequest request, int status, string reason)
    {
        var response = request.CreateResponse(status, reason);
        response.IsLocal = true;
        return response;
    }

    /// <summary>The ACK a client INVITE transaction sends for a 300–699 response (RFC 3261 §17.1.1.3).</summary>
    public static SipRequest AckForNonSuccess(SipRequest invite, SipResponse response)
    {
        var ack = new SipRequest(SipMethods.Ack, invite.RequestUri.Clone());
        ack.Headers.Add("Via", invite.Headers.GetValues("Via")[0]);
        foreach (var route in invite.Headers.GetFields("Route")) ack.Headers.Add("Route", route);
        ack.Headers.Add("Max-Forwards", "70");
        ack.Headers.Add("From", invite.Headers["From"]!);
        ack.Headers.Add("To", response.Headers["To"]!);
        ack.Headers.Add("Call-ID", invite.CallId);
        ack.Headers.Add("CSeq", new CSeqHeader(invite.CSeq.Number, SipMethods.Ack).ToString());
        return ack;
    }
}

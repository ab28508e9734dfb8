using System.Diagnostics.Metrics;
using ActiveCalls.Sip.Messages;

namespace ActiveCalls.Sip;

/// <summary>The SIP stack's instruments, on the meter <see cref="MeterName"/> (collect it with OpenTelemetry or
/// <c>dotnet-counters</c>). Tags: <c>sip.method</c>, <c>sip.status_code</c> (the final status, a local 408/503 included),
/// <c>sip.role</c> (<c>client</c>: we sent the request; <c>server</c>: we answered it), <c>direction</c>.</summary>
public static class SipMetrics
{
    public const string MeterName = "ActiveCalls.Sip";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Transactions = Meter.CreateCounter<long>(
        "sip.transactions", "{transaction}", "SIP transactions that reached a final status, by method, status and role.");

    private static readonly Counter<long> Retransmissions = Meter.CreateCounter<long>(
        "sip.retransmissions", "{message}",
        "SIP retransmissions: sent (our request or final response again, on timer A, E or G) or received (a request again).");

    // A stranger may send any method name: others are counted as _OTHER, so the series stay few.
    private static readonly HashSet<string> Methods = new(StringComparer.Ordinal)
        { "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK", "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE" };

    private static string MethodOf(SipRequest request) => Methods.Contains(request.Method) ? request.Method : "_OTHER";

    internal static void TransactionCompleted(SipRequest request, int statusCode, string role) =>
        Transactions.Add(1, new KeyValuePair<string, object?>("sip.method", MethodOf(request)),
            new KeyValuePair<string, object?>("sip.status_code", statusCode), new KeyValuePair<string, object?>("sip.role", role));

    internal static void Retransmitted(SipRequest request, string direction) =>
        Retransmissions.Add(1, new KeyValuePair<string, object?>("sip.method", MethodOf(request)), new KeyValuePair<string, object?>("direction", direction));
}

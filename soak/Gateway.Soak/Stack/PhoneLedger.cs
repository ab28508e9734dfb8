using System.Text.RegularExpressions;

namespace Gateway.Soak.Stack;

/// <summary>One SIP dialog at a phone, as its message log shows it.</summary>
public sealed record PhoneDialog(string Phone, string CallId)
{
    /// <summary>The phone sent 200 to the INVITE.</summary>
    public bool Answered { get; init; }

    /// <summary>The phone answered and got the ACK: the phone shows a call in progress.</summary>
    public bool Established { get; init; }

    /// <summary>A BYE (either way), or a CANCEL before the answer, ended it.</summary>
    public bool Ended { get; init; }

    /// <summary>Up on the phone: established and never ended.</summary>
    public bool Up => Established && !Ended;
}

/// <summary>
/// The dialogs of one sipp phone, read from its message log (<c>-trace_msg</c>): each message's direction, start line
/// and Call-ID decide per Call-ID whether the phone answered, got the ACK, and saw the dialog end. Retransmissions and
/// re-INVITEs (session refreshes) change nothing.
/// </summary>
public sealed partial class PhoneLedger
{
    private PhoneLedger(string phone, IReadOnlyDictionary<string, PhoneDialog> dialogs)
    {
        Phone = phone;
        Dialogs = dialogs;
    }

    public string Phone { get; }

    public IReadOnlyDictionary<string, PhoneDialog> Dialogs { get; }

    public IEnumerable<PhoneDialog> Up => Dialogs.Values.Where(d => d.Up);

    public static PhoneLedger Parse(string phone, string messageLogPath)
    {
        var dialogs = new Dictionary<string, PhoneDialog>(StringComparer.Ordinal);
        var text = ReadShared(messageLogPath);
        var headers = MessageHeader().Matches(text);
        for (var i = 0; i < headers.Count; i++)
        {
            var start = headers[i].Index + headers[i].Length;
            var end = i + 1 < headers.Count ? headers[i + 1].Index : text.Length;
            var message = text.AsSpan(start, end - start).Trim().ToString();
            var sent = headers[i].Groups[1].Value == "sent";
            if (CallIdHeader().Match(message) is not { Success: true } callId) continue;
            var startLine = message[..Math.Max(0, message.IndexOf('\n', StringComparison.Ordinal))].TrimEnd('\r');
            var cseqMethod = CSeqHeader().Match(message) is { Success: true } cseq ? cseq.Groups[1].Value : "";
            var id = callId.Groups[1].Value.Trim();
            var dialog = dialogs.GetValueOrDefault(id) ?? new PhoneDialog(phone, id);
            var isResponse = startLine.StartsWith("SIP/2.0 ", StringComparison.Ordinal);
            if (isResponse && sent && startLine.StartsWith("SIP/2.0 200", StringComparison.Ordinal) && cseqMethod == "INVITE")
                dialog = dialog with { Answered = true };
            else if (!isResponse && startLine.StartsWith("BYE ", StringComparison.Ordinal)) dialog = dialog with { Ended = true };
            // A CANCEL that crosses the 200 changes nothing (RFC 3261 9.2): the caller ACKs and sends BYE.
            else if (!isResponse && !sent && startLine.StartsWith("CANCEL ", StringComparison.Ordinal) && !dialog.Answered) dialog = dialog with { Ended = true };
            else if (!isResponse && !sent && startLine.StartsWith("ACK ", StringComparison.Ordinal) && dialog.Answered) dialog = dialog with { Established = true };
            dialogs[id] = dialog;
        }
        return new PhoneLedger(phone, dialogs);
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    [GeneratedRegex(@"^-+ .*\r?\nUDP message (sent|received)[^\n]*\r?\n", RegexOptions.Multiline)]
    private static partial Regex MessageHeader();

    [GeneratedRegex(@"^(?:Call-ID|i)\s*:\s*(.+?)\r?$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex CallIdHeader();

    [GeneratedRegex(@"^CSeq\s*:\s*\d+\s+(\w+)", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex CSeqHeader();
}

using System.Globalization;

namespace Gateway.Api.Streaming;

/// <summary>
/// A position in the gateway's event log as clients see it: <c>{epoch}-{position}</c>. The epoch names the call store's
/// log (kept across restarts by the SQLite store, new on every start with the in-memory one), the position is the
/// event's position in that log, from 1, increasing (a purged call leaves gaps). Clients treat the text as opaque.
/// </summary>
public readonly record struct StreamCursor(string Epoch, long Position)
{
    /// <summary>Longest text accepted: an epoch of up to 32 characters, a dash and 19 digits.</summary>
    public const int MaxLength = 52;

    public override string ToString() => Epoch + "-" + Position.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads <c>{epoch}-{position}</c>: an epoch of letters and digits, a non-negative position.</summary>
    public static bool TryParse(string? text, out StreamCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength) return false;
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || dash == text.Length - 1) return false;
        var epoch = text[..dash];
        if (!epoch.All(char.IsAsciiLetterOrDigit)) return false;
        var digits = text.AsSpan(dash + 1);
        foreach (var c in digits)
            if (!char.IsAsciiDigit(c)) return false;
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var position)) return false;
        cursor = new StreamCursor(epoch, position);
        return true;
    }
}

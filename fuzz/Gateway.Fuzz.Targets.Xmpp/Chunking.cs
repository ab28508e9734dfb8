namespace Gateway.Fuzz.Targets.Xmpp;

/// <summary>
/// How <see cref="XmppFuzzTargets.XmlStream"/> cuts its input into 1 to 3 chunks, driven by one control byte
/// <c>b</c> so that the fuzzer mutates the chunking like any other byte: <c>b % 3 + 1</c> chunks, the cuts at
/// <c>(d % 9 + 1) / 11</c> of the data and <c>(d / 9 + 1) / 11</c> of what follows, where <c>d = b / 3</c>.
/// Seeds start with a printable control byte: <c>'0'</c> feeds the stream whole, <c>'1'</c> in two chunks
/// (cut at 8/11), <c>'2'</c> in three (cut at 8/11, then 2/11 of the rest).
/// </summary>
public static class Chunking
{
    /// <summary>The two cut offsets (<c>0 &lt;= cut1 &lt;= cut2 &lt;= length</c>); an unused cut equals <paramref name="length"/>.</summary>
    public static (int Cut1, int Cut2) Cuts(byte control, int length)
    {
        int chunks = control % 3 + 1;
        int d = control / 3;
        int cut1 = chunks >= 2 ? (int)((long)length * (d % 9 + 1) / 11) : length;
        int cut2 = chunks == 3 ? cut1 + (int)((long)(length - cut1) * (d / 9 + 1) / 11) : length;
        return (cut1, cut2);
    }
}

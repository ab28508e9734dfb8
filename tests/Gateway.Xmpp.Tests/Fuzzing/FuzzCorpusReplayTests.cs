using Gateway.Fuzz.Targets.Xmpp;
using Gateway.Testing.Fuzzing;

namespace Gateway.Xmpp.Tests.Fuzzing;

/// <summary>
/// Replays every input of the XMPP fuzz corpora (fuzz/corpus/TARGET: the seeds, and every finding kept under
/// regressions/) through its fuzz target, so CI catches a parser change that makes one of them crash again. A target
/// returns normally for input it accepts or refuses with its documented exception; anything else fails the test (see
/// <see cref="FuzzCorpus"/>).
/// </summary>
public class FuzzCorpusReplayTests
{
    public static TheoryData<string> XmlStreamCorpus => FuzzCorpus.Inputs("xml-stream");
    public static TheoryData<string> DataFormCorpus => FuzzCorpus.Inputs("data-form");
    public static TheoryData<string> ActiveCallItemCorpus => FuzzCorpus.Inputs("active-call-item");
    public static TheoryData<string> PubSubEventCorpus => FuzzCorpus.Inputs("pubsub-event");
    public static TheoryData<string> AdHocCorpus => FuzzCorpus.Inputs("adhoc");

    [Theory]
    [MemberData(nameof(XmlStreamCorpus))]
    public void XmlStreamCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay("xml-stream", input, XmppFuzzTargets.XmlStream);

    [Theory]
    [MemberData(nameof(DataFormCorpus))]
    public void DataFormCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay("data-form", input, XmppFuzzTargets.DataForms);

    [Theory]
    [MemberData(nameof(ActiveCallItemCorpus))]
    public void ActiveCallItemCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay("active-call-item", input, XmppFuzzTargets.ActiveCallItems);

    [Theory]
    [MemberData(nameof(PubSubEventCorpus))]
    public void PubSubEventCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay("pubsub-event", input, XmppFuzzTargets.PubSubEvents);

    [Theory]
    [MemberData(nameof(AdHocCorpus))]
    public void AdHocCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay("adhoc", input, XmppFuzzTargets.AdHocResponses);

    /// <summary>A harness that refused everything (a broken stream header, say) would still pass the replay: the valid
    /// seeds must get past the parsers, or the fuzzer would never reach the code behind them.</summary>
    [Theory]
    [InlineData("xml-stream")]
    [InlineData("data-form")]
    [InlineData("active-call-item")]
    [InlineData("pubsub-event")]
    [InlineData("adhoc")]
    public void SeedsGetPastTheParser(string target) => FuzzCorpus.AssertSeedsGetPastTheParser(target, Target(target));

    [Fact]
    public void ChunkingCutsStayInsideTheInput()
    {
        for (int control = 0; control < 256; control++)
        {
            foreach (int length in (int[])[0, 1, 2, 7, 11, 100, 4095])
            {
                var (cut1, cut2) = Chunking.Cuts((byte)control, length);
                Assert.InRange(cut1, 0, length);
                Assert.InRange(cut2, cut1, length);
            }
        }
    }

    [Theory]
    [InlineData('0', 1)]
    [InlineData('1', 2)]
    [InlineData('2', 3)]
    public void PrintableControlBytesPickTheDocumentedChunkCount(char control, int chunks)
    {
        var (cut1, cut2) = Chunking.Cuts((byte)control, 1100);
        int count = 1 + (cut1 < 1100 ? 1 : 0) + (cut2 < 1100 ? 1 : 0);
        Assert.Equal(chunks, count);
    }

    private static FuzzTarget Target(string target) => target switch
    {
        "xml-stream" => XmppFuzzTargets.XmlStream,
        "data-form" => XmppFuzzTargets.DataForms,
        "active-call-item" => XmppFuzzTargets.ActiveCallItems,
        "pubsub-event" => XmppFuzzTargets.PubSubEvents,
        "adhoc" => XmppFuzzTargets.AdHocResponses,
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };
}

using Gateway.Fuzz.Targets.Xmpp;

namespace Gateway.Xmpp.Tests.Fuzzing;

/// <summary>
/// Replays every input of the XMPP fuzz corpora (fuzz/corpus/TARGET: the seeds, and every finding kept under
/// regressions/) through its fuzz target, so CI catches a parser change that makes one of them crash again. A target
/// returns normally for input it accepts or refuses with its documented exception; anything else fails the test.
/// </summary>
public class FuzzCorpusReplayTests
{
    public static TheoryData<string> XmlStreamCorpus => Corpus("xml-stream");
    public static TheoryData<string> DataFormCorpus => Corpus("data-form");
    public static TheoryData<string> ActiveCallItemCorpus => Corpus("active-call-item");
    public static TheoryData<string> PubSubEventCorpus => Corpus("pubsub-event");
    public static TheoryData<string> AdHocCorpus => Corpus("adhoc");

    [Theory]
    [MemberData(nameof(XmlStreamCorpus))]
    public void XmlStreamCorpusInputIsParsedOrRefusedCleanly(string input) => XmppFuzzTargets.XmlStream(Read("xml-stream", input));

    [Theory]
    [MemberData(nameof(DataFormCorpus))]
    public void DataFormCorpusInputIsParsedOrRefusedCleanly(string input) => XmppFuzzTargets.DataForms(Read("data-form", input));

    [Theory]
    [MemberData(nameof(ActiveCallItemCorpus))]
    public void ActiveCallItemCorpusInputIsParsedOrRefusedCleanly(string input) => XmppFuzzTargets.ActiveCallItems(Read("active-call-item", input));

    [Theory]
    [MemberData(nameof(PubSubEventCorpus))]
    public void PubSubEventCorpusInputIsParsedOrRefusedCleanly(string input) => XmppFuzzTargets.PubSubEvents(Read("pubsub-event", input));

    [Theory]
    [MemberData(nameof(AdHocCorpus))]
    public void AdHocCorpusInputIsParsedOrRefusedCleanly(string input) => XmppFuzzTargets.AdHocResponses(Read("adhoc", input));

    /// <summary>A harness that refused everything (a broken stream header, say) would still pass the replay: the valid
    /// seeds must get past the parsers, or the fuzzer would never reach the code behind them.</summary>
    [Theory]
    [InlineData("xml-stream")]
    [InlineData("data-form")]
    [InlineData("active-call-item")]
    [InlineData("pubsub-event")]
    [InlineData("adhoc")]
    public void SeedsGetPastTheParser(string target)
    {
        var seeds = Directory.GetFiles(CorpusDirectory(target));
        int accepted = seeds.Count(seed => Target(target)(File.ReadAllBytes(seed)));
        Assert.True(accepted > 0, $"none of the {seeds.Length} {target} seeds is accepted");
    }

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

    private static Func<byte[], bool> Target(string target) => target switch
    {
        "xml-stream" => input => XmppFuzzTargets.XmlStream(input),
        "data-form" => input => XmppFuzzTargets.DataForms(input),
        "active-call-item" => input => XmppFuzzTargets.ActiveCallItems(input),
        "pubsub-event" => input => XmppFuzzTargets.PubSubEvents(input),
        "adhoc" => input => XmppFuzzTargets.AdHocResponses(input),
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };

    /// <summary>The corpus as copied next to the tests by the targets project.</summary>
    private static string CorpusDirectory(string target) => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", target);

    private static TheoryData<string> Corpus(string target)
    {
        var root = CorpusDirectory(target);
        return new TheoryData<string>(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(root, file).Replace('\\', '/'))
            .Order(StringComparer.Ordinal));
    }

    private static byte[] Read(string target, string input) => File.ReadAllBytes(Path.Combine(CorpusDirectory(target), input));
}

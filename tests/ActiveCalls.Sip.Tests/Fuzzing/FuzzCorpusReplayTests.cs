using Gateway.Fuzz.Targets.Sip;
using Gateway.Testing.Fuzzing;

namespace ActiveCalls.Sip.Tests.Fuzzing;

/// <summary>
/// Replays every input of the sip-message fuzz corpus (fuzz/corpus/sip-message: the seeds, and every finding kept under regressions/)
/// through its fuzz target, so CI catches a change that makes one of them crash again (see <see cref="FuzzCorpus"/>).
/// </summary>
public class FuzzCorpusReplayTests
{
    private const string Corpus = "sip-message";

    public static TheoryData<string> CorpusInputs => FuzzCorpus.Inputs(Corpus);

    [Theory]
    [MemberData(nameof(CorpusInputs))]
    public void SipMessageCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay(Corpus, input, SipFuzzTargets.SipMessages);

    [Fact]
    public void SeedsGetPastTheParser() => FuzzCorpus.AssertSeedsGetPastTheParser(Corpus, SipFuzzTargets.SipMessages);
}

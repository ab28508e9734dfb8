using Gateway.Fuzz.Targets.Service;
using Gateway.Testing.Fuzzing;

namespace ActiveCalls.Service.Tests.Fuzzing;

/// <summary>
/// Replays every input of the command-request fuzz corpus (fuzz/corpus/command-request: the seeds, and every finding kept under regressions/)
/// through its fuzz target, so CI catches a change that makes one of them crash again (see <see cref="FuzzCorpus"/>).
/// </summary>
public class FuzzCorpusReplayTests
{
    private const string Corpus = "command-request";

    public static TheoryData<string> CorpusInputs => FuzzCorpus.Inputs(Corpus);

    [Theory]
    [MemberData(nameof(CorpusInputs))]
    public void CommandRequestCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay(Corpus, input, ServiceFuzzTargets.CommandRequests);

    [Fact]
    public void SeedsGetPastTheParser() => FuzzCorpus.AssertSeedsGetPastTheParser(Corpus, ServiceFuzzTargets.CommandRequests);
}

using Gateway.Fuzz.Targets.Api;
using Gateway.Testing.Fuzzing;

namespace Gateway.Api.Tests.Fuzzing;

/// <summary>
/// Replays every input of the json-request fuzz corpus (fuzz/corpus/json-request: the seeds, and every finding kept under regressions/)
/// through its fuzz target, so CI catches a change that makes one of them crash again (see <see cref="FuzzCorpus"/>).
/// </summary>
public class FuzzCorpusReplayTests
{
    private const string Corpus = "json-request";

    public static TheoryData<string> CorpusInputs => FuzzCorpus.Inputs(Corpus);

    [Theory]
    [MemberData(nameof(CorpusInputs))]
    public void JsonRequestCorpusInputIsParsedOrRefusedCleanly(string input) => FuzzCorpus.Replay(Corpus, input, ApiFuzzTargets.JsonRequests);

    [Fact]
    public void SeedsGetPastTheParser() => FuzzCorpus.AssertSeedsGetPastTheParser(Corpus, ApiFuzzTargets.JsonRequests);
}

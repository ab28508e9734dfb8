using Gateway.Fuzz.Targets.Api;

namespace Gateway.Api.Tests.Fuzzing;

/// <summary>
/// Replays every input of the json-request fuzz corpus (fuzz/corpus/json-request: the seeds, and every finding kept under regressions/)
/// through its fuzz target, so CI catches a change that makes one of them crash again. The target returns normally for
/// input it accepts or refuses with its documented exception; anything else fails the test.
/// </summary>
public class FuzzCorpusReplayTests
{
    private const string Target = "json-request";

    public static TheoryData<string> CorpusInputs
    {
        get
        {
            var root = CorpusDirectory();
            return new TheoryData<string>(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(file => Path.GetRelativePath(root, file).Replace('\\', '/'))
                .Order(StringComparer.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(CorpusInputs))]
    public void JsonRequestCorpusInputIsParsedOrRefusedCleanly(string input) =>
        ApiFuzzTargets.JsonRequests(File.ReadAllBytes(Path.Combine(CorpusDirectory(), input)));

    /// <summary>A harness that refused everything would still pass the replay: the valid seeds must get past the parser,
    /// or the fuzzer would never reach the code behind it.</summary>
    [Fact]
    public void SeedsGetPastTheParser()
    {
        var seeds = Directory.GetFiles(CorpusDirectory());
        int accepted = seeds.Count(seed => ApiFuzzTargets.JsonRequests(File.ReadAllBytes(seed)));
        Assert.True(accepted > 0, $"none of the {seeds.Length} {Target} seeds is accepted");
    }

    /// <summary>The corpus as copied next to the tests by the targets project.</summary>
    private static string CorpusDirectory() => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", Target);
}

using Gateway.Fuzz.Targets.Service;

namespace ActiveCalls.Service.Tests.Fuzzing;

/// <summary>
/// Replays every input of the command-request fuzz corpus (fuzz/corpus/command-request: the seeds, and every finding kept under regressions/)
/// through its fuzz target, so CI catches a change that makes one of them crash again. The target returns normally for
/// input it accepts or refuses with its documented exception; anything else fails the test.
/// </summary>
public class FuzzCorpusReplayTests
{
    private const string Target = "command-request";

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
    public void CommandRequestCorpusInputIsParsedOrRefusedCleanly(string input) =>
        ServiceFuzzTargets.CommandRequests(File.ReadAllBytes(Path.Combine(CorpusDirectory(), input)));

    /// <summary>A harness that refused everything would still pass the replay: the valid seeds must get past the parser,
    /// or the fuzzer would never reach the code behind it.</summary>
    [Fact]
    public void SeedsGetPastTheParser()
    {
        var seeds = Directory.GetFiles(CorpusDirectory());
        int accepted = seeds.Count(seed => ServiceFuzzTargets.CommandRequests(File.ReadAllBytes(seed)));
        Assert.True(accepted > 0, $"none of the {seeds.Length} {Target} seeds is accepted");
    }

    /// <summary>The corpus as copied next to the tests by the targets project.</summary>
    private static string CorpusDirectory() => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", Target);
}

namespace Gateway.Testing.Fuzzing;

/// <summary>A fuzz target as the fuzz projects declare it: true for input it accepts, false (or its documented
/// exception) for input it refuses; anything else is a finding.</summary>
public delegate bool FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// Replays a fuzz corpus (fuzz/corpus/NAME: the seeds, and every finding kept under regressions/) through its fuzz
/// target, so a test run catches a change that makes one of them crash again. Each test project keeps a small
/// <c>FuzzCorpusReplayTests</c> that names its corpora and targets:
/// <code>
/// public static TheoryData&lt;string&gt; CorpusInputs =&gt; FuzzCorpus.Inputs("sip-message");
///
/// [Theory, MemberData(nameof(CorpusInputs))]
/// public void SipMessageCorpusInputIsParsedOrRefusedCleanly(string input) =&gt; FuzzCorpus.Replay("sip-message", input, SipFuzzTargets.SipMessages);
/// </code>
/// </summary>
/// <remarks>The corpora are read from the test's output folder, where each fuzz target project copies its own
/// (<c>fuzz-corpus/NAME</c>), so the test project must reference the targets project.</remarks>
public static class FuzzCorpus
{
    /// <summary>The corpus as copied next to the tests by the targets project.</summary>
    public static string Folder(string corpus) => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", corpus);

    /// <summary>Every input of the corpus, seeds and regressions, as paths relative to its folder ('/'-separated, in
    /// ordinal order, so the theory's cases are named the same on every machine).</summary>
    public static TheoryData<string> Inputs(string corpus)
    {
        var root = Folder(corpus);
        return new TheoryData<string>(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(root, file).Replace('\\', '/'))
            .Order(StringComparer.Ordinal));
    }

    /// <summary>Runs <paramref name="target"/> on one input of <see cref="Inputs"/>; it must return or throw its
    /// documented exception (the fuzz projects' oracle), anything else fails the test.</summary>
    public static void Replay(string corpus, string input, FuzzTarget target) =>
        target(File.ReadAllBytes(Path.Combine(Folder(corpus), input)));

    /// <summary>A harness that refused everything (a broken stream header, say) would still pass the replay: at least
    /// one seed (the corpus folder's own files, not regressions/) must get past the parser, or the fuzzer would never
    /// reach the code behind it.</summary>
    public static void AssertSeedsGetPastTheParser(string corpus, FuzzTarget target)
    {
        var seeds = Directory.GetFiles(Folder(corpus));
        int accepted = seeds.Count(seed => target(File.ReadAllBytes(seed)));
        Assert.True(accepted > 0, $"none of the {seeds.Length} {corpus} seeds is accepted");
    }
}

namespace Gateway.Testing;

/// <summary>
/// The repository the tests run from: the nearest folder with Gateway.sln at or above the test's output folder
/// (<see cref="AppContext.BaseDirectory"/>). The fixtures run its scripts and scenarios from there (deploy/prosody,
/// deploy/sipp), so they are never copied to the output folder.
/// </summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The repository's folder.</summary>
    public static string FullPath => Root.Value;

    /// <summary>A path inside the repository, e.g. <c>Combine("deploy", "sipp")</c> or <c>Combine("deploy/prosody/start.sh")</c>.</summary>
    public static string Combine(params string[] parts) => Path.Combine([FullPath, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Gateway.sln was not found in {AppContext.BaseDirectory} or any folder above it; the test fixtures need the repository's deploy/ scripts.");
    }
}

namespace ActiveCalls.Service.Tests.Support;

/// <summary>Where the tests put the service's database (<c>ActiveCalls:Storage:DatabasePath</c>): a new file under the temp
/// folder for each host, so no test sees another's calls, items, subscriptions or grants; a restart test reuses its path.</summary>
internal static class TestDatabase
{
    public static string NewPath()
    {
        var folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "active-calls-tests"));
        return Path.Combine(folder.FullName, Guid.NewGuid().ToString("N") + ".db");
    }

    /// <summary>Deletes the database and its WAL, shared-memory and lock files.</summary>
    public static void Delete(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm", ".lock" }) File.Delete(path + suffix);
    }
}

using Gateway.Testing.Prosody;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>A test that runs the service more than once on the same database (<see cref="Database"/>, a new temp file,
/// deleted with its log at the end) and disposes what it started, last first.</summary>
public abstract class RestartTestBase(ProsodyFixture prosody) : IAsyncLifetime
{
    protected ProsodyFixture Prosody { get; } = prosody;

    protected List<IAsyncDisposable> Owned { get; } = [];

    protected string Database { get; } = TestDatabase.NewPath();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(Owned)) await owned.DisposeAsync();
        TestDatabase.Delete(Database);
        File.Delete(Database + ".log");
        GC.SuppressFinalize(this);
    }
}

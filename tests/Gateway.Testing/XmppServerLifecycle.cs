namespace Gateway.Testing;

/// <summary>
/// The life of a private XMPP server a fixture runs from the repository's deploy scripts: started on free ports (new ones
/// when a port was taken meanwhile), started, stopped and restarted one at a time, stopped and its run directory deleted
/// at the end (kept when <see cref="KeepVariable"/> is <c>1</c>). The server's own fixture says how to start and stop it.
/// </summary>
public abstract class XmppServerLifecycle : IAsyncLifetime
{
    private readonly SemaphoreSlim _lifecycle = new(1, 1);

    /// <summary>Config, certificates, data and logs of this instance.</summary>
    public abstract string RunDirectory { get; }

    /// <summary>The environment variable that keeps <see cref="RunDirectory"/> after the tests when set to <c>1</c>.</summary>
    protected abstract string KeepVariable { get; }

    /// <summary>Fails with the command to install the server when it is missing (a fixture never skips).</summary>
    protected abstract void EnsureInstalled();

    /// <summary>Chooses free ports for the next start.</summary>
    protected abstract void ReservePorts();

    protected abstract Task StartCoreAsync();

    protected abstract Task StopCoreAsync();

    public async ValueTask InitializeAsync()
    {
        EnsureInstalled();
        await _lifecycle.WaitAsync();
        try
        {
            // Free ports are found by binding to port 0 and releasing them; another process could
            // take one in between, so a start that finds its port in use is retried on new ports.
            for (var attempt = 1; ; attempt++)
            {
                ReservePorts();
                try
                {
                    await StartCoreAsync();
                    return;
                }
                catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("already in use", StringComparison.Ordinal))
                {
                }
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the server and starts it again on the same ports with the same data (accounts survive).</summary>
    public Task RestartAsync() => OneAtATimeAsync(async () =>
    {
        await StopCoreAsync();
        await StartCoreAsync();
    });

    /// <summary>Starts the server again after <see cref="StopAsync"/> (a no-op when it is running).</summary>
    public Task StartAsync() => OneAtATimeAsync(StartCoreAsync);

    /// <summary>Stops the server (a no-op when it is stopped); every connection to it is closed.</summary>
    public Task StopAsync() => OneAtATimeAsync(StopCoreAsync);

    private async Task OneAtATimeAsync(Func<Task> action)
    {
        await _lifecycle.WaitAsync();
        try
        {
            await action();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Directory.Exists(RunDirectory))
            {
                await StopAsync();
            }
        }
        finally
        {
            if (Environment.GetEnvironmentVariable(KeepVariable) != "1")
            {
                try
                {
                    Directory.Delete(RunDirectory, recursive: true);
                }
                catch (DirectoryNotFoundException)
                {
                }
                catch (IOException)
                {
                }
            }

            _lifecycle.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}

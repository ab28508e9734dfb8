using System.Diagnostics;

namespace Gateway.Testing;

/// <summary>Runs one of the repository's deploy scripts (<c>deploy/…/*.sh</c>) from the repository root, as the server fixtures do.</summary>
public static class DeployScript
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <summary>Runs <paramref name="script"/> (relative to the repository root) and returns its standard output; fails with
    /// its output when it exits non-zero or takes longer than 90 s. Cancelling kills the script.</summary>
    public static async Task<string> RunAsync(string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var startInfo = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.FullPath,
        };
        startInfo.ArgumentList.Add(RepositoryRoot.Combine(script));
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"could not run {script}");
        process.StandardInput.Close();
        // Read to the end even when cancelled: the killed script closes its pipes.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{script} did not finish within {Timeout.TotalSeconds:0}s");
        }

        var output = await stdout;
        var errors = await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{script} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:{Environment.NewLine}{errors}{output}");
        }

        return output;
    }
}

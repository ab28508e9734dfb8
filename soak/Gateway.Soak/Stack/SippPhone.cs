using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Soak.Stack;

/// <summary>
/// A sipp phone that answers call after call (<c>deploy/sipp/answer.xml</c>, no call limit) on a free loopback UDP
/// port, logging every message it sends and receives, so that what is up on the phone can be read off afterwards
/// (<see cref="PhoneLedger"/>).
/// </summary>
public sealed class SippPhone : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private SippPhone(string user, int port, string directory, ChildProcess process)
    {
        User = user;
        Port = port;
        Directory = directory;
        _process = process;
    }

    public string User { get; }

    public int Port { get; }

    public string Directory { get; }

    public string MessageLogPath => Path.Combine(Directory, "messages.log");

    public bool HasExited => _process.HasExited;

    public static async Task<SippPhone> StartAsync(string repositoryRoot, string user, string directory, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(directory);
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeUdpPort();
            var process = ChildProcess.Start("sipp",
            [
                "-sf", Path.Combine(repositoryRoot, "deploy", "sipp", "answer.xml"),
                "-i", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-nostdin",
                "-trace_msg", "-message_file", Path.Combine(directory, "messages.log"),
                "-trace_err", "-error_file", Path.Combine(directory, "errors.log"),
            ], directory, Path.Combine(directory, "sipp.log"));
            if (await ListensAsync(port, process, cancellationToken)) return new SippPhone(user, port, directory, process);
            await process.DisposeAsync();
            if (attempt == 3) throw new InvalidOperationException($"sipp did not start for {user}; see {directory}/sipp.log.");
        }
    }

    private static async Task<bool> ListensAsync(int port, ChildProcess process, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 300 && !process.HasExited; i++)
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (SocketException)
            {
                return true; // sipp holds the port
            }
            await Task.Delay(10, cancellationToken);
        }
        return false;
    }

    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>The dialogs this phone has seen so far, from its message log.</summary>
    public PhoneLedger Read() => PhoneLedger.Parse(User, MessageLogPath);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

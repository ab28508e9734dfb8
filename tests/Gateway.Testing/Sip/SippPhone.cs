using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Gateway.Testing.Sip;

/// <summary>One direction and start line of a message in sipp's message log.</summary>
public sealed record SippMessage(bool Sent, string StartLine, string Text)
{
    public string Method => StartLine.Split(' ')[0];

    public int? Status => StartLine.StartsWith("SIP/2.0 ", StringComparison.Ordinal) ? int.Parse(StartLine.AsSpan(8, 3), CultureInfo.InvariantCulture) : null;

    /// <summary>The body (after the empty line), trimmed.</summary>
    public string Body
    {
        get
        {
            int i = Text.IndexOf("\n\n", StringComparison.Ordinal);
            int j = Text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            int cut = j >= 0 ? j + 4 : i >= 0 ? i + 2 : Text.Length;
            return Text[cut..].Trim();
        }
    }
}

/// <summary>
/// A real sipp phone running one of the repository's scenarios (<c>deploy/sipp/*.xml</c>) on a free loopback UDP
/// port, as a foreground child process: <c>sipp -sf scenario.xml -i 127.0.0.1 -p PORT -m 1 -nostdin -trace_msg
/// -message_file F -trace_err -error_file F</c>. Its exit code says how the call went (0 every call succeeded,
/// 1 a call failed, 99 no call was made, 255/254 fatal errors). Set <c>SIP_TESTS_KEEP_SIPP=1</c> to keep the logs.
/// </summary>
public sealed class SippPhone : IAsyncDisposable
{
    private static readonly Lazy<string> ScenarioFolder = new(() => RepositoryRoot.Combine("deploy", "sipp"));
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _output = new();

    private SippPhone(string scenario, string user, int port, string directory, Process process)
    {
        Scenario = scenario;
        User = user;
        Port = port;
        Directory = directory;
        _process = process;
    }

    public string Scenario { get; }

    public string User { get; }

    public int Port { get; }

    public string Directory { get; }

    /// <summary>The phone's address: <c>sip:user@127.0.0.1:port</c>.</summary>
    public string Uri => $"sip:{User}@127.0.0.1:{Port}";

    /// <summary><c>user@127.0.0.1</c>, the node its legs are published on.</summary>
    public string Aor => $"{User}@127.0.0.1";

    public string MessageLogPath => Path.Combine(Directory, "messages.log");

    public string ErrorLogPath => Path.Combine(Directory, "errors.log");

    public bool HasExited => _exit.Task.IsCompleted;

    /// <summary>Starts sipp with <paramref name="scenario"/> (a file name in deploy/sipp, without .xml) and waits until it listens.</summary>
    public static async Task<SippPhone> StartAsync(string scenario, string user, params string[] extraArguments)
    {
        for (int attempt = 1; ; attempt++)
        {
            var phone = Launch(scenario, user, FreeUdpPort(), extraArguments);
            if (await phone.WaitUntilListeningAsync()) return phone;
            int code = phone.HasExited ? await phone._exit.Task : -1;
            var output = phone._output.ToString();
            await phone.DisposeAsync();
            if (attempt >= 3) throw new InvalidOperationException($"sipp did not start (exit {code}):\n{output}");
        }
    }

    private static SippPhone Launch(string scenario, string user, int port, string[] extra)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"sipp-{scenario}-{Guid.NewGuid():N}"[..40]);
        System.IO.Directory.CreateDirectory(directory);
        var info = new ProcessStartInfo("sipp")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "-sf", Path.Combine(ScenarioFolder.Value, scenario + ".xml"),
            "-i", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture),
            "-m", "1", "-nostdin",
            "-trace_msg", "-message_file", Path.Combine(directory, "messages.log"),
            "-trace_err", "-error_file", Path.Combine(directory, "errors.log"),
            "-timeout", "120s", "-timeout_error",
        }.Concat(extra))
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var phone = new SippPhone(scenario, user, port, directory, process);
        process.OutputDataReceived += (_, e) => phone.Append(e.Data);
        process.ErrorDataReceived += (_, e) => phone.Append(e.Data);
        process.Exited += (_, _) => phone._exit.TrySetResult(process.ExitCode);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return phone;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length < 64 * 1024) _output.AppendLine(line);
        }
    }

    private async Task<bool> WaitUntilListeningAsync()
    {
        for (int i = 0; i < 300; i++)
        {
            if (HasExited) return false;
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                probe.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            }
            catch (SocketException)
            {
                return true; // sipp holds the port
            }
            await Task.Delay(10);
        }
        return false;
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Waits for sipp to finish its call and exit; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await _exit.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"sipp {Scenario} ({User}) did not exit. Messages:\n{ReadLog(MessageLogPath)}");
        }
    }

    /// <summary>Asserts sipp exited 0 (every call succeeded), showing its logs otherwise.</summary>
    public async Task AssertSucceededAsync(TimeSpan? timeout = null)
    {
        int code = await WaitForExitAsync(timeout);
        Assert.True(code == 0, $"sipp {Scenario} ({User}) exited {code}.\nErrors:\n{ReadLog(ErrorLogPath)}\nMessages:\n{ReadLog(MessageLogPath)}\nOutput tail:\n{Tail()}");
    }

    private string Tail()
    {
        lock (_output)
        {
            var s = _output.ToString();
            return s.Length > 2000 ? s[^2000..] : s;
        }
    }

    /// <summary>Every message in sipp's message log, in order.</summary>
    public IReadOnlyList<SippMessage> Messages()
    {
        var text = ReadLog(MessageLogPath);
        var result = new List<SippMessage>();
        var header = new Regex(@"^-+ .*\r?\n(UDP message (sent|received)[^\n]*)\r?\n", RegexOptions.Multiline);
        var matches = header.Matches(text);
        for (int i = 0; i < matches.Count; i++)
        {
            int start = matches[i].Index + matches[i].Length;
            int end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            var body = text[start..end].Trim('\r', '\n', ' ');
            var first = body.Split('\n')[0].TrimEnd('\r');
            result.Add(new SippMessage(matches[i].Groups[2].Value == "sent", first, body));
        }
        return result;
    }

    /// <summary>Start lines as "&gt; INVITE" (received by the phone) or "&lt; 200" (sent by it), in order, with
    /// retransmissions shown once.</summary>
    public IReadOnlyList<string> Flow()
    {
        var flow = new List<string>();
        var seen = new HashSet<(bool, string)>();
        foreach (var m in Messages())
        {
            // A retransmission is byte for byte the message it repeats (a busy machine makes timer A or G fire before
            // the answer is read); a new request differs at least in its CSeq or branch.
            if (!seen.Add((m.Sent, m.Text))) continue;
            var line = (m.Sent ? "< " : "> ") + (m.Status?.ToString(CultureInfo.InvariantCulture) ?? m.Method);
            if (flow.Count == 0 || flow[^1] != line) flow.Add(line);
        }
        return flow;
    }

    private static string ReadLog(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
        catch (DirectoryNotFoundException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException)
            {
            }
            try
            {
                await _exit.Task.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
            }
        }
        _process.Dispose();
        if (Environment.GetEnvironmentVariable("SIP_TESTS_KEEP_SIPP") != "1")
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

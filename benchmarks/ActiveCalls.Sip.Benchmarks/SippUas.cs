using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActiveCalls.Sip.Benchmarks;

/// <summary>
/// One sipp UAS on a loopback port answering any number of calls with <c>deploy/sipp/answer.xml</c>
/// (no <c>-m</c>): <c>sipp -sf answer.xml -i 127.0.0.1 -p PORT -nostdin -buff_size 4194304 -trace_stat -stf F -fd 1
/// -trace_err -error_file F</c>. Its statistics file (one CSV line a second) is what the benchmark checks the calls
/// against: every call the engine made must end in sipp's <c>SuccessfulCall(C)</c>.
/// </summary>
internal sealed class SippUas : IDisposable
{
    private readonly Process _process;

    private SippUas(string user, int port, string directory, Process process)
    {
        User = user;
        Port = port;
        Directory = directory;
        _process = process;
    }

    public string User { get; }

    public int Port { get; }

    public string Directory { get; }

    public string StatFile => Path.Combine(Directory, "stat.csv");

    public string ErrorFile => Path.Combine(Directory, "errors.log");

    public bool HasExited => _process.HasExited;

    public TimeSpan CpuTime
    {
        get
        {
            try
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
            catch (InvalidOperationException)
            {
                return TimeSpan.Zero;
            }
        }
    }

    public static async Task<SippUas> StartAsync(string sipp, string scenario, string user, int bufferSize)
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = FreeUdpPort();
            var directory = Path.Combine(Path.GetTempPath(), $"sipbench-{user}-{Guid.NewGuid():N}"[..32]);
            System.IO.Directory.CreateDirectory(directory);
            var info = new ProcessStartInfo(sipp)
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
            {
                "-sf", scenario, "-i", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-nostdin",
                "-buff_size", bufferSize.ToString(CultureInfo.InvariantCulture),
                "-trace_stat", "-stf", Path.Combine(directory, "stat.csv"), "-fd", "1",
                "-trace_err", "-error_file", Path.Combine(directory, "errors.log"),
            })
            {
                info.ArgumentList.Add(a);
            }
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, _) => { }; // sipp redraws its screen on stdout; nobody reads it
            process.ErrorDataReceived += (_, e) =>
            {
                if (!string.IsNullOrWhiteSpace(e.Data)) Console.Error.WriteLine($"sipp {user}: {e.Data}");
            };
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var uas = new SippUas(user, port, directory, process);
            if (await uas.WaitUntilListeningAsync()) return uas;
            uas.Dispose();
            if (attempt >= 3) throw new InvalidOperationException($"sipp did not start on port {port}");
        }
    }

    private async Task<bool> WaitUntilListeningAsync()
    {
        for (int i = 0; i < 300; i++)
        {
            if (_process.HasExited) return false;
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                probe.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            }
            catch (SocketException)
            {
                return true;
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

    /// <summary>The last line of sipp's statistics file, by column name (cumulative columns end in <c>(C)</c>).</summary>
    public IReadOnlyDictionary<string, string> LastStats()
    {
        try
        {
            using var stream = new FileStream(StatFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length < 2) return new Dictionary<string, string>();
            var names = lines[0].Split(';');
            var values = lines[^1].Split(';');
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < Math.Min(names.Length, values.Length); i++) result[names[i]] = values[i];
            return result;
        }
        catch (IOException)
        {
            return new Dictionary<string, string>();
        }
    }

    public long Stat(string name) =>
        LastStats().TryGetValue(name, out var v) && long.TryParse(v, CultureInfo.InvariantCulture, out var n) ? n : -1;

    /// <summary>Waits until sipp reports <paramref name="successful"/> successful calls and none open (its stats are
    /// written once a second, and each call lingers 300 ms in the scenario's final timewait).</summary>
    public async Task<bool> WaitForCallsAsync(long successful, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Stat("SuccessfulCall(C)") >= successful && Stat("CurrentCall") == 0) return true;
            await Task.Delay(200);
        }
        return false;
    }

    public long ErrorLines()
    {
        try
        {
            using var stream = new FileStream(ErrorFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            long n = 0;
            while (reader.ReadLine() is not null) n++;
            return n;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Client;
using Gateway.Testing;
using Gateway.Testing.Prosody;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The typed clients against the whole system: the gateway on Kestrel (a real port) with its real XMPP pool, a real
/// Prosody, the reference service and sipp phones that answer. The .NET client (src/Gateway.Client) runs in this process;
/// the TypeScript client (clients/typescript, built with this project) runs its compiled smoke script in node.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed partial class ClientsEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    private readonly EndToEndStack _stack = new(prosody) { OnKestrel = true };
    private HttpClient _client = null!;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    private async Task StartAsync()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        _client = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
    }

    /// <summary>Reads a call stream until the call is in <paramref name="state"/>; returns what it read.</summary>
    private static async Task<List<CallStreamItem>> FollowAsync(IAsyncEnumerable<CallStreamItem> stream, string callId, CallState state)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var read = new List<CallStreamItem>();
        await foreach (var item in stream.WithCancellation(timeout.Token))
        {
            read.Add(item);
            var call = item switch
            {
                CallStreamEvent e => e.Event.Call,
                CallStreamSnapshot s => s.Calls.SingleOrDefault(c => c.Id == callId),
                _ => null,
            };
            if (call?.Id == callId && call.State == state) return read;
        }
        throw new InvalidOperationException("The stream ended.");
    }

    private static IEnumerable<string> EventIds(IEnumerable<CallStreamItem> items) => items.OfType<CallStreamEvent>().Select(e => e.Event.Id);

    [Fact]
    public async Task TheDotNetClientPlacesACallFollowsItOverSseAndSignalRAndHangsItUp()
    {
        await StartAsync();
        using var gateway = new GatewayClient(_stack.GatewayAddress, GatewayFactory.AdminKey);

        var call = await gateway.PlaceCallAsync(new CreateCallRequest { From = Alice, To = Bob }, cancellationToken: Ct);
        var sse = await FollowAsync(gateway.StreamCallsAsync(CallStreamScope.OfCall(call.Id), Ct), call.Id, CallState.Connected);
        var signalR = await FollowAsync(gateway.SubscribeAsync(CallStreamScope.OfCall(call.Id), Ct), call.Id, CallState.Connected);
        await gateway.Api.HangUpCallAsync(call.Id, Ct);
        // A later stream resumes after the last cursor the first one read: no snapshot, only the events since.
        var afterHangUp = await FollowAsync(
            gateway.StreamCallsAsync(CallStreamScope.OfCall(call.Id) with { AfterCursor = sse[^1].Cursor }, Ct), call.Id, CallState.Ended);

        Assert.IsType<CallStreamSnapshot>(sse[0]);
        Assert.IsType<CallStreamSnapshot>(signalR[0]);
        Assert.All(afterHangUp, item => Assert.IsType<CallStreamEvent>(item));
        var ended = await gateway.Api.GetCallAsync(call.Id, Ct);
        Assert.Equal(CallState.Ended, ended.State);
        Assert.Equal(CallEndReason.Terminated, ended.EndReason);
        // Across the resume every event came once and in order: the read ones are the tail of the call's history.
        var history = (await gateway.Api.GetCallEventsAsync(call.Id, cancellationToken: Ct)).Items.ToList();
        Assert.Equal("call.ended", history[^1].Type);
        var read = EventIds(sse).Concat(EventIds(afterHangUp)).ToList();
        Assert.Equal(history.Select(e => e.Id).TakeLast(read.Count), read);

        var problem = await Assert.ThrowsAsync<GatewayProblemException>(() => gateway.Api.GetCallAsync("nosuch99", Ct));
        Assert.Equal(HttpStatusCode.NotFound, problem.Status);
        Assert.Equal("call-not-found", problem.Code);
        Assert.False(string.IsNullOrEmpty(problem.TraceId));
    }

    [Fact]
    public async Task TheTypeScriptClientsSmokeScriptPlacesACallFollowsItAndHangsItUp()
    {
        await StartAsync();
        var script = RepositoryRoot.Combine("clients", "typescript", "dist", "src", "smoke.js");
        Assert.True(File.Exists(script), $"{script} is missing: building Gateway.Api.Tests builds the TypeScript client");
        var start = new ProcessStartInfo("node", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["GATEWAY_ADDRESS"] = _stack.GatewayAddress.ToString();
        start.Environment["GATEWAY_API_KEY"] = GatewayFactory.AdminKey;
        start.Environment["CALL_FROM"] = Alice;
        start.Environment["CALL_TO"] = Bob;

        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync(Ct);
        var errors = node.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!node.HasExited) node.Kill(entireProcessTree: true);
        }
        var said = await output + await errors;

        Assert.True(node.ExitCode == 0, $"node smoke.js exited {node.ExitCode}:\n{said}");
        var id = PlacedCall().Match(said).Groups["id"].Value;
        Assert.False(string.IsNullOrEmpty(id), said);
        Assert.Matches(@"(?m)^sse: (call\.connected|snapshot) \(connected\)$", said);
        Assert.Contains("signalr: snapshot (connected)", said, StringComparison.Ordinal);
        Assert.Contains("sse: call.ended (ended)", said, StringComparison.Ordinal);
        Assert.Contains($"ended {id}: terminated", said, StringComparison.Ordinal);
        Assert.Equal("ended", (string?)(await WaitForCallAsync(_client, id, State("ended"), "ended"))["state"]);
    }

    [GeneratedRegex(@"^placed (?<id>\S+) ", RegexOptions.Multiline)]
    private static partial Regex PlacedCall();
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Gateway.Soak.Load;

/// <summary>
/// Places calls through the gateway as a careful client does, from several workers at once: <c>POST /calls</c> with an
/// Idempotency-Key and a call-setup-id (the same on every retry), waits until the call is connected, holds it, hangs
/// it up with <c>DELETE</c>. Whatever fails in between (503 while XMPP is down, the gateway gone or frozen) is retried
/// until a deadline; every call and what the client was told is kept for the verdict.
/// </summary>
public sealed class CallDriver(Uri gateway, string apiKey, string from, string to, DriverSettings settings, TimeProvider time)
{
    private readonly List<SoakCall> _calls = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<SoakCall> Calls
    {
        get { lock (_gate) return [.. _calls]; }
    }

    /// <summary>Runs the workers until <paramref name="stop"/> is cancelled; each finishes the call it has in hand.</summary>
    public Task RunAsync(CancellationToken stop, CancellationToken abort) =>
        Task.WhenAll(Enumerable.Range(0, settings.Workers).Select(w => Task.Run(() => WorkAsync(w, stop, abort), abort)));

    private async Task WorkAsync(int worker, CancellationToken stop, CancellationToken abort)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = settings.RequestTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var random = new Random(settings.Seed + worker);
        while (!stop.IsCancellationRequested)
        {
            var call = new SoakCall(NewCallSetupId(random), time.GetUtcNow());
            lock (_gate) _calls.Add(call);
            await CreateAsync(http, call, abort);
            if (call.Create != CreateOutcome.Accepted) continue;
            if (!await WaitConnectedAsync(http, call, abort)) continue;
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next((int)settings.HoldMin.TotalMilliseconds, (int)settings.HoldMax.TotalMilliseconds)), abort);
            await HangUpAsync(http, call, abort);
        }
    }

    private async Task CreateAsync(HttpClient http, SoakCall call, CancellationToken abort)
    {
        var key = Guid.NewGuid().ToString();
        var deadline = time.GetUtcNow() + settings.CommandDeadline;
        while (time.GetUtcNow() < deadline)
        {
            call.CreateTries++;
            using var request = new HttpRequestMessage(HttpMethod.Post, "calls")
            {
                Content = JsonContent.Create(new { from, to, callSetupId = call.Id }),
            };
            request.Headers.Add("Idempotency-Key", key);
            var (status, body, retryAfter) = await SendAsync(http, request, abort);
            var code = body?["code"]?.GetValue<string>();
            switch (status)
            {
                case HttpStatusCode.Accepted:
                    call.Create = CreateOutcome.Accepted;
                    return;
                case HttpStatusCode.Conflict when code == "call-setup-id-in-use":
                    // An earlier try was carried out although its answer was lost: the call is there.
                    call.Create = CreateOutcome.Accepted;
                    return;
                case { } s when IsFinal(s):
                    call.Create = CreateOutcome.Refused;
                    call.RefusedWith = $"{(int)s} {code}";
                    return;
            }
            await Task.Delay(retryAfter ?? settings.RetryDelay, abort);
        }
        call.Create = CreateOutcome.GaveUp;
    }

    private async Task<bool> WaitConnectedAsync(HttpClient http, SoakCall call, CancellationToken abort)
    {
        var deadline = time.GetUtcNow() + settings.ConnectWait;
        while (time.GetUtcNow() < deadline)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"calls/{call.Id}");
            var (status, body, _) = await SendAsync(http, request, abort);
            if (status == HttpStatusCode.OK)
            {
                switch ((string?)body?["state"])
                {
                    case "connected":
                        call.ConnectedAt = time.GetUtcNow();
                        return true;
                    case "ended":
                        call.EndedBeforeHangupAt = time.GetUtcNow();
                        return false;
                }
            }
            await Task.Delay(settings.PollInterval, abort);
        }
        // Not connected in time (an outage held it up): hang it up all the same, as a user would.
        await HangUpAsync(http, call, abort);
        return false;
    }

    private async Task HangUpAsync(HttpClient http, SoakCall call, CancellationToken abort)
    {
        var deadline = time.GetUtcNow() + settings.CommandDeadline;
        call.HangupSentAt = time.GetUtcNow();
        while (time.GetUtcNow() < deadline)
        {
            call.HangupTries++;
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"calls/{call.Id}");
            var (status, _, retryAfter) = await SendAsync(http, request, abort);
            if (status == HttpStatusCode.Accepted)
            {
                call.HangupAcceptedAt = time.GetUtcNow();
                return;
            }
            if (status is { } s && IsFinal(s)) return;
            await Task.Delay(retryAfter ?? settings.RetryDelay, abort);
        }
    }

    /// <summary>
    /// What a careful client does with a call it asked for and never hung up (it gave up on the create, or stopped
    /// waiting for it to connect) once it finds the call up after all: hangs it up.
    /// </summary>
    public async Task HangUpFoundAsync(SoakCall call, CancellationToken abort)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = settings.RequestTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        call.FoundLateAt ??= time.GetUtcNow();
        await HangUpAsync(http, call, abort);
    }

    /// <summary>A 4xx other than 408/429: retrying the same request cannot help.</summary>
    private static bool IsFinal(HttpStatusCode status) =>
        (int)status is >= 400 and < 500 && status is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests);

    /// <summary>Sends; null status when no answer came (refused, reset, timed out).</summary>
    private static async Task<(HttpStatusCode? Status, JsonObject? Body, TimeSpan? RetryAfter)> SendAsync(HttpClient http, HttpRequestMessage request,
        CancellationToken abort)
    {
        try
        {
            using var response = await http.SendAsync(request, abort);
            var text = await response.Content.ReadAsStringAsync(abort);
            JsonObject? body = null;
            try
            {
                body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
            }
            catch (System.Text.Json.JsonException)
            {
            }
            var retryAfter = response.Headers.RetryAfter?.Delta is { } delta && delta < TimeSpan.FromSeconds(10) ? delta : (TimeSpan?)null;
            return (response.StatusCode, body, retryAfter);
        }
        catch (HttpRequestException)
        {
            return (null, null, null);
        }
        catch (TaskCanceledException) when (!abort.IsCancellationRequested)
        {
            return (null, null, null);
        }
    }

    private static string NewCallSetupId(Random random)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(8, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[r.Next(alphabet.Length)];
        });
    }
}

/// <summary>How the driver behaves.</summary>
public sealed record DriverSettings
{
    public int Workers { get; init; } = 4;

    public int Seed { get; init; } = 1;

    public TimeSpan HoldMin { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan HoldMax { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a create or a hang-up is retried before the client gives up.</summary>
    public TimeSpan CommandDeadline { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long the client waits for a call to connect before it hangs it up anyway.</summary>
    public TimeSpan ConnectWait { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

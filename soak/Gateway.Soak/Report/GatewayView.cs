using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Gateway.Soak.Report;

/// <summary>A call as the gateway's REST API shows it at the end: its state, its legs' SIP Call-IDs and its events.</summary>
public sealed record RestCall(string Id, string State, string? EndReason, DateTimeOffset? EndedAt, IReadOnlyList<string> SipCallIds,
    IReadOnlyList<(long Sequence, string Type)> Events)
{
    public bool Ended => State == "ended";
}

/// <summary>Reads calls from the gateway's REST API; an ended call is read once (it can no longer change).</summary>
public sealed class GatewayView : IDisposable
{
    private readonly Dictionary<string, RestCall?> _final = new(StringComparer.Ordinal);
    private readonly HttpClient _http;

    public GatewayView(Uri gateway, string apiKey)
    {
        _http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(20) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>The call (null: the gateway does not know it), from the cache when it had ended.</summary>
    public async Task<RestCall?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        if (_final.TryGetValue(id, out var known)) return known;
        var http = _http;
        using var response = await http.GetAsync(new Uri($"calls/{id}", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        var call = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!.AsObject();
        using var eventsResponse = await http.GetAsync(new Uri($"calls/{id}/events", UriKind.Relative), cancellationToken);
        eventsResponse.EnsureSuccessStatusCode();
        var events = JsonNode.Parse(await eventsResponse.Content.ReadAsStringAsync(cancellationToken))!["items"]!.AsArray()
            .Select(e => ((long)e!["sequence"]!, (string)e["type"]!)).ToArray();
        var rest = new RestCall(id, (string)call["state"]!, (string?)call["endReason"], (DateTimeOffset?)call["endedAt"],
            [.. (call["legs"]?.AsArray() ?? []).Select(l => (string?)l!["callId"]).OfType<string>()], events);
        // The events are read after the call: an ended call's list is complete; a live call is read again next time.
        if (rest.Ended) _final[id] = rest;
        return rest;
    }

    public void Dispose() => _http.Dispose();
}

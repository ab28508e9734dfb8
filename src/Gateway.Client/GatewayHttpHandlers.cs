namespace Gateway.Client;

/// <summary>Puts the API key on every request.</summary>
internal sealed class ApiKeyHandler(string apiKey) : DelegatingHandler
{
    public const string HeaderName = "X-Api-Key";

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Remove(HeaderName);
        request.Headers.Add(HeaderName, apiKey);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>Turns every answer that is not a success into a <see cref="GatewayProblemException"/>, for the generated
/// REST client and the call stream alike, whatever members the problem has.</summary>
internal sealed class ProblemResponseHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode) return response;
        using (response) throw await GatewayProblemException.ReadAsync(response, cancellationToken);
    }
}

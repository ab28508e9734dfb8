namespace Gateway.Testing.OpenApi;

/// <summary>An answer that does not conform to the contract: thrown to the test that made the request.</summary>
public sealed class ContractViolationException(string message) : Exception(message);

/// <summary>
/// Checks every answer passing through it with a <see cref="ContractValidator"/> and throws a
/// <see cref="ContractViolationException"/> naming the request, the status and what does not conform. Only JSON bodies
/// are read (buffered, so the caller reads them as usual); a stream's body is left alone.
/// </summary>
public sealed class ConformingHttpHandler(ContractValidator contract) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = await base.SendAsync(request, cancellationToken);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        string? body = null;
        if (ContractValidator.IsJson(mediaType))
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        var path = request.RequestUri!.AbsolutePath;
        var violations = contract.Check(request.Method.Method, path, (int)response.StatusCode, mediaType, body);
        if (violations.Count == 0) return response;
        response.Dispose();
        throw new ContractViolationException(
            $"{request.Method.Method} {path} answered {(int)response.StatusCode} {mediaType ?? "(no content type)"}, which does not conform to openapi.yaml: " +
            string.Join(" | ", violations) + (body is null ? "" : $". Body: {Truncate(body)}"));
    }

    private static string Truncate(string body) => body.Length <= 2000 ? body : body[..2000] + "…";
}

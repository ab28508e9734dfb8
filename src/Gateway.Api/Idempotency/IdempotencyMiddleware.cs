using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Idempotency;

/// <summary>Marks an endpoint as honouring the <c>Idempotency-Key</c> header.</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class IdempotentAttribute : Attribute;

/// <summary>
/// <c>Idempotency-Key</c> (IETF draft-ietf-httpapi-idempotency-key-header) on endpoints marked <see cref="IdempotentAttribute"/>:
/// <list type="bullet">
/// <item>the key is scoped to the API key, and fingerprinted with the method, path and canonical JSON body;</item>
/// <item>the first response is stored for <see cref="IdempotencyOptions.Ttl"/> and replayed (with
/// <c>Idempotency-Replayed: true</c>) to repeats, which send no second command;</item>
/// <item>a repeat that arrives while the first is running waits for it;</item>
/// <item>the same key with another request is <c>422 idempotency-key-reused</c>;</item>
/// <item>responses that say the command was surely not carried out (429, 503, 500, a client that went away), or that
/// its outcome is not known (504), are not stored, so a retry with the same key executes: a create's retry then finds
/// the call its first try placed (see <c>CallsApi.CreateCall</c>) instead of replaying "we do not know" forever.</item>
/// </list>
/// Failures are turned into problem+json here by the same <see cref="IExceptionHandler"/>s as everywhere, so the problem
/// can be stored and replayed too.
/// </summary>
internal sealed class IdempotencyMiddleware(RequestDelegate next, IIdempotencyStore store, IOptions<IdempotencyOptions> options,
    IEnumerable<IExceptionHandler> exceptionHandlers, IProblemDetailsService problems, ILogger<IdempotencyMiddleware> logger)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotency-Replayed";
    private static readonly HashSet<string> NotReplayed = new(StringComparer.OrdinalIgnoreCase) { "Date", "Server", "Transfer-Encoding", "Content-Length" };

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IdempotentAttribute>() is null ||
            !context.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            await next(context);
            return;
        }
        var ct = context.RequestAborted;
        var key = values.ToString();
        if (values.Count != 1 || key.Length is 0 or > 255 || key.Any(c => c is < '!' or > '~'))
        {
            await WriteProblemAsync(context, ProblemTypes.InvalidIdempotencyKey,
                "Idempotency-Key must be one value of 1 to 255 visible ASCII characters (a UUID is a good choice).");
            return;
        }

        var scopedKey = (context.User.KeyName() ?? "-") + "\n" + key;
        var fingerprint = await FingerprintAsync(context.Request, ct);
        while (true)
        {
            switch (await store.TryBeginAsync(scopedKey, fingerprint, ct))
            {
                case IdempotencyBegin.Completed done when done.Fingerprint == fingerprint:
                    await ReplayAsync(context, done.Response);
                    return;
                case IdempotencyBegin.InProgress running when running.Fingerprint == fingerprint:
                    await running.Finished.WaitAsync(ct);
                    continue;
                case IdempotencyBegin.Completed or IdempotencyBegin.InProgress:
                    await WriteProblemAsync(context, ProblemTypes.IdempotencyKeyReused,
                        "This Idempotency-Key was first used with a different request (method, path or body); use a new key for a new request.");
                    return;
                default:
                    await ExecuteAsync(context, scopedKey, fingerprint);
                    return;
            }
        }
    }

    private async Task ExecuteAsync(HttpContext context, string scopedKey, string fingerprint)
    {
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        var stored = false;
        try
        {
            try
            {
                await next(context);
            }
            catch (Exception exception) when (!context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
            {
                buffer.SetLength(0);
                context.Response.Clear();
                var handled = false;
                foreach (var handler in exceptionHandlers)
                    if (handled = await handler.TryHandleAsync(context, exception, context.RequestAborted)) break;
                if (!handled) throw;
            }

            var status = context.Response.StatusCode;
            var storable = status is not (429 or 500 or 503 or 504) && !context.RequestAborted.IsCancellationRequested;
            var headers = storable ? ReplayedHeaders(context.Response) : [];
            context.Response.Body = original;
            // The length is known: the response goes out in one write, not as chunks and a terminating chunk after it.
            context.Response.ContentLength = buffer.Length;
            buffer.Position = 0;
            try
            {
                await buffer.CopyToAsync(original, context.RequestAborted);
                await original.FlushAsync(context.RequestAborted);
            }
            finally
            {
                // Stored once the response is on its way, not before: the client does not wait for the commit, and the
                // claim holds any repeat until the response is stored (or the key freed). Stored even when the client
                // went away meanwhile: the command was carried out all the same.
                if (storable) stored = await TryStoreAsync(scopedKey, fingerprint, new StoredResponse(status, headers, buffer.ToArray()));
            }
        }
        finally
        {
            context.Response.Body = original;
            if (!stored) await store.ReleaseAsync(scopedKey, CancellationToken.None);
        }
    }

    private static List<KeyValuePair<string, string>> ReplayedHeaders(HttpResponse response) =>
        [.. response.Headers
            .Where(h => !NotReplayed.Contains(h.Key))
            .Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString()))];

    /// <summary>Stores the response; a failure is logged, not thrown: the client already has its answer, and the freed
    /// key makes a repeat execute again (a create's repeat then finds the call its first try placed).</summary>
    private async Task<bool> TryStoreAsync(string scopedKey, string fingerprint, StoredResponse response)
    {
        try
        {
            await store.CompleteAsync(scopedKey, fingerprint, response, options.Value.Ttl, CancellationToken.None);
            return true;
        }
        catch (Exception e)
        {
            logger.LogError(e, "The response to an Idempotency-Key request was sent but could not be stored; a repeat of the request executes again");
            return false;
        }
    }

    private static async Task ReplayAsync(HttpContext context, StoredResponse response)
    {
        context.Response.StatusCode = response.StatusCode;
        foreach (var (name, value) in response.Headers) context.Response.Headers[name] = value;
        context.Response.Headers[ReplayedHeader] = "true";
        context.Response.ContentLength = response.Body.Length;
        await context.Response.Body.WriteAsync(response.Body, context.RequestAborted);
    }

    private async Task WriteProblemAsync(HttpContext context, ProblemType type, string detail)
    {
        context.Response.StatusCode = type.Status;
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = Problems.Create(type, detail) });
    }

    /// <summary>SHA-256 over method, path and the body; a JSON body is canonicalised first (member order and
    /// whitespace do not matter), anything else is taken byte for byte.</summary>
    private static async Task<string> FingerprintAsync(HttpRequest request, CancellationToken ct)
    {
        request.EnableBuffering();
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, ct);
        request.Body.Position = 0;

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(request.Method + " " + request.Path + "\n"));
        var bytes = body.ToArray();
        try
        {
            using var document = JsonDocument.Parse(bytes);
            using var canonical = new MemoryStream();
            using (var writer = new Utf8JsonWriter(canonical)) WriteCanonical(writer, document.RootElement);
            hash.AppendData(canonical.ToArray());
        }
        catch (JsonException)
        {
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}

using System.ComponentModel;
using System.IO.Pipelines;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Gateway.Api.Auth;
using Gateway.Api.Errors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Gateway.Api.Streaming;

/// <summary>Marks endpoints whose requests stay open as long as a stream: the per-key concurrency limit and the request
/// timeout do not apply to them (the per-key rate limit still counts each connection attempt).</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class LongLivedStreamAttribute : Attribute;

/// <summary><c>GET /calls/stream</c>: the call stream as server-sent events, for clients without SignalR.</summary>
public static class CallStreamApi
{
    public const string Transport = "sse";

    public static RouteGroupBuilder MapCallStreamApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/calls/stream")
            .WithTags("Call events")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .WithMetadata(new LongLivedStreamAttribute())
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        group.DisableRequestTimeout();

        group.MapGet("", StreamCalls)
            .WithName("StreamCalls")
            .WithSummary("Stream call events (server-sent events)")
            .WithDescription(
                "A text/event-stream of the calls the API key may see: 'event: snapshot' first (the calls as of its cursor; " +
                "reset=true when a resume could not be replayed), then 'event: call' per call event, in the order the gateway " +
                "saw them. Every message has 'id: {cursor}' and JSON 'data:' (CallSnapshotMessage, CallEventMessage, " +
                "EventsDroppedMessage). Reconnect with Last-Event-ID (EventSource does it by itself) or ?lastEventId= to get " +
                "only what was missed. A client too slow for its buffer gets 'event: dropped' and the response ends; " +
                "reconnecting resumes after its id. Comment lines (': heartbeat') keep an idle stream open.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .AddOpenApiOperationTransformer(DescribeStreamAsync);

        return group;
    }

    /// <summary>The 200 response carries three kinds of message: its schema is one of the three, and says so.</summary>
    private static async Task DescribeStreamAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (operation.Responses?.TryGetValue("200", out var ok) != true || ok!.Content?.TryGetValue("text/event-stream", out var media) != true || context.Document is null)
            return;
        var kinds = new List<IOpenApiSchema>();
        foreach (var type in new[] { typeof(CallSnapshotMessage), typeof(CallEventMessage), typeof(EventsDroppedMessage) })
        {
            var schema = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
            // The generator inlines the calls of a snapshot; they are the REST API's CallResource.
            if (schema.Properties?.TryGetValue("calls", out var calls) == true && calls is OpenApiSchema array)
                array.Items = new OpenApiSchemaReference(nameof(Calls.CallResource), context.Document);
            context.Document.AddComponent(type.Name, schema);
            kinds.Add(new OpenApiSchemaReference(type.Name, context.Document));
        }
        media!.Schema = new OpenApiSchema { OneOf = kinds };
        if (ok is OpenApiResponse response)
            response.Description = "The stream: 'event: snapshot' (CallSnapshotMessage), then 'event: call' (CallEventMessage) per event, and " +
                                   "'event: dropped' (EventsDroppedMessage) before the server ends a stream that fell behind; every message " +
                                   "has 'id: {cursor}' and one line of JSON 'data:'.";
    }

    public static async Task<Results<CallStreamResult, ValidationProblem, ProblemHttpResult>> StreamCalls(
        HttpContext context, CallStreamService streams, IOptions<StreamingOptions> options,
        [Description("all (default), address or call.")] string? scope = null,
        [Description("With scope=address: the SIP address (user@domain or sip:user@domain).")] string? address = null,
        [Description("With scope=call: the call's id or the SIP Call-ID of one of its legs.")] string? callId = null,
        [Description("Resume after this cursor (the Last-Event-ID header wins when both are sent).")] string? lastEventId = null,
        [FromHeader(Name = "Last-Event-ID"), Description("Resume after this cursor (sent by EventSource when it reconnects).")] string? lastEventIdHeader = null)
    {
        var connection = streams.Open(context.TraceIdentifier, Transport, context.User, maxSubscriptions: 1);
        try
        {
            var resume = string.IsNullOrEmpty(lastEventIdHeader) ? lastEventId : lastEventIdHeader;
            await streams.SubscribeAsync(connection, new CallStreamSubscribeRequest
            {
                Scope = scope, Address = address, CallId = callId, AfterCursor = string.IsNullOrEmpty(resume) ? null : resume,
            }, context.RequestAborted);
            return new CallStreamResult(connection, options.Value, streams.SseJson);
        }
        catch (CallStreamException e)
        {
            await connection.DisposeAsync();
            return e.Kind switch
            {
                CallStreamErrorKind.Forbidden => Problems.Result(ProblemTypes.OutOfScope, "The API key does not cover the subscription's address or call."),
                CallStreamErrorKind.NotFound => Problems.Result(ProblemTypes.CallNotFound, e.Message),
                _ => Problems.Validation(new Dictionary<string, string[]> { [e.Field == "afterCursor" ? "lastEventId" : e.Field ?? "scope"] = [e.Message] }),
            };
        }
    }
}

/// <summary>Writes a subscribed connection as <c>text/event-stream</c> until the client goes (or is dropped).</summary>
public sealed class CallStreamResult : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    private readonly CallStreamConnection _connection;
    private readonly StreamingOptions _options;
    private readonly JsonSerializerOptions _json;

    internal CallStreamResult(CallStreamConnection connection, StreamingOptions options, JsonSerializerOptions json)
    {
        _connection = connection;
        _options = options;
        _json = json;
    }

    public int? StatusCode => StatusCodes.Status200OK;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        await using var connection = _connection;
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-store";
        // Reverse proxies (nginx) must pass each message on at once.
        response.Headers["X-Accel-Buffering"] = "no";
        httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // The stream ends when the client goes or the gateway stops (the client then reconnects with its Last-Event-ID).
        var stopping = httpContext.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted, stopping);
        var aborted = ended.Token;
        using var sink = new ServerSentEventsSink(response.BodyWriter, _json, _options.HeartbeatInterval);
        try
        {
            await sink.WriteRetryAsync(_options.SseRetry, aborted);
            await connection.RunAsync(sink, aborted);
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away mid-write, or the gateway is stopping.
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(CallEventMessage), ["text/event-stream"]));
    }
}

/// <summary>Server-sent events on a response: <c>event:</c>, <c>id:</c> (the cursor) and one line of JSON <c>data:</c>.</summary>
internal sealed class ServerSentEventsSink(PipeWriter writer, JsonSerializerOptions json, TimeSpan heartbeat) : ICallStreamSink, IDisposable
{
    // Enough to batch a burst into few writes, small enough that a long replay streams out as it goes.
    private const int FlushThreshold = 32 * 1024;
    private readonly Utf8JsonWriter _json = new(Stream.Null);

    public TimeSpan? HeartbeatInterval => heartbeat;

    public async ValueTask WriteRetryAsync(TimeSpan retry, CancellationToken cancellationToken)
    {
        WriteAscii($"retry: {(long)retry.TotalMilliseconds}\n\n");
        await writer.FlushAsync(cancellationToken);
    }

    public ValueTask SendSnapshotAsync(CallSnapshotMessage message, CancellationToken cancellationToken) =>
        WriteAsync("snapshot", message.Cursor, message, cancellationToken);

    public ValueTask SendEventAsync(CallEventMessage message, CancellationToken cancellationToken) =>
        WriteAsync("call", message.Cursor, message, cancellationToken);

    public async ValueTask<bool> SendDroppedAsync(EventsDroppedMessage message, CancellationToken cancellationToken)
    {
        // The id is the resume point, so EventSource's automatic reconnect asks for exactly what was dropped.
        await WriteAsync("dropped", message.Cursor, message, cancellationToken);
        await writer.FlushAsync(cancellationToken);
        return true;
    }

    public async ValueTask SendHeartbeatAsync(CancellationToken cancellationToken)
    {
        WriteAscii(": heartbeat\n\n");
        await writer.FlushAsync(cancellationToken);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await writer.FlushAsync(cancellationToken);

    private async ValueTask WriteAsync<T>(string type, string cursor, T message, CancellationToken cancellationToken)
    {
        WriteAscii($"event: {type}\nid: {cursor}\ndata: ");
        _json.Reset(writer);
        JsonSerializer.Serialize(_json, message, json);
        _json.Flush();
        WriteAscii("\n\n");
        if (!writer.CanGetUnflushedBytes || writer.UnflushedBytes >= FlushThreshold) await writer.FlushAsync(cancellationToken);
    }

    public void Dispose() => _json.Dispose();

    private void WriteAscii(string text)
    {
        var span = writer.GetSpan(text.Length);
        var written = Encoding.ASCII.GetBytes(text, span);
        writer.Advance(written);
    }
}

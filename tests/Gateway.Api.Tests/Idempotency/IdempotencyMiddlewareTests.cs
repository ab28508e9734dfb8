using System.Text;
using Gateway.Api.Configuration;
using Gateway.Api.Idempotency;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Idempotency;

/// <summary>The middleware on a bare <see cref="HttpContext"/>: what it puts on the wire, which the test host's client
/// (it buffers and measures every body) cannot show. Without a length Kestrel sends the buffered response as chunks and
/// a terminating chunk in a second write, and the client waits for that one.</summary>
public sealed class IdempotencyMiddlewareTests
{
    [Fact]
    public async Task TheFirstResponseIsSentWithItsLengthNotAsChunks()
    {
        var body = """{"id":"c-1","state":"requested"}"""u8.ToArray();
        var middleware = Middleware(async context =>
        {
            context.Response.StatusCode = 202;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });
        var context = Request();
        var wire = new MemoryStream();
        context.Response.Body = wire;

        await middleware.InvokeAsync(context);

        Assert.Equal(body.Length, context.Response.ContentLength);
        Assert.Equal(body, wire.ToArray());
    }

    private static IdempotencyMiddleware Middleware(RequestDelegate next)
    {
        var services = new ServiceCollection().AddOptions().AddProblemDetails().BuildServiceProvider();
        return new IdempotencyMiddleware(next,
            new InMemoryIdempotencyStore(Microsoft.Extensions.Options.Options.Create(new IdempotencyOptions()), TimeProvider.System),
            Microsoft.Extensions.Options.Options.Create(new IdempotencyOptions()), [], services.GetRequiredService<IProblemDetailsService>());
    }

    private static DefaultHttpContext Request()
    {
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(null, new EndpointMetadataCollection(new IdempotentAttribute()), "create"));
        context.Request.Method = "POST";
        context.Request.Path = "/calls";
        context.Request.Headers[IdempotencyMiddleware.HeaderName] = "k-1";
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("""{"from":"sip:alice@example.com","to":"sip:bob@example.com"}"""));
        return context;
    }
}

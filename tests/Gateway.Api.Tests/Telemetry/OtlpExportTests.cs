using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Gateway.Api.Hosting;
using Gateway.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Gateway.Api.Tests.Telemetry;

/// <summary>
/// <c>Gateway:Telemetry:Traces:Exporter=Otlp</c> really sends spans to the collector named by <c>OtlpEndpoint</c>: a
/// loopback OTLP/gRPC receiver (Kestrel on HTTP/2 without TLS, answering the TraceService Export call as a collector
/// does) gets the gateway's span with its service name.
/// </summary>
[Collection(TracingCollection.Name)]
public sealed class OtlpExportTests
{
    private const string ExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WithTheOtlpExporterTheGatewaysSpansReachTheConfiguredCollector()
    {
        var received = new ConcurrentQueue<(string Path, string ContentType, byte[] Body)>();
        await using var collector = await StartCollectorAsync(received);
        var endpoint = collector.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["Gateway:Telemetry:Traces:Exporter"] = "Otlp";
        builder.Configuration["Gateway:Telemetry:Traces:OtlpEndpoint"] = endpoint;
        builder.AddGatewayTracing();
        using var host = builder.Build();
        var provider = host.Services.GetRequiredService<TracerProvider>();

        using (var span = GatewayTracing.StartCallSpan("otlp.export.check", ActivityKind.Internal, "call-otlp-1", traceParent: null))
            Assert.NotNull(span); // the provider listens to the gateway's source
        Assert.True(provider.ForceFlush(10_000), "the exporter did not flush within 10 s");

        var (path, contentType, body) = Assert.Single(received);
        Assert.Equal(ExportPath, path);
        Assert.StartsWith("application/grpc", contentType, StringComparison.Ordinal);
        // The protobuf message carries its strings as UTF-8: the span's name and the resource's service.name.
        var text = Encoding.UTF8.GetString(body);
        Assert.Contains("otlp.export.check", text, StringComparison.Ordinal);
        Assert.Contains(TracingHostingExtensions.ServiceName, text, StringComparison.Ordinal);
    }

    /// <summary>An OTLP/gRPC trace receiver: records each request and answers an empty ExportTraceServiceResponse with
    /// grpc-status 0.</summary>
    private static async Task<WebApplication> StartCollectorAsync(ConcurrentQueue<(string, string, byte[])> received)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapPost(ExportPath, async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            received.Enqueue((context.Request.Path.Value ?? "", context.Request.ContentType ?? "", body.ToArray()));
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[5], context.RequestAborted); // uncompressed, length 0
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.StartAsync(Ct);
        return app;
    }
}

using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.Calls.Events;
using Gateway.Api.Json;
using Gateway.Api.Streaming;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Hosting;

/// <summary>The call stream: the event log fed by the call event publisher, SignalR (<c>/hubs/calls</c>) and SSE (<c>/calls/stream</c>).</summary>
public static class StreamingHostingExtensions
{
    public static IHostApplicationBuilder AddCallStreaming(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddMetrics();
        services.AddSingleton<CallStreamMetrics>();
        services.AddSingleton<CallEventLog>();
        services.AddSingleton<ICallEventConsumer>(sp => sp.GetRequiredService<CallEventLog>());
        services.AddSingleton<CallStreamService>();
        services.AddSignalR(o =>
            {
                o.EnableDetailedErrors = false;
                o.MaximumParallelInvocationsPerClient = 1;
            })
            .AddJsonProtocol(o =>
            {
                // As strict as the REST API: a misspelt member (say "afterCurser") or one given twice is an error, not
                // silently a snapshot.
                o.PayloadSerializerOptions.ApplyClientRules().Converters.Add(new CallEventMessageConverter());
            });
        services.AddOptions<HubOptions>().Configure<IOptions<StreamingOptions>>((hub, streaming) =>
            hub.StatefulReconnectBufferSize = streaming.Value.StatefulReconnectBufferBytes);
        return builder;
    }

    public static WebApplication MapCallStreaming(this WebApplication app)
    {
        app.MapCallStreamApi();
        app.MapHub<CallsHub>(CallsHub.Path, o => o.AllowStatefulReconnects = true)
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .DisableRequestTimeout()
            .WithMetadata(new LongLivedStreamAttribute());
        return app;
    }
}

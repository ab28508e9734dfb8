using System.Diagnostics;
using System.Text.Json.Nodes;
using Gateway.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace Gateway.Api.Tests.Telemetry;

/// <summary><c>Gateway:Telemetry:Traces</c> and <c>Gateway:Telemetry:Logs</c> as an operator sets them.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class TelemetryConfigurationTests
{
    [Fact]
    public void WithoutAnExporterNoTracerProviderIsRegistered()
    {
        using var host = Build(new() { ["Gateway:Telemetry:Traces:Exporter"] = "None" });

        Assert.Null(host.Services.GetService<TracerProvider>());
    }

    [Theory]
    [InlineData("Console")]
    [InlineData("Otlp")]
    public void AnExporterRegistersATracerProvider(string exporter)
    {
        using var host = Build(new()
        {
            ["Gateway:Telemetry:Traces:Exporter"] = exporter,
            ["Gateway:Telemetry:Traces:OtlpEndpoint"] = "http://127.0.0.1:4317",
        });

        Assert.NotNull(host.Services.GetService<TracerProvider>());
    }

    [Fact]
    public void JsonLogLinesCarryTheTraceIdTheSpanIdAndTheCallId()
    {
        var original = Console.Out;
        var captured = new StringWriter();
        string output;
        using var source = new ActivitySource("Gateway.Api.Tests.Logs");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        Activity? span;
        Console.SetOut(TextWriter.Synchronized(captured));
        try
        {
            using (var host = Build(new() { ["Gateway:Telemetry:Logs:Format"] = "Json" }))
            {
                var logger = host.Services.GetRequiredService<ILogger<TelemetryConfigurationTests>>();
                using (span = source.StartActivity("work"))
                using (logger.BeginScope("Call {CallId}", "call-json-1"))
                {
                    logger.LogInformation("json-log-marker {Value}", 42);
                }
            } // disposing the host flushes the console logger
            output = captured.ToString();
        }
        finally
        {
            Console.SetOut(original);
        }

        var line = Assert.Single(output.Split('\n'), l => l.Contains("json-log-marker", StringComparison.Ordinal));
        var entry = JsonNode.Parse(line)!.AsObject();
        Assert.Equal("Information", (string?)entry["LogLevel"]);
        Assert.Equal("json-log-marker 42", (string?)entry["Message"]);
        var scopes = entry["Scopes"]!.AsArray().Select(s => s as JsonObject).OfType<JsonObject>().ToList();
        Assert.Contains(scopes, s => (string?)s["TraceId"] == span!.TraceId.ToHexString() && (string?)s["SpanId"] == span.SpanId.ToHexString());
        Assert.Contains(scopes, s => (string?)s["CallId"] == "call-json-1");
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        foreach (var (key, value) in settings) builder.Configuration[key] = value;
        builder.AddGatewayTracing();
        return builder.Build();
    }
}

/// <summary>Tests that replace <see cref="Console.Out"/> run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console";
}

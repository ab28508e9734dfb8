using System.Diagnostics;
using System.Xml.Linq;
using Gateway.Api.Commands;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Gateway.Api.Tests.Metrics;

/// <summary><see cref="CommandMetrics"/>: each command's duration, by node and by what became of it.</summary>
public sealed class CommandMetricsTests
{
    private readonly System.Diagnostics.Metrics.IMeterFactory _meters = TestMeters.NewFactory();

    private string OutcomeOf(string node, Exception? error)
    {
        using var collector = new MetricCollector<double>(_meters, CommandMetrics.MeterName, "gateway.command.duration");
        new CommandMetrics(_meters).CommandFinished(node, Stopwatch.GetTimestamp(), error);
        var measurement = Assert.Single(collector.GetMeasurementSnapshot());
        Assert.Equal(node, measurement.Tags["node"]);
        Assert.True(measurement.Value >= 0);
        return (string)measurement.Tags["outcome"]!;
    }

    private static CommandFailedException Failed(Exception inner) => new("create", "commands.active-calls.example.com", inner);

    private static XmppStanzaErrorException StanzaError(string condition) =>
        new(new StanzaError(StanzaErrorType.Cancel, condition, null), new XElement("iq"));

    [Fact]
    public void AnAnsweredCommandIsASuccess() => Assert.Equal("success", OutcomeOf("create", null));

    [Fact]
    public void AnIqWithoutAnswerIsATimeout() => Assert.Equal("timeout", OutcomeOf("terminate", Failed(new XmppIqTimeoutException("id1", TimeSpan.FromSeconds(5)))));

    [Fact]
    public void TheComponentRefusingIsRejectedButTheComponentMissingIsUnavailable()
    {
        Assert.Equal("rejected", OutcomeOf("create", Failed(StanzaError("bad-request"))));
        Assert.Equal("unavailable", OutcomeOf("create", Failed(StanzaError("service-unavailable"))));
    }

    [Fact]
    public void ALostStreamIsUnavailableAndAClientThatLeftIsCanceled()
    {
        Assert.Equal("unavailable", OutcomeOf("cancel", Failed(new XmppConnectionLostException("lost"))));
        Assert.Equal("canceled", OutcomeOf("cancel", new OperationCanceledException()));
    }
}

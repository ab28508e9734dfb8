using Gateway.Xmpp.Pool;

namespace Gateway.Xmpp.Tests.Pool;

/// <summary>Which pooled connection a command goes out on (<see cref="XmppClientPool.LeaseForCommand{TConnection}"/>):
/// never the event connection while another is up, so no IQ result queues behind a notification in the server's Nagle
/// buffer. Connections are named; the load is each one's outstanding IQs, null when it is down.</summary>
public sealed class CommandLeaseTests
{
    private static readonly string[] Pool = ["gw-0", "gw-1", "gw-2"];

    private static string? Lease(Dictionary<string, int?> load, string? eventReceiver, params string[] tried) =>
        XmppClientPool.LeaseForCommand(Pool, eventReceiver, tried, c => load[c]);

    [Fact]
    public void AnIdlePoolSendsCommandsOnTheFirstConnectionThatIsNotTheEventConnection()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = 0, ["gw-1"] = 0, ["gw-2"] = 0 };

        Assert.Equal("gw-1", Lease(load, eventReceiver: "gw-0"));
    }

    [Fact]
    public void TheLeastLoadedCommandConnectionWinsEvenWhenTheEventConnectionIsIdle()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = 0, ["gw-1"] = 5, ["gw-2"] = 3 };

        Assert.Equal("gw-2", Lease(load, eventReceiver: "gw-0"));
    }

    [Fact]
    public void TheEventConnectionCarriesCommandsOnlyWhenNoOtherIsEstablished()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = 7, ["gw-1"] = null, ["gw-2"] = null };

        Assert.Equal("gw-0", Lease(load, eventReceiver: "gw-0"));
    }

    [Fact]
    public void AfterEveryCommandConnectionFailedToSendTheEventConnectionIsTriedLast()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = 0, ["gw-1"] = 0, ["gw-2"] = 0 };

        Assert.Equal("gw-0", Lease(load, "gw-0", "gw-1", "gw-2"));
        Assert.Null(Lease(load, "gw-0", "gw-1", "gw-2", "gw-0"));
    }

    [Fact]
    public void WithoutAnEventConnectionEveryEstablishedConnectionCarriesCommands()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = 2, ["gw-1"] = null, ["gw-2"] = 1 };

        Assert.Equal("gw-2", Lease(load, eventReceiver: null));
    }

    [Fact]
    public void NothingIsLeasedWhenNoConnectionIsEstablished()
    {
        var load = new Dictionary<string, int?> { ["gw-0"] = null, ["gw-1"] = null, ["gw-2"] = null };

        Assert.Null(Lease(load, eventReceiver: "gw-0"));
    }
}

using System.Text.Json.Nodes;
using Gateway.Soak.Streams;

namespace Gateway.Soak.Tests;

/// <summary>A stream client's ledger notices every way a stream can let a client down across reconnects.</summary>
public sealed class StreamLedgerTests
{
    private static JsonObject Event(string callId, long sequence, string cursor) => new()
    {
        ["subscriptionId"] = "s1",
        ["cursor"] = cursor,
        ["event"] = new JsonObject
        {
            ["id"] = $"{callId}.{sequence}", ["type"] = "call.updated", ["sequence"] = sequence, ["call"] = new JsonObject { ["id"] = callId },
        },
    };

    [Fact]
    public void EventsInOrderOnceEachAreClean()
    {
        var ledger = new StreamLedger("sse");
        ledger.Event(Event("c1", 1, "10"));
        ledger.Event(Event("c2", 1, "11"));
        ledger.Event(Event("c1", 2, "12"));

        Assert.Empty(ledger.Duplicates);
        Assert.Empty(ledger.DisorderedCalls);
        Assert.Equal([1L, 2L], ledger.SequencesOf("c1"));
        Assert.Equal("12", ledger.Cursor);
        Assert.True(ledger.Has("c2", 1));
        Assert.False(ledger.Has("c2", 2));
    }

    [Fact]
    public void AnEventReplayedAfterAReconnectIsADuplicate()
    {
        var ledger = new StreamLedger("signalr");
        ledger.Event(Event("c1", 1, "10"));
        ledger.Connected();
        ledger.Event(Event("c1", 1, "10"));

        Assert.Equal(["c1.1"], ledger.Duplicates);
        Assert.Equal(2, ledger.Events);
    }

    [Fact]
    public void AnEarlierSequenceAfterALaterOneIsDisorder()
    {
        var ledger = new StreamLedger("sse");
        ledger.Event(Event("c1", 2, "11"));
        ledger.Event(Event("c1", 1, "10"));

        Assert.Equal(["c1"], ledger.DisorderedCalls);
    }

    [Fact]
    public void ResetSnapshotsAndDroppedNoticesAreCountedAndMoveTheCursor()
    {
        var ledger = new StreamLedger("sse");
        ledger.Snapshot(JsonNode.Parse("""{"subscriptionId":"s1","cursor":"5","reset":false,"calls":[]}""")!.AsObject());
        ledger.Snapshot(JsonNode.Parse("""{"subscriptionId":"s2","cursor":"9","reset":true,"calls":[]}""")!.AsObject());
        ledger.Dropped(JsonNode.Parse("""{"subscriptionId":"s2","dropped":3,"cursor":"12"}""")!.AsObject());

        Assert.Equal(1, ledger.ResetSnapshots);
        Assert.Equal(1, ledger.DroppedNotices);
        Assert.Equal("12", ledger.Cursor);
    }
}

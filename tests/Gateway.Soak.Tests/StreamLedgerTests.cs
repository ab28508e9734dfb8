using System.Text.Json.Nodes;
using Gateway.Soak.Streams;

namespace Gateway.Soak.Tests;

/// <summary>A stream client's ledger notices every way a stream can let a client down across reconnects.</summary>
public sealed class StreamLedgerTests
{
    private static JsonObject Event(string callId, long sequence, string cursor, string subscription = "s1") => new()
    {
        ["subscriptionId"] = subscription,
        ["cursor"] = "e-" + cursor,
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
        Assert.Equal("e-12", ledger.Cursor);
        Assert.Empty(ledger.Holes);
        Assert.True(ledger.Has("c2", 1));
        Assert.False(ledger.Has("c2", 2));
    }

    [Fact]
    public void AnEventReplayedAfterAReconnectIsADuplicate()
    {
        var ledger = new StreamLedger("signalr");
        ledger.Event(Event("c1", 1, "10"));
        ledger.Subscribed("s2", "e-9");
        ledger.Event(Event("c1", 1, "10", "s2"));

        Assert.Equal(["c1.1"], ledger.Duplicates);
        Assert.Equal(2, ledger.Events);
    }

    [Fact]
    public void ASkippedLogPositionWithinASubscriptionIsAHole()
    {
        var ledger = new StreamLedger("sse");
        ledger.Event(Event("c1", 1, "10"));
        ledger.Event(Event("c2", 1, "12"));

        Assert.Equal(["s1: 10 → 12"], ledger.Holes);
    }

    [Fact]
    public void AResumeIsCheckedFromItsCursorAlsoWhenItsEventsCameBeforeTheSubscribeAnswer()
    {
        var ledger = new StreamLedger("signalr");
        ledger.Event(Event("c1", 1, "21", "s2"));
        ledger.Subscribed("s2", "e-20");
        ledger.Subscribed("s3", "e-21");
        ledger.Event(Event("c1", 2, "23", "s3"));

        Assert.Equal(["s3: 21 → 23"], ledger.Holes);
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
        ledger.Snapshot(JsonNode.Parse("""{"subscriptionId":"s1","cursor":"e-5","reset":false,"calls":[]}""")!.AsObject());
        ledger.Snapshot(JsonNode.Parse("""{"subscriptionId":"s2","cursor":"e-9","reset":true,"calls":[]}""")!.AsObject());
        ledger.Dropped(JsonNode.Parse("""{"subscriptionId":"s2","dropped":3,"cursor":"e-12"}""")!.AsObject());

        Assert.Equal(1, ledger.ResetSnapshots);
        Assert.Equal(1, ledger.DroppedNotices);
        Assert.Equal("e-12", ledger.Cursor);
        Assert.Empty(ledger.Holes);
    }
}

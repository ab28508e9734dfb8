using System.Xml.Linq;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.PubSub;
using Gateway.Xmpp.Tests.PubSub;

namespace Gateway.Xmpp.Tests.ActiveCalls;

public class ActiveCallItemTests
{
    private const string CreatedActiveCall = """
        <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:22Z">
          <dialog-state>created</dialog-state>
          <to-aor/>
          <call-id>NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.</call-id>
          <from-uri>sip:foo@example.onsip.com</from-uri>
          <to-uri>sip:other@example.onsip.com</to-uri>
          <from-tag>419cce6a</from-tag>
          <to-tag/>
          <branch/>
          <call-setup-id/>
          <from-display/>
          <to-display/>
        </active-call>
        """;

    private const string ConfirmedActiveCall = """
        <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:29:02Z">
          <dialog-state>confirmed</dialog-state>
          <to-aor>foo@example.onsip.com</to-aor>
          <call-id>ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.</call-id>
          <from-uri>sip:other@example.onsip.com</from-uri>
          <to-uri>sip:foo@example.onsip.com</to-uri>
          <from-tag>53498145</from-tag>
          <to-tag>as11173b9d</to-tag>
          <branch>z9hG4bK7bb6.4c45a015.0</branch>
          <call-setup-id/>
          <from-display>Bert</from-display>
          <to-display>Ernie</to-display>
        </active-call>
        """;

    private static readonly string[] FixedOrder =
        ["dialog-state", "to-aor", "call-id", "from-uri", "to-uri", "from-tag", "to-tag", "branch", "call-setup-id", "from-display", "to-display"];

    [Fact]
    public void TheCreatedFixtureParsesThroughTheEventAndItem()
    {
        var published = Assert.IsType<PubSubEvent.ItemsPublished>(Assert.Single(PubSubEvent.Parse(XElement.Parse(PubSubEventTests.CreatedFixture))));

        Assert.True(ActiveCallItem.TryParse(Assert.Single(published.Items), out var call));

        Assert.Equal(new ActiveCallItem
        {
            DialogState = ActiveCallDialogState.Created,
            CallId = "NjEwOWU2ZTE5YzUwNjI0MjQ1ZGYwZjE0ZWVkNTA2NDU.",
            FromUri = "sip:foo@example.onsip.com",
            ToUri = "sip:other@example.onsip.com",
            FromTag = "419cce6a",
            PublishTime = new DateTimeOffset(2009, 11, 23, 23, 28, 22, TimeSpan.Zero),
        }, call);
        Assert.Equal("created", call.DialogStateText);
        Assert.Null(call.ToAor);
        Assert.Null(call.ToTag);
        Assert.Null(call.Branch);
        Assert.Null(call.CallSetupId);
    }

    [Fact]
    public void TheRequestedFixtureParses()
    {
        var call = ActiveCallItem.Parse(XElement.Parse("""
            <active-call xmlns="onsip:active-calls" publish-time="2009-11-23T23:28:40Z">
              <dialog-state>requested</dialog-state>
              <to-aor>foo@example.onsip.com</to-aor>
              <call-id>ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.</call-id>
              <from-uri>sip:other@example.onsip.com</from-uri>
              <to-uri>sip:foo@example.onsip.com</to-uri>
              <from-tag>53498145</from-tag>
              <to-tag/>
              <branch>z9hG4bK7bb6.4c45a015.0</branch>
              <call-setup-id/>
              <from-display/>
              <to-display/>
            </active-call>
            """));

        Assert.Equal(ActiveCallDialogState.Requested, call.DialogState);
        Assert.Equal("foo@example.onsip.com", call.ToAor);
        Assert.Equal("z9hG4bK7bb6.4c45a015.0", call.Branch);
        Assert.Null(call.ToTag);
        Assert.Null(call.FromDisplay);
    }

    [Fact]
    public void TheConfirmedFixtureParses()
    {
        var call = ActiveCallItem.Parse(XElement.Parse(ConfirmedActiveCall));

        Assert.Equal(new ActiveCallItem
        {
            DialogState = ActiveCallDialogState.Confirmed,
            ToAor = "foo@example.onsip.com",
            CallId = "ZDU0YTJhMWEzZWI3NWNmNmRkZTBhN2VmZmRmMGNkNGQ.",
            FromUri = "sip:other@example.onsip.com",
            ToUri = "sip:foo@example.onsip.com",
            FromTag = "53498145",
            ToTag = "as11173b9d",
            Branch = "z9hG4bK7bb6.4c45a015.0",
            FromDisplay = "Bert",
            ToDisplay = "Ernie",
            PublishTime = new DateTimeOffset(2009, 11, 23, 23, 29, 2, TimeSpan.Zero),
        }, call);
    }

    [Fact]
    public void TheCallSetupLegCarriesItsCallSetupId()
    {
        // createdWithReferEvent, as the doc describes it.
        var call = ActiveCallItem.Parse(XElement.Parse(CreatedActiveCall.Replace("<call-setup-id/>", "<call-setup-id>4eea2554</call-setup-id>", StringComparison.Ordinal)));
        Assert.Equal((ActiveCallDialogState.Created, "4eea2554"), (call.DialogState, call.CallSetupId));
    }

    [Fact]
    public void ToXmlWritesTheFixedChildOrderWithEmptyElements()
    {
        var xml = new ActiveCallItem { CallId = "c1", DialogState = ActiveCallDialogState.Requested }.ToXml();

        Assert.Equal(Ns.ActiveCalls + "active-call", xml.Name);
        Assert.Equal(FixedOrder, xml.Elements().Select(e => e.Name.LocalName));
        Assert.All(xml.Elements(), e => Assert.Equal(Ns.ActiveCalls, e.Name.Namespace));
        Assert.Equal(["requested", "c1"], xml.Elements().Where(e => !e.IsEmpty).Select(e => e.Value));
        Assert.Null(xml.Attribute("publish-time")); // nothing to write
        Assert.Equal(
            """<active-call xmlns="onsip:active-calls"><dialog-state>requested</dialog-state><to-aor /><call-id>c1</call-id><from-uri /><to-uri /><from-tag /><to-tag /><branch /><call-setup-id /><from-display /><to-display /></active-call>""",
            xml.ToString(SaveOptions.DisableFormatting));
    }

    [Theory]
    [InlineData(CreatedActiveCall)]
    [InlineData(ConfirmedActiveCall)]
    public void FixturesAreReproducedByToXml(string fixture) =>
        PubSubXml.AssertEqual(fixture, ActiveCallItem.Parse(XElement.Parse(fixture)).ToXml());

    [Fact]
    public void RoundTripThroughTheWire()
    {
        var call = new ActiveCallItem
        {
            DialogStateText = "early",
            ToAor = "foo@example.onsip.com",
            CallId = "abc@10.0.0.1",
            FromUri = "sip:foo@example.onsip.com;sync=clk123",
            ToUri = "sip:bar@example.onsip.com",
            FromTag = "f",
            ToTag = "t",
            Branch = "z9hG4bK1",
            CallSetupId = "4eea2554",
            FromDisplay = "\"Bob Parr\"",
            ToDisplay = "Helen",
            PublishTime = new DateTimeOffset(2024, 2, 29, 13, 14, 15, TimeSpan.FromHours(2)),
        };

        var wire = call.ToXml().ToString(SaveOptions.DisableFormatting);
        var back = ActiveCallItem.Parse(XElement.Parse(wire));

        Assert.Equal(call, back);
        Assert.Equal(ActiveCallDialogState.Unknown, back.DialogState);
        Assert.Contains("publish-time=\"2024-02-29T11:14:15Z\"", wire, StringComparison.Ordinal);
    }

    [Fact]
    public void MetacharactersAndCdataTerminatorsAreEscapedOnTheWire()
    {
        var call = new ActiveCallItem { FromDisplay = "Bert & <Ernie> ]]> 'x' \"y\"", ToDisplay = "<![CDATA[ ]]>" };

        var wire = call.ToXml().ToString(SaveOptions.DisableFormatting);

        Assert.DoesNotContain("]]>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("<Ernie>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("<![CDATA[", wire, StringComparison.Ordinal);
        Assert.Contains("<from-display>Bert &amp; &lt;Ernie&gt; ]]&gt; 'x' \"y\"</from-display>", wire, StringComparison.Ordinal);
        Assert.Equal(call, ActiveCallItem.Parse(XElement.Parse(wire)));
    }

    [Fact]
    public void CharactersXmlCannotCarryAreDroppedRatherThanBreakingTheWriter()
    {
        var call = new ActiveCallItem { FromDisplay = "A\u0001B\uD800C \U0001F600" };

        var wire = call.ToXml().ToString(SaveOptions.DisableFormatting);

        Assert.Equal("ABC \U0001F600", ActiveCallItem.Parse(XElement.Parse(wire)).FromDisplay);
    }

    [Fact]
    public void UnknownChildrenAreIgnoredAndTheFirstOfARepeatWins()
    {
        // The legacy (pre-2009-05) format plus an unknown nested element and a repeated child.
        var call = ActiveCallItem.Parse(XElement.Parse("""
            <active-call xmlns="onsip:active-calls">
              <dialog-state>created</dialog-state>
              <uac-aor>jill@example.com</uac-aor>
              <uas-aor>jack@example.com</uas-aor>
              <call-id>123</call-id>
              <extension xmlns="urn:example:x"><call-id>not-this</call-id></extension>
              <call-id>nor-this</call-id>
              <from-uri>sip:jill@example.com</from-uri>
              <to-uri>sip:jack@example.com</to-uri>
              <from-tag>999</from-tag>
              <to-tag>666</to-tag>
            </active-call>
            """));

        Assert.Equal(new ActiveCallItem
        {
            DialogState = ActiveCallDialogState.Created,
            CallId = "123",
            FromUri = "sip:jill@example.com",
            ToUri = "sip:jack@example.com",
            FromTag = "999",
            ToTag = "666",
        }, call);
    }

    [Fact]
    public void NamesAreMatchedCaseInsensitively()
    {
        var call = ActiveCallItem.Parse(XElement.Parse("""
            <Active-Call xmlns="onsip:active-calls" Publish-Time="2009-11-23T23:28:22Z">
              <Dialog-State>CONFIRMED</Dialog-State>
              <CALL-ID>x</CALL-ID>
              <To-Tag>t</To-Tag>
            </Active-Call>
            """));

        Assert.Equal(ActiveCallDialogState.Confirmed, call.DialogState);
        Assert.Equal("CONFIRMED", call.DialogStateText);
        Assert.Equal(("x", "t"), (call.CallId, call.ToTag));
        Assert.Equal(new DateTimeOffset(2009, 11, 23, 23, 28, 22, TimeSpan.Zero), call.PublishTime);
    }

    [Fact]
    public void UnknownDialogStatesKeepTheirText()
    {
        var call = ActiveCallItem.Parse(XElement.Parse("""<active-call xmlns="onsip:active-calls"><dialog-state> early </dialog-state></active-call>"""));

        Assert.Equal((ActiveCallDialogState.Unknown, "early"), (call.DialogState, call.DialogStateText));
        Assert.Equal("early", call.ToXml().Element(Ns.ActiveCalls + "dialog-state")?.Value);
    }

    [Fact]
    public void DialogStateAndItsTextStayInStep()
    {
        var call = new ActiveCallItem { DialogState = ActiveCallDialogState.Confirmed };
        Assert.Equal("confirmed", call.DialogStateText);

        var unknown = call with { DialogStateText = "terminated" };
        Assert.Equal(ActiveCallDialogState.Unknown, unknown.DialogState);

        var cleared = unknown with { DialogState = ActiveCallDialogState.Unknown };
        Assert.Null(cleared.DialogStateText);
        Assert.NotEqual(unknown, cleared);
    }

    [Fact]
    public void EmptyValuesAreNull()
    {
        var call = new ActiveCallItem { ToTag = "", Branch = "  ", CallId = " c " };
        Assert.Equal((null, null, "c"), (call.ToTag, call.Branch, call.CallId));

        var parsed = ActiveCallItem.Parse(XElement.Parse("""<active-call xmlns="onsip:active-calls" publish-time="not a time"><to-tag>   </to-tag></active-call>"""));
        Assert.Null(parsed.ToTag);
        Assert.Null(parsed.PublishTime);
        Assert.Equal(ActiveCallDialogState.Unknown, parsed.DialogState);
    }

    [Fact]
    public void TryParseTakesOnlyActiveCallPayloads()
    {
        Assert.False(ActiveCallItem.TryParse(new PubSubItem("1", "/a/b", null), out _));
        Assert.False(ActiveCallItem.TryParse(new PubSubItem("1", "/a/b", XElement.Parse("<user-agent xmlns='onsip:user-agents'/>")), out _));
        Assert.True(ActiveCallItem.TryParse(new PubSubItem("1", "/a/b", XElement.Parse(ConfirmedActiveCall)), out var call));
        Assert.Equal("as11173b9d", call.ToTag);
    }

    [Fact]
    public void OnlyTheFirstActiveCallOfAnItemIsUsed()
    {
        var message = PubSubEventTests.Envelope($"""
            <item id="i1">{ConfirmedActiveCall}{CreatedActiveCall}</item>
            """);

        var item = Assert.Single(Assert.IsType<PubSubEvent.ItemsPublished>(Assert.Single(PubSubEvent.Parse(message))).Items);

        Assert.True(ActiveCallItem.TryParse(item, out var call));
        Assert.Equal(ActiveCallDialogState.Confirmed, call.DialogState);
    }

    [Fact]
    public void ParseRejectsOtherElements() =>
        Assert.Throws<ArgumentException>(() => ActiveCallItem.Parse(XElement.Parse("<recent-call xmlns='onsip:recent-calls'/>")));
}

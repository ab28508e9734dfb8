using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.Tests.DataForms;

public class DataFormParsingTests
{
    private static XElement SeedForm(string stanza) => XElement.Parse(stanza).Descendants(Ns.DataForms + "x").Single();

    [Fact]
    public void TransferFormFromTheSeedParsesExactly()
    {
        var form = DataForm.Parse(SeedForm(ActiveCallsSeed.TransferMultiStageFormResponse));

        Assert.Equal(DataFormType.Form, form.Type);
        Assert.Equal("Transfer a Call", form.Title);
        Assert.Equal(["Fill out this from to transfer a live call."], form.Instructions);
        Assert.Null(form.FormType);
        Assert.Equal(["call-id", "from-tag", "to-tag", "endpoint", "target-uri"], form.Fields.Select(f => f.Var));
        Assert.All(form.Fields, f => Assert.True(f.Required));
        Assert.Equal(["Call-ID", "From Tag", "To Tag", "Endpoint", "Target SIP URI"], form.Fields.Select(f => f.Label));

        var endpoint = form.GetField("endpoint")!;
        Assert.Equal(FormFieldType.ListSingle, endpoint.Type);
        Assert.Equal([new FormOption("callee", "Callee"), new FormOption("caller", "Caller")], endpoint.Options);
        Assert.Empty(endpoint.Values);
        Assert.Null(endpoint.Value);
        Assert.Equal(FormFieldType.TextSingle, form.GetField("target-uri")!.Type);
    }

    [Fact]
    public void CreateFormFromTheSeedHasAnOptionalCallSetupId()
    {
        var form = DataForm.Parse(SeedForm(ActiveCallsSeed.CreateMultiStageFormResponse));

        Assert.Equal("Create Call", form.Title);
        Assert.Equal(["Enter the SIP addresses of the caller and callee"], form.Instructions);
        Assert.Equal([true, true, false], form.Fields.Select(f => f.Required));
        Assert.Equal(["From", "To", "Call Setup ID"], form.Fields.Select(f => f.Label));
    }

    [Fact]
    public void ResultFormExposesTheFixedCallSetupId()
    {
        var form = DataForm.Parse(SeedForm(ActiveCallsSeed.CreateSuccessResponse));

        Assert.Equal(DataFormType.Result, form.Type);
        Assert.Equal("cqjOO99m", form["call-setup-id"]);
        Assert.Equal("cqjOO99m", form.GetValue("call-setup-id"));
        Assert.Equal(FormFieldType.Fixed, form.Fields.Single().Type);
        Assert.Null(form["missing"]);
        Assert.Empty(form.GetValues("missing"));
    }

    [Fact]
    public void GetValuesGathersRepeatedVarsAsOnSipsAuthResultSendsThem()
    {
        var form = DataForm.Parse(XElement.Parse("""
            <x xmlns="jabber:x:data" type="result">
              <field type="fixed" var="expires"><value>2012-11-13T16:09:58Z</value></field>
              <field type="fixed" var="sip"><value>hiro@example.onsip.com</value></field>
              <field type="fixed" var="sip"><value>hiro_marketing@example.onsip.com</value></field>
            </x>
            """));

        Assert.Equal(["hiro@example.onsip.com", "hiro_marketing@example.onsip.com"], form.GetValues("sip"));
        Assert.Equal("hiro@example.onsip.com", form["sip"]);
        Assert.Equal(3, form.Fields.Length);
    }

    [Fact]
    public void UntypedFieldsAsOxjsSendsThemAreUnspecified()
    {
        var form = DataForm.Parse(XElement.Parse("""
            <x xmlns="jabber:x:data" type="submit">
              <field var="sip-address"><value>hiro@example.onsip.com</value></field>
              <field var="auth-for-all"><value>true</value></field>
            </x>
            """));

        Assert.All(form.Fields, f => Assert.Equal(FormFieldType.Unspecified, f.Type));
        Assert.DoesNotContain(form.ToXml().Descendants(), e => e.Attribute("type") is not null);
    }

    [Fact]
    public void FormTypeIsTheHiddenFormTypeField()
    {
        var form = DataForm.Parse(XElement.Parse("""
            <x xmlns="jabber:x:data" type="submit">
              <field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>
              <field var="pubsub#expire"><value>2012-11-13T16:09:58Z</value></field>
            </x>
            """));

        Assert.Equal("http://jabber.org/protocol/pubsub#subscribe_options", form.FormType);
    }

    [Fact]
    public void DescriptionMultipleValuesAndMultipleInstructionsAreRead()
    {
        var form = DataForm.Parse(XElement.Parse("""
            <x xmlns="jabber:x:data" type="form">
              <instructions>line one</instructions>
              <instructions>line two</instructions>
              <field var="runlevel" type="list-multi" label="Run Modes">
                <desc>Pick the run levels</desc>
                <value>3</value><value>5</value>
                <option label="Single-User"><value>1</value></option>
                <option><value>3</value></option>
                <option><value>5</value></option>
              </field>
            </x>
            """));

        Assert.Null(form.Title);
        Assert.Equal(["line one", "line two"], form.Instructions);
        var field = form.Fields.Single();
        Assert.Equal("Pick the run levels", field.Description);
        Assert.Equal(["3", "5"], field.Values);
        Assert.Equal("3", field.Value);
        Assert.Equal([new FormOption("1", "Single-User"), new FormOption("3"), new FormOption("5")], field.Options);
        Assert.False(field.Required);
    }

    [Theory]
    [InlineData("""<x xmlns="jabber:x:data"/>""")]
    [InlineData("""<x xmlns="jabber:x:data" type="bogus"/>""")]
    [InlineData("""<x xmlns="jabber:x:data" type="form"><field var="a" type="text-huge"/></x>""")]
    [InlineData("""<x xmlns="jabber:x:oob" type="form"/>""")]
    public void MalformedFormsAreProtocolErrors(string xml) =>
        Assert.Throws<XmppProtocolException>(() => DataForm.Parse(XElement.Parse(xml)));

    [Fact]
    public void ReportedAndItemsAreNotModelledButDoNotBreakParsing()
    {
        var form = DataForm.Parse(XElement.Parse("""
            <x xmlns="jabber:x:data" type="result">
              <title>Available Services</title>
              <reported><field var="service" label="Service"/></reported>
              <item><field var="service"><value>httpd</value></field></item>
            </x>
            """));

        Assert.Equal("Available Services", form.Title);
        Assert.Empty(form.Fields);
    }

    [Fact]
    public void FromParentFindsTheFormOrReturnsNull()
    {
        var command = XElement.Parse(ActiveCallsSeed.CreateSingleStageRequest).Element(Ns.Commands + "command")!;
        Assert.Equal("AbCd1234", DataForm.FromParent(command)!["call-setup-id"]);
        Assert.Null(DataForm.FromParent(new XElement("empty")));
    }

    [Theory]
    [InlineData(nameof(ActiveCallsSeed.CreateSingleStageRequest))]
    [InlineData(nameof(ActiveCallsSeed.CreateMultiStageFormResponse))]
    [InlineData(nameof(ActiveCallsSeed.CreateSuccessResponse))]
    [InlineData(nameof(ActiveCallsSeed.TerminateMultiStageFormResponse))]
    [InlineData(nameof(ActiveCallsSeed.TransferSingleStageRequest))]
    [InlineData(nameof(ActiveCallsSeed.TransferErrorResponse))]
    public void SeedFormsWithoutOutOfOrderChildrenSerializeBackToTheSameXml(string seedName)
    {
        var stanza = (string)typeof(ActiveCallsSeed).GetField(seedName)!.GetValue(null)!;
        var x = SeedForm(stanza);

        var form = DataForm.Parse(x);

        XmlAssert.Equivalent(x, form.ToXml());
        Assert.Equal(form, DataForm.Parse(form.ToXml()));
    }

    [Fact]
    public void SerializationPutsRequiredBeforeOptionsWhereOnSipPutItAfter()
    {
        var x = SeedForm(ActiveCallsSeed.TransferMultiStageFormResponse);
        var endpoint = DataForm.Parse(x).GetField("endpoint")!.ToXml();

        Assert.Equal(["required", "option", "option"], endpoint.Elements().Select(e => e.Name.LocalName));
        Assert.Equal(DataForm.Parse(x), DataForm.Parse(DataForm.Parse(x).ToXml()));
    }

    [Fact]
    public void FieldChildrenAreWrittenInSchemaOrderWithTypeOmittedWhenUnspecified()
    {
        var field = new FormField("endpoint", FormFieldType.ListSingle, ["caller"])
        {
            Label = "Endpoint",
            Description = "Which leg to move",
            Required = true,
            Options = [new FormOption("callee", "Callee"), new FormOption("caller", "Caller")],
        };

        Assert.Equal(
            """<field type="list-single" label="Endpoint" var="endpoint" xmlns="jabber:x:data"><desc>Which leg to move</desc><required /><value>caller</value><option label="Callee"><value>callee</value></option><option label="Caller"><value>caller</value></option></field>""",
            field.ToString());
        Assert.Null(new FormField("x").ToXml().Attribute("type"));
    }

    [Fact]
    public void FormsCompareByValue()
    {
        var a = DataForm.Submit().Add("from", "sip:foo@example.onsip.com", FormFieldType.TextSingle).Build();
        var b = DataForm.Parse(XElement.Parse(a.ToString()));

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, a with { Title = "x" });
    }
}

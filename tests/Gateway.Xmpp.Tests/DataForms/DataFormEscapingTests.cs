using System.Xml.Linq;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.Tests.DataForms;

public class DataFormEscapingTests
{
    private const string Nasty = """<a>&"']]>""";

    [Fact]
    public void MetacharactersInValuesAreEscapedOnTheWireAndRoundTrip()
    {
        var form = DataForm.Submit().Add("to", Nasty, FormFieldType.TextSingle).Build();

        var wire = form.ToString();

        Assert.Contains("<value>&lt;a&gt;&amp;\"']]&gt;</value>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("<a>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("]]>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("CDATA", wire, StringComparison.Ordinal);
        Assert.Equal(Nasty, DataForm.Parse(XElement.Parse(wire))["to"]);
    }

    [Fact]
    public void MetacharactersInAttributesTitleInstructionsAndOptionsRoundTrip()
    {
        var form = new DataForm(DataFormType.Form,
        [
            new FormField("v" + Nasty, FormFieldType.ListSingle, [Nasty])
            {
                Label = Nasty,
                Description = Nasty,
                Options = [new FormOption(Nasty, Nasty)],
            },
        ])
        {
            Title = Nasty,
            Instructions = [Nasty],
        };

        var wire = form.ToString();

        Assert.Contains("label=\"&lt;a&gt;&amp;&quot;']]&gt;\"", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("<a>", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("]]>", wire, StringComparison.Ordinal);
        var back = DataForm.Parse(XElement.Parse(wire));
        Assert.Equal(form, back);
        Assert.Equal(Nasty, back.Title);
        Assert.Equal(Nasty, back.Fields[0].Options[0].Label);
        Assert.Equal(Nasty, back.GetValue("v" + Nasty));
    }

    [Fact]
    public void WhitespaceAndNonAsciiValuesAreKeptAsIs()
    {
        const string value = "  Zoë 👋 \t ";
        var form = DataForm.Submit().Add("name", value).Build();
        Assert.Equal(value, DataForm.Parse(XElement.Parse(form.ToString(), LoadOptions.PreserveWhitespace))["name"]);
    }
}

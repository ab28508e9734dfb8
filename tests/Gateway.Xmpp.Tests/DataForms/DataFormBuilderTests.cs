using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.Tests.DataForms;

public class DataFormBuilderTests
{
    [Fact]
    public void SubmitBuilderProducesTheSeedsCreateForm()
    {
        var form = DataForm.Submit()
            .Add("from", "sip:foo@example.onsip.com", FormFieldType.TextSingle)
            .Add("to", "sip:bar@example.onsip.com", FormFieldType.TextSingle)
            .Add("call-setup-id", "AbCd1234", FormFieldType.TextSingle)
            .Build();

        var seed = XElement.Parse(ActiveCallsSeed.CreateSingleStageRequest).Descendants(Ns.DataForms + "x").Single();
        XmlAssert.Equivalent(seed, form.ToXml());
    }

    [Fact]
    public void BuilderIsImmutable()
    {
        var template = DataForm.Submit().Add("call-id", "a", FormFieldType.TextSingle);
        var one = template.Add("endpoint", "caller", FormFieldType.ListSingle).Build();
        var two = template.Add("endpoint", "callee", FormFieldType.ListSingle).Build();

        Assert.Single(template.Build().Fields);
        Assert.Equal("caller", one["endpoint"]);
        Assert.Equal("callee", two["endpoint"]);
    }

    [Fact]
    public void TypedHelpersWriteBooleanAndMultiValues()
    {
        var form = DataForm.Submit()
            .WithFormType("urn:example:form")
            .Add("auth-for-all", true)
            .AddValues("lines", ["a", "b"], FormFieldType.TextMulti)
            .Add("empty", null, FormFieldType.Hidden)
            .Build();

        Assert.Equal("urn:example:form", form.FormType);
        Assert.Equal(DataForm.FormTypeVar, form.Fields[0].Var);
        Assert.Equal(FormFieldType.Boolean, form.GetField("auth-for-all")!.Type);
        Assert.Equal("true", form["auth-for-all"]);
        Assert.Equal(["a", "b"], form.GetValues("lines"));
        Assert.Empty(form.GetField("empty")!.Values);
    }

    [Fact]
    public void WithFormTypeReplacesAnEarlierOne()
    {
        var form = DataForm.Submit().WithFormType("urn:a").Add("x", "1").WithFormType("urn:b").Build();
        Assert.Equal("urn:b", form.FormType);
        Assert.Equal([DataForm.FormTypeVar, "x"], form.Fields.Select(f => f.Var));
    }

    [Fact]
    public void TitleAndInstructionsAreWritten()
    {
        var xml = DataForm.Create(DataFormType.Form).WithTitle("Create Call").WithInstructions("one").WithInstructions("two").Build().ToXml();
        Assert.Equal(["title", "instructions", "instructions"], xml.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("form", (string?)xml.Attribute("type"));
    }

    [Fact]
    public void DuplicateVarsAreRejectedExceptInResults()
    {
        Assert.Throws<ArgumentException>(() => DataForm.Submit().Add("a", "1").Add("a", "2"));
        var result = DataForm.Create(DataFormType.Result)
            .Add("sip", "a@example.com", FormFieldType.Fixed)
            .Add("sip", "b@example.com", FormFieldType.Fixed)
            .Build();
        Assert.Equal(["a@example.com", "b@example.com"], result.GetValues("sip"));
    }

    [Theory]
    [InlineData(FormFieldType.Boolean, "yes")]
    [InlineData(FormFieldType.Boolean, "TRUE")]
    [InlineData(FormFieldType.JidSingle, "not a jid")]
    public void TypedValuesAreChecked(FormFieldType type, string value) =>
        Assert.Throws<ArgumentException>(() => DataForm.Submit().Add("f", value, type));

    [Fact]
    public void SingleValuedTypesRejectSeveralValues() =>
        Assert.Throws<ArgumentException>(() => DataForm.Submit().AddValues("f", ["a", "b"], FormFieldType.TextSingle));

    [Fact]
    public void CharactersXmlCannotCarryAreRejected() =>
        Assert.Throws<ArgumentException>(() => DataForm.Submit().Add("f", "bell\u0007"));

    [Fact]
    public void FieldsWithoutVarMustBeFixed()
    {
        Assert.Throws<ArgumentException>(() => DataForm.Submit().Add(new FormField(null, FormFieldType.TextSingle)));
        var form = DataForm.Create(DataFormType.Result).Add(new FormField(null, FormFieldType.Fixed, ["Section"])).Build();
        Assert.Null(form.Fields.Single().Var);
    }

    [Fact]
    public void CancelFormIsEmpty() =>
        Assert.Equal("""<x type="cancel" xmlns="jabber:x:data" />""", DataForm.Cancel().ToString());
}

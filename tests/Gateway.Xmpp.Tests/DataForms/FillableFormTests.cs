using System.Xml.Linq;
using Gateway.Testing.Xmpp;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;

namespace Gateway.Xmpp.Tests.DataForms;

public class FillableFormTests
{
    private static DataForm SeedForm(string stanza) =>
        DataForm.Parse(XElement.Parse(stanza).Descendants(Ns.DataForms + "x").Single());

    private static FillableForm Kitchen() => new DataForm(DataFormType.Form,
    [
        new FormField(DataForm.FormTypeVar, FormFieldType.Hidden, ["urn:example"]),
        new FormField("intro", FormFieldType.Fixed, ["Read this"]),
        new FormField(null, FormFieldType.Fixed, ["Section"]),
        new FormField("flag", FormFieldType.Boolean),
        new FormField("who", FormFieldType.JidSingle),
        new FormField("invitees", FormFieldType.JidMulti),
        new FormField("pick", FormFieldType.ListSingle) { Options = [new FormOption("a"), new FormOption("b")] },
        new FormField("free-pick", FormFieldType.ListSingle),
        new FormField("picks", FormFieldType.ListMulti) { Options = [new FormOption("x"), new FormOption("y")] },
        new FormField("notes", FormFieldType.TextMulti),
        new FormField("secret", FormFieldType.TextPrivate) { Required = true },
        new FormField("plain"),
        new FormField("defaulted", FormFieldType.TextSingle, ["dflt"]) { Required = true },
    ]).ToFillable();

    [Fact]
    public void FillingTheSeedsTransferFormProducesTheSeedsSubmission()
    {
        var fillable = SeedForm(ActiveCallsSeed.TransferMultiStageFormResponse).ToFillable();
        fillable.SetAnswer("call-id", "a-valid-call-id");
        fillable.SetAnswer("from-tag", "the-from-tag");
        fillable.SetAnswer("to-tag", "the-to-tag");
        fillable.SetAnswer("endpoint", "caller");
        fillable.SetAnswer("target-uri", "sip:bob@example.com");

        var submit = fillable.ToSubmitForm();

        var seed = XElement.Parse(ActiveCallsSeed.TransferMultiStageSubmission).Descendants(Ns.DataForms + "x").Single();
        XmlAssert.Equivalent(seed, submit.ToXml());
    }

    [Fact]
    public void MissingRequiredFieldsAreListedInFormOrderAndBlockSubmission()
    {
        var fillable = SeedForm(ActiveCallsSeed.TransferMultiStageFormResponse).ToFillable();
        fillable.SetAnswer("from-tag", "f");
        fillable.SetAnswer("call-id", "");

        Assert.Equal(["call-id", "to-tag", "endpoint", "target-uri"], fillable.MissingRequiredFields);
        Assert.False(fillable.IsComplete);
        var ex = Assert.Throws<MissingRequiredFieldsException>(fillable.ToSubmitForm);
        Assert.Equal(["call-id", "to-tag", "endpoint", "target-uri"], ex.MissingFields);
        Assert.Contains("call-id, to-tag, endpoint, target-uri", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionalFieldsWithoutAnAnswerAreLeftOut()
    {
        var fillable = SeedForm(ActiveCallsSeed.CreateMultiStageFormResponse).ToFillable();
        fillable.SetAnswer("from", "sip:foo@example.onsip.com");
        fillable.SetAnswer("to", "sip:bar@example.onsip.com");

        Assert.True(fillable.IsComplete);
        Assert.Equal(["from", "to"], fillable.ToSubmitForm().Fields.Select(f => f.Var));
    }

    [Fact]
    public void OnlyFormTypeFormsCanBeFilled() =>
        Assert.Throws<ArgumentException>(() => new FillableForm(SeedForm(ActiveCallsSeed.CreateSuccessResponse)));

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("true")]
    [InlineData("false")]
    public void BooleanAcceptsTheFourLexicalForms(string value)
    {
        var form = Kitchen();
        form.SetAnswer("flag", value);
        Assert.Equal([value], form.GetAnswer("flag"));
    }

    [Theory]
    [InlineData("flag", "yes")]
    [InlineData("flag", "True")]
    [InlineData("who", "@example.com")]
    [InlineData("who", "a<b@example.com")]
    [InlineData("pick", "c")]
    [InlineData("picks", "z")]
    [InlineData("intro", "anything")]
    [InlineData("nope", "anything")]
    [InlineData("plain", "ctl\u0001")]
    public void InvalidAnswersAreRejected(string var, string value)
    {
        var form = Kitchen();
        Assert.Throws<ArgumentException>(() => form.SetAnswer(var, value));
        Assert.Throws<ArgumentException>(() => form.SetAnswer(var, [value]));
    }

    [Theory]
    [InlineData("flag")]
    [InlineData("who")]
    [InlineData("pick")]
    [InlineData("secret")]
    [InlineData("plain")]
    [InlineData(DataForm.FormTypeVar)]
    public void SingleValuedTypesRejectSeveralValues(string var) =>
        Assert.Throws<ArgumentException>(() => Kitchen().SetAnswer(var, ["a", "b"]));

    [Fact]
    public void FixedFieldsCannotBeAnswered()
    {
        var form = Kitchen();
        var ex = Assert.Throws<ArgumentException>(() => form.SetAnswer("intro", "x"));
        Assert.Contains("fixed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidAnswersOfEveryTypeAreSubmittedWithTheirTypes()
    {
        var form = Kitchen();
        form.SetAnswer("flag", true);
        form.SetAnswer("who", Jid.Parse("Hiro@Example.onsip.com/psi"));
        form.SetAnswer("invitees", ["a@example.com", "b@example.com"]);
        form.SetAnswer("pick", "b");
        form.SetAnswer("free-pick", "anything goes without options");
        form.SetAnswer("picks", ["x", "y"]);
        form.SetAnswer("notes", "line 1\r\nline 2\nline 3");
        form.SetAnswer("secret", "pw");
        form.SetAnswer("plain", "text");

        var submit = form.ToSubmitForm();

        Assert.Equal(DataFormType.Submit, submit.Type);
        Assert.Equal(
            [DataForm.FormTypeVar, "flag", "who", "invitees", "pick", "free-pick", "picks", "notes", "secret", "plain", "defaulted"],
            submit.Fields.Select(f => f.Var));
        Assert.Equal("urn:example", submit.FormType);
        Assert.Equal("true", submit["flag"]);
        Assert.Equal("hiro@example.onsip.com/psi", submit["who"]);
        Assert.Equal(["line 1", "line 2", "line 3"], submit.GetValues("notes"));
        Assert.Equal("dflt", submit["defaulted"]);
        Assert.Equal(FormFieldType.JidMulti, submit.GetField("invitees")!.Type);
        Assert.Equal(FormFieldType.Unspecified, submit.GetField("plain")!.Type);
        Assert.All(submit.Fields, f => Assert.True(f.Label is null && f.Options.IsEmpty && !f.Required));
    }

    [Fact]
    public void DefaultsSatisfyRequiredFieldsUntilAnsweredWithNothing()
    {
        var form = Kitchen();
        form.SetAnswer("secret", "pw");
        Assert.True(form.IsComplete);

        form.SetAnswer("defaulted", "mine");
        Assert.Equal(["mine"], form.GetAnswer("defaulted"));

        form.SetAnswer("defaulted", []);
        Assert.Equal(["defaulted"], form.MissingRequiredFields);
    }

    [Fact]
    public void HiddenFieldsCanBeAnsweredAsOnSipsAuthFormNeeds()
    {
        var form = new DataForm(DataFormType.Form,
        [
            new FormField("sip-address", FormFieldType.TextSingle) { Required = true },
            new FormField("password", FormFieldType.TextPrivate) { Required = true },
            new FormField("jid", FormFieldType.Hidden),
        ]).ToFillable();
        form.SetAnswer("sip-address", "foo@example.onsip.com");
        form.SetAnswer("password", "goodpassword");
        form.SetAnswer("jid", "alice@example.com/gateway");

        Assert.Equal("alice@example.com/gateway", form.ToSubmitForm()["jid"]);
    }

    [Fact]
    public void UnknownFieldsCannotBeReadEither() =>
        Assert.Throws<ArgumentException>(() => Kitchen().GetAnswer("nope"));
}

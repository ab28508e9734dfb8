using ActiveCalls.Service.Commands;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.DataForms;

namespace ActiveCalls.Service.Tests.Commands;

public class CommandValidatorTests
{
    private static DataForm Form(params (string Var, string? Value)[] fields) =>
        new(DataFormType.Submit, fields.Select(f => new FormField(f.Var, values: f.Value is null ? [] : [f.Value])));

    [Fact]
    public void ACreateWithoutCallSetupIdLeavesItToTheComponent()
    {
        var result = CommandValidator.Validate("create", Form(("from", "sip:foo@example.com"), ("to", "sip:bar@example.com")));

        Assert.Equal(new CreateCallInput("sip:foo@example.com", "sip:bar@example.com", null), result.Input);
        Assert.Empty(result.Errors);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void AnEmptyCallSetupIdCountsAsAbsent(string? value)
    {
        var result = CommandValidator.Validate("create", Form(("from", "sip:foo@example.com"), ("to", "sip:bar@example.com"), ("call-setup-id", value)));

        Assert.Null(Assert.IsType<CreateCallInput>(result.Input).CallSetupId);
    }

    [Theory]
    [InlineData("AbCd1234")]
    [InlineData("cqjOO99m")]
    [InlineData("12345678")]
    [InlineData("abcdefgh")]
    public void ACallSetupIdIsEightAsciiLettersOrDigits(string value) => Assert.True(CommandValidator.IsCallSetupId(value));

    [Theory]
    [InlineData("1352821510415667")] // what OnSIP's engineer sent and got echoed: refused here, see CommandValidator
    [InlineData("abc1234")]
    [InlineData("abcd12345")]
    [InlineData("abcd-123")]
    [InlineData("abcd 123")]
    [InlineData("abcd123é")]
    [InlineData("abcd123٣")]
    public void AnyOtherCallSetupIdIsRefused(string value)
    {
        Assert.False(CommandValidator.IsCallSetupId(value));
        var result = CommandValidator.Validate("create", Form(("from", "sip:foo@example.com"), ("to", "sip:bar@example.com"), ("call-setup-id", value)));
        Assert.Equal([$"Field 'call-setup-id' is in an invalid format with value: {value}"], result.Errors);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("843a8c2a-0ea5-4b2c@10.0.0.1")]
    [InlineData("a<b>&c\"d'e]]>f")]
    [InlineData("!%*_+`'~()<>:\\\"/[]?{}")]
    public void DialogValuesMayHoldAnyPrintableCharacters(string value) => Assert.True(CommandValidator.IsDialogValue(value));

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("a\nb")]
    [InlineData("a\u0085b")]
    [InlineData("a\u00a0b")]
    [InlineData("a\u007fb")]
    public void DialogValuesHoldNoWhiteSpaceOrControlCharacters(string value) => Assert.False(CommandValidator.IsDialogValue(value));

    [Fact]
    public void DialogValuesAreBoundedInLength()
    {
        Assert.True(CommandValidator.IsDialogValue(new string('x', CommandValidator.MaxDialogValueLength)));
        Assert.False(CommandValidator.IsDialogValue(new string('x', CommandValidator.MaxDialogValueLength + 1)));
    }

    [Fact]
    public void ATransferReadsEveryField()
    {
        var result = CommandValidator.Validate("transfer", Form(("call-id", "c"), ("from-tag", "f"), ("to-tag", "t"), ("endpoint", "callee"), ("target-uri", "sip:15555554567@example.com")));

        Assert.Equal(new TransferCallInput(new DialogId("c", "f", "t"), TransferEndpoint.Callee, "sip:15555554567@example.com"), result.Input);
    }

    [Theory]
    [InlineData("Caller")]
    [InlineData("both")]
    [InlineData("target")]
    public void TheEndpointIsCallerOrCalleeExactly(string endpoint)
    {
        var result = CommandValidator.Validate("transfer", Form(("call-id", "c"), ("from-tag", "f"), ("to-tag", "t"), ("endpoint", endpoint), ("target-uri", "sip:b@example.com")));

        Assert.Equal([$"Field 'endpoint' is in an invalid format with value: {endpoint}"], result.Errors);
    }

    [Fact]
    public void EveryProblemIsReportedInTheFormsFieldOrder()
    {
        var result = CommandValidator.Validate("transfer", Form(("target-uri", "bob"), ("endpoint", "x"), ("call-id", "a b")));

        Assert.Null(result.Input);
        Assert.Equal(
        [
            "Field 'call-id' is in an invalid format with value: a b",
            "Field 'from-tag' is required",
            "Field 'to-tag' is required",
            "Field 'endpoint' is in an invalid format with value: x",
            "Field 'target-uri' is in an invalid format with value: bob",
        ], result.Errors);
    }

    [Fact]
    public void UnknownFieldsAreIgnoredAndValuesTrimmed()
    {
        var result = CommandValidator.Validate("cancel", Form(("FORM_TYPE", "whatever"), ("call-id", "\n  abc@host \t"), ("from-tag", "ft"), ("to-tag", "ignored by cancel")));

        Assert.Equal(new CancelCallInput("abc@host", "ft"), result.Input);
    }

    [Fact]
    public void TheFirstOfARepeatedFieldCounts()
    {
        var form = new DataForm(DataFormType.Submit,
            [new FormField("call-id", values: ["first", "second"]), new FormField("call-id", values: ["third"]), new FormField("from-tag", values: ["f"])]);

        Assert.Equal(new CancelCallInput("first", "f"), CommandValidator.Validate("cancel", form).Input);
    }

    [Fact]
    public void LongValuesAreQuotedShortenedWithoutSplittingASurrogatePair()
    {
        var value = new string('a', CommandValidator.MaxQuotedValueLength - 1) + "😀tail";

        var quoted = CommandValidator.Quote(value);

        Assert.Equal(new string('a', CommandValidator.MaxQuotedValueLength - 1) + "…", quoted);
        Assert.Equal("short", CommandValidator.Quote("short"));
    }
}

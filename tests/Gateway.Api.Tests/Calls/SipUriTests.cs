using Gateway.Api.Auth;
using Gateway.Api.Calls;
using Gateway.Api.CallEventsSubscription;

namespace Gateway.Api.Tests.Calls;

/// <summary>The gateway's one SIP address grammar, input by input, and the places that use it.</summary>
public sealed class SipUriTests
{
    [Theory]
    // input, PSTN shorthand allowed, normalised (or null), what the error starts with
    [InlineData("sip:alice@example.com", false, "sip:alice@example.com", null)]
    [InlineData("  SIP:Alice@EXAMPLE.com ", false, "sip:Alice@example.com", null)]      // scheme and domain lower-cased, user kept
    [InlineData("sip:a.b-c_d!~*'()&=+$,/@example.com", false, "sip:a.b-c_d!~*'()&=+$,/@example.com", null)]
    [InlineData("sip:%41lice@10.0.0.1", false, "sip:%41lice@10.0.0.1", null)]
    [InlineData("sip:+15555554567@example.onsip.com", false, "sip:+15555554567@example.onsip.com", null)]
    [InlineData("15555554567@example.onsip.com", true, "sip:15555554567@example.onsip.com", null)] // OnSIP's PSTN shorthand
    [InlineData("15555554567@example.onsip.com", false, null, "must be a SIP URI 'sip:user@domain'.")]
    [InlineData("alice@example.com", true, null, "must be a SIP URI 'sip:user@domain', or a phone number")]
    [InlineData("sips:alice@example.com", false, null, "must be a sip: URI")]
    [InlineData("tel:+15555554567", true, null, "must be a sip: URI")]
    [InlineData("sip:alice@example.com;transport=tcp", false, null, "must be a plain 'sip:user@domain' without URI parameters")]
    [InlineData("sip:alice@example.com?subject=x", false, null, "must be a plain 'sip:user@domain' without URI parameters")]
    [InlineData("sip:alice@example.com:5060", false, null, "must be a plain 'sip:user@domain' without a port.")]
    [InlineData("sip:ali ce@example.com", false, null, "must be a SIP URI 'sip:user@domain' (user:")]
    [InlineData("sip:@example.com", false, null, "must be a SIP URI 'sip:user@domain' (user:")]
    [InlineData("sip:alice@-example.com", false, null, "must be a SIP URI 'sip:user@domain' (user:")]
    [InlineData("", false, null, "is required.")]
    public void ValidateNormalisesOrSaysWhy(string input, bool pstnShorthand, string? normalized, string? problem)
    {
        var error = SipUri.Validate(input, pstnShorthand, out var result);

        if (problem is null) Assert.Null(error);
        else Assert.StartsWith(problem, error, StringComparison.Ordinal);
        Assert.Equal(normalized ?? "", result);
    }

    [Theory]
    [InlineData("sip:alice@Example.COM", "alice@example.com")]
    [InlineData("alice@example.com", "alice@example.com")]
    [InlineData("sips:alice@example.com", "alice@example.com")]
    [InlineData("\"Alice\" <sip:alice@example.com;transport=tcp>", "alice@example.com")] // display name, parameters
    [InlineData("sip:alice@example.com:5060?subject=x", "alice@example.com")]           // port and headers
    [InlineData("alice", null)]
    [InlineData("@example.com", null)]
    [InlineData("alice@", null)]
    [InlineData("", null)]
    public void AddressOfIsTheUserAtDomainOfAUriOrAor(string input, string? address) =>
        Assert.Equal(address, SipUri.AddressOf(input));

    [Theory]
    [InlineData("alice@example.com", "alice", "example.com")]
    [InlineData("sip:alice@example.com", "alice", "example.com")]
    [InlineData("SIP:*@Example.com", "*", "Example.com")] // patterns split too; the parts are not checked
    [InlineData("1555*@example.com", "1555*", "example.com")]
    [InlineData("alice", null, null)]
    [InlineData("a@b@example.com", null, null)]
    [InlineData("@example.com", null, null)]
    [InlineData("alice@", null, null)]
    public void TrySplitCutsAtTheOneAt(string input, string? user, string? domain)
    {
        var split = SipUri.TrySplit(input, out var u, out var d);

        Assert.Equal(user is not null, split);
        Assert.Equal((user ?? "", domain ?? ""), (u, d));
    }

    [Theory]
    [InlineData("Example.COM", "example.com")]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("a-b.example", "a-b.example")]
    [InlineData("-a.example", null)]
    [InlineData("exa mple.com", null)]
    [InlineData("example.com:5060", null)]
    [InlineData("*", null)]
    [InlineData("", null)]
    public void HostIsAHostNameOrIpv4AddressLowerCased(string input, string? host) => Assert.Equal(host, SipUri.Host(input));

    [Theory]
    [InlineData("alice", true)]
    [InlineData("+1-555(555).4567", true)]
    [InlineData("%41lice", true)]
    [InlineData("ali ce", false)]
    [InlineData("alice;x", false)]
    [InlineData("%4", false)]
    [InlineData("", false)]
    public void IsUserFollowsTheUserPartGrammar(string input, bool valid) => Assert.Equal(valid, SipUri.IsUser(input));

    [Theory]
    [InlineData("*", true)]
    [InlineData("alice@example.com", true)]
    [InlineData("sip:alice@example.com", true)]
    [InlineData("*@example.com", true)]
    [InlineData("alice@*", false)]
    [InlineData("al*ce@example.com", false)]
    [InlineData("ali ce@example.com", false)]
    [InlineData("alice@exa_mple.com", false)]
    [InlineData("alice", false)]
    public void ApiKeyScopesUseTheSameGrammar(string scope, bool wellFormed) => Assert.Equal(wellFormed, AddressScope.IsWellFormed(scope));

    [Theory]
    [InlineData("alice@example.com", true)]
    [InlineData("sip:alice@example.com", true)]
    [InlineData("alice", false)]
    [InlineData("alice@example.com;x=y", false)]
    [InlineData("sips:alice@example.com", false)]
    public void TheEventsAccountUsesTheSameGrammar(string sipAddress, bool valid)
    {
        var options = new EventsOptions { SipAddress = sipAddress, Password = "pw" };

        var result = new EventsOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        Assert.Equal(sipAddress.Replace("sip:", "", StringComparison.Ordinal), options.FollowedUsers().Single().Address);
    }
}

using Gateway.Api.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Tests.Api;

/// <summary>Bad configuration stops the gateway at start-up with a message that names the setting.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("Gateway:Xmpp:Jid", "", "Gateway:Xmpp:Jid is required")]
    [InlineData("Gateway:Xmpp:Jid", "gateway@example.com/res", "is not a bare JID")]
    [InlineData("Gateway:Xmpp:IqTimeout", "00:00:20", "must exceed Gateway:Xmpp:IqTimeout")]
    [InlineData("Gateway:Xmpp:TrustedCertificatePath", "/nonexistent/ca.crt", "does not exist")]
    [InlineData("Gateway:Components:Commands", "user@commands.example.com", "is not a component JID")]
    [InlineData("Gateway:ApiKeys:0:Hash", "alice-key-0123456789", "not the key itself")]
    [InlineData("Gateway:ApiKeys:0:Scopes:0", "alice@*", "is not \"user@domain\"")]
    [InlineData("Gateway:Http:MaxRequestBodyBytes", "10", "MaxRequestBodyBytes must be between")]
    public async Task InvalidSettingsStopTheGatewayAtStartWithAClearMessage(string key, string value, string expected)
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings[key] = value;

        var error = Assert.ThrowsAny<Exception>(() => gateway.CreateClient());

        var validation = error as OptionsValidationException ?? error.InnerException as OptionsValidationException
            ?? (error as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(validation);
        Assert.Contains(expected, validation.Message, StringComparison.Ordinal);
    }
}

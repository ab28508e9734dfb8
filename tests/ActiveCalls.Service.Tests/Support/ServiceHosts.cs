using System.Globalization;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Sip.CallControl;
using Gateway.Xmpp.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>The service as Program.cs builds it, configured for the test Prosody with the demo users, and the given
/// call-control engine instead of the SIP one.</summary>
internal static class ServiceHosts
{
    public static IHost Build(ProsodyFixture prosody, ICallControlEngine engine)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = prosody.Domain,
            ["ActiveCalls:XmppHost"] = prosody.Host,
            ["ActiveCalls:ComponentPort"] = prosody.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = prosody.ComponentSecret,
            ["ActiveCalls:UsersFile"] = TestUsers.DevUsersFile(),
        });
        builder.AddActiveCallsService();
        builder.Services.AddSingleton(engine);
        return builder.Build();
    }
}

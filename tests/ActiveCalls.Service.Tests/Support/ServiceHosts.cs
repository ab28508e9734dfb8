using System.Globalization;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing.Prosody;
using Gateway.Xmpp.Client;
using Gateway.Xmpp.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Tests.Support;

/// <summary>The service as Program.cs builds it, configured for the test Prosody with the demo users, and the given
/// call-control engine instead of the SIP one, its database at <paramref name="databasePath"/> (default a new temp file).</summary>
internal static class ServiceHosts
{
    public static IHost Build(ProsodyFixture prosody, ICallControlEngine engine, string? databasePath = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ActiveCalls:Domain"] = prosody.Domain,
            ["ActiveCalls:XmppHost"] = prosody.Host,
            ["ActiveCalls:ComponentPort"] = prosody.ComponentPort.ToString(CultureInfo.InvariantCulture),
            ["ActiveCalls:ComponentSecret"] = prosody.ComponentSecret,
            ["ActiveCalls:UsersFile"] = TestUsers.DevUsersFile(),
            ["ActiveCalls:Storage:DatabasePath"] = databasePath ?? TestDatabase.NewPath(),
        });
        builder.AddActiveCallsService();
        builder.Services.AddSingleton(engine);
        return builder.Build();
    }

    /// <summary>A new account on the test Prosody and a started client of it (the caller disposes it).</summary>
    public static async Task<XmppClient> ConnectClientAsync(ProsodyFixture prosody, CancellationToken cancellationToken)
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..10];
        await prosody.RegisterAsync(user, "client-password-1");
        var client = new XmppClient(new XmppClientOptions
        {
            Jid = new Jid(user, prosody.Domain),
            Password = "client-password-1",
            Host = prosody.Host,
            Port = prosody.C2sPort,
            Tls = { TrustedCertificatePath = prosody.CaCertificatePath },
        });
        try
        {
            await client.StartAsync(cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }
}

using System.Globalization;
using ActiveCalls.Service.Hosting;
using ActiveCalls.Sip.CallControl;
using Gateway.Testing;
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

    /// <summary>A new account on the test server and a started client of it (the caller disposes it).</summary>
    public static async Task<XmppClient> ConnectClientAsync(IXmppServerFixture server, CancellationToken cancellationToken)
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..10];
        await server.RegisterAsync(user, "client-password-1");
        var client = new XmppClient(new XmppClientOptions
        {
            Jid = new Jid(user, server.Domain),
            Password = "client-password-1",
            Host = server.Host,
            Port = server.C2sPort,
            Tls = { TrustedCertificatePath = server.CaCertificatePath },
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

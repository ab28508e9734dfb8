using Gateway.Api.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Replicas;

/// <summary>This process's name among replicas: <c>Gateway:Xmpp:InstanceName</c> (also in its XMPP resources), else
/// the machine name.</summary>
public sealed class ReplicaIdentity(IOptions<XmppOptions> xmpp)
{
    public string Id { get; } = string.IsNullOrEmpty(xmpp.Value.InstanceName) ? Environment.MachineName : xmpp.Value.InstanceName;
}

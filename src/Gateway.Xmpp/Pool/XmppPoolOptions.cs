namespace Gateway.Xmpp.Pool;

public sealed class XmppPoolOptions
{
    /// <summary>Number of connections (one resource each).</summary>
    public int Size { get; set; } = 4;

    /// <summary>Names this process among replicas sharing one account; resources are <c>{ResourcePrefix}-{InstanceName}-{slot}</c>,
    /// stable across reconnects and unique, so no two connections ever fight over a resource.</summary>
    public string InstanceName { get; set; } = Environment.MachineName.ToLowerInvariant();
    public string ResourcePrefix { get; set; } = "gw";

    internal void Validate()
    {
        if (Size is < 1 or > 64) throw new ArgumentException("Pool size must be between 1 and 64.");
        if (string.IsNullOrWhiteSpace(InstanceName) || string.IsNullOrWhiteSpace(ResourcePrefix))
            throw new ArgumentException("InstanceName and ResourcePrefix are required.");
    }
}

using ActiveCalls.Service.PubSub;
using ActiveCalls.Service.Storage;
using ActiveCalls.Sip.CallControl;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Service.Hosting;

/// <summary>
/// What a restarted service does with the state a crash left in its database: it ends every call that was up (BYE in each
/// journalled dialog, CANCEL of each pending INVITE) and retracts the items those calls had published. It does not carry the
/// calls on: that would need the bridge's state (the SDP both sides agreed, a re-INVITE half relayed, a transfer half done)
/// and the transactions in flight, which a B2BUA restarted from a file cannot honestly promise. Subscriptions and grants
/// need nothing: they were loaded with the components and simply go on.
/// </summary>
public sealed class ServiceRecovery(SqliteCallJournal journal, ICallControlEngine engine, ActiveCallsPubSubComponent pubSub, ILogger<ServiceRecovery> logger)
{
    /// <summary>Hangs up every call in the journal (they all belong to an earlier run: this runs before any command is
    /// accepted). Completes when each BYE is answered or timed out.</summary>
    public async Task EndCallsAsync(CancellationToken cancellationToken)
    {
        var calls = journal.Load();
        if (calls.Count == 0) return;
        if (engine is not ThirdPartyCallControlEngine sip)
        {
            logger.LogWarning("{Count} call(s) of an earlier run are in the journal, but the call-control engine is not the SIP one; left as they are", calls.Count);
            return;
        }
        logger.LogWarning("Ending {Count} call(s) an earlier run of the service left up", calls.Count);
        await Task.WhenAll(calls.Select(call => sip.EndRecoveredCallAsync(call, cancellationToken)));
    }

    /// <summary>Retracts the items an earlier run left published, notifying the subscribers.</summary>
    public async Task RetractItemsAsync(CancellationToken cancellationToken)
    {
        var items = pubSub.Store.Recovered;
        if (items.Count == 0) return;
        logger.LogWarning("Retracting {Count} item(s) an earlier run of the service left published", items.Count);
        foreach (var item in items)
            if (pubSub.Store.Users.TryGetAddressOfNode(item.Node, out var address))
                await pubSub.RetractAsync(address, item.Id, cancellationToken);
    }
}

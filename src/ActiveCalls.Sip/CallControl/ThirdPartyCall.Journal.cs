using ActiveCalls.Sip.Dialogs;
using Microsoft.Extensions.Logging;

namespace ActiveCalls.Sip.CallControl;

internal sealed partial class ThirdPartyCall
{
    /// <summary>The call's id in the <see cref="ICallJournal"/>.</summary>
    public string Id { get; } = NewItemId();

    /// <summary>Writes the call's dialogs and pending INVITEs to the journal (when there is one).</summary>
    private void Checkpoint()
    {
        if (_engine.Journal is not { } journal) return;
        var legs = new List<LegRecord>();
        foreach (var party in Parties())
        {
            if (party.Dialog is { State: not DialogState.Terminated } dialog)
                legs.Add(new LegRecord(party.ToString(), dialog.Snapshot(), party.Acked, party.Acked ? null : party.Offer, null, null));
            else if (party.Invite is { IsFinished: false } invite)
                legs.Add(new LegRecord(party.ToString(), null, false, null, invite.Request.ToString(), invite.Destination?.ToString()));
        }
        try
        {
            journal.Save(new CallRecord(Id, Setup.CallSetupId, legs));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogError(e, "{Call}: its dialogs could not be persisted", this);
        }
    }

    /// <summary>Drops the call from the journal once it has ended.</summary>
    private void ForgetInJournal()
    {
        try
        {
            _engine.Journal?.Remove(Id);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Logger.LogError(e, "{Call}: could not be removed from the journal", this);
        }
    }
}

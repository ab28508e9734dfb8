namespace ActiveCalls.Service.PubSub;

/// <summary>Where <see cref="ActiveCallsPubSubComponent"/> keeps its subscriptions beyond the process (see
/// <see cref="Storage.SqliteSubscriptionStore"/>). Each call is made before the answer that depends on it is sent.</summary>
public interface ISubscriptionStore
{
    /// <summary>Adds or replaces a subscription (same subid).</summary>
    void Save(PubSubSubscription subscription);

    void Delete(string subId);

    /// <summary>Every subscription kept, expired ones included (the component prunes them).</summary>
    IReadOnlyList<PubSubSubscription> Load();
}

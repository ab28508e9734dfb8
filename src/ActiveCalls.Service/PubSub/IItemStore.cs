namespace ActiveCalls.Service.PubSub;

/// <summary>Where <see cref="ActiveCallsNodeStore"/> keeps its items beyond the process (see <see cref="Storage.SqliteItemStore"/>).
/// Each call is made before the notification that depends on it is sent.</summary>
public interface IItemStore
{
    /// <summary>Adds or replaces an item (same node and id).</summary>
    void Save(StoredItem item);

    void Delete(string node, string itemId);

    /// <summary>Every item kept, oldest publication first.</summary>
    IReadOnlyList<StoredItem> Load();
}

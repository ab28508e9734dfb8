using Gateway.Api.Idempotency;

namespace Gateway.Api.Tests.Idempotency;

/// <summary>The filter may say "maybe" of a key never stored (it is then read), never "no" of a key that is stored.</summary>
public sealed class StoredKeyFilterTests
{
    [Fact]
    public void AKeyNeverStoredIsNotInTheFilter()
    {
        var filter = new StoredKeyFilter(maxEntries: 1000);

        Assert.False(filter.MayContain("api-key\nk-1"));
    }

    [Fact]
    public void AStoredKeyIsInTheFilterUntilItsRowIsDeleted()
    {
        var filter = new StoredKeyFilter(maxEntries: 1000);

        filter.Added("api-key\nk-1");
        Assert.True(filter.MayContain("api-key\nk-1"));

        filter.Removed("api-key\nk-1");
        Assert.False(filter.MayContain("api-key\nk-1"));
    }

    [Fact]
    public void DeletingOneKeyKeepsEveryOtherStoredKeyInTheFilterWhenTheyShareSlots()
    {
        // 64 slots and 500 keys: many share a slot with the one deleted.
        var filter = new StoredKeyFilter(maxEntries: 1);
        var keys = Enumerable.Range(0, 500).Select(i => $"api-key\nk-{i}").ToList();
        foreach (var key in keys) filter.Added(key);

        filter.Removed(keys[0]);

        Assert.All(keys.Skip(1), key => Assert.True(filter.MayContain(key)));
    }
}

using Gateway.Api.Calls.State;

namespace Gateway.Api.Calls.Store;

/// <summary>
/// A <see cref="CallQuery"/> page, from candidates offered in insertion order after the cursor: the ones that match
/// (<see cref="CallFilter"/>, then the caller's visibility) fill the page; a further match means there is more, and
/// <see cref="CallPageResult.Next"/> is then the order of the page's last call. Every store pages through this.
/// </summary>
public sealed class CallPageBuilder(CallQuery query)
{
    private readonly List<CallResource> _page = new(Math.Min(query.Limit, 1000));
    private long _last = query.After;
    private long? _next;

    /// <summary>Offers the next candidate; false once the page is complete (stop reading).</summary>
    public bool Offer(long order, TrackedCall call)
    {
        if (!CallFilter.Matches(call, query)) return true;
        var resource = call.ToResource();
        if (query.Visible is { } visible && !visible(resource)) return true;
        if (_page.Count == query.Limit)
        {
            _next = _last;
            return false;
        }
        _page.Add(resource);
        _last = order;
        return true;
    }

    public CallPageResult Result() => new(_page, _next);
}

using System.Globalization;
using System.Xml.Linq;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.PubSub;

namespace ActiveCalls.Service.PubSub;

/// <summary>What a subscriber chose through <c>pubsub#subscribe_options</c>: delivery on or off, the depth of a collection
/// subscription (<c>1</c> or <c>all</c>), and the lease's end.</summary>
public sealed record SubscriptionSettings(bool Deliver, string Depth, DateTimeOffset Expires)
{
    /// <summary>XEP-0060/XEP-0248 defaults: deliver, depth <c>1</c>, and the longest lease the service grants.</summary>
    public static SubscriptionSettings Default(DateTimeOffset now, TimeSpan maxLifetime) =>
        new(true, SubscribeOptions.DepthOne, now + maxLifetime);

    /// <summary>Whether item notifications from leaves below a collection reach this subscription. The leaves sit below
    /// <c>/me/&lt;jid&gt;</c> in OnSIP's tree (through <c>/me/&lt;jid&gt;/&lt;domain&gt;</c>), so, as OnSIP documents, only depth
    /// <c>all</c> receives them.</summary>
    public bool ReachesLeavesOfCollection => Depth == SubscribeOptions.DepthAll;

    /// <summary>
    /// Applies a submitted options form on top of <paramref name="current"/>: fields the form does not carry keep their
    /// values, except that the lease is always renewed (to the requested expiry, or to the longest lease when the form
    /// names none). Returns the error to answer when the form is unacceptable.
    /// </summary>
    /// <remarks>
    /// <c>pubsub#expire</c> is XEP-0060's name; <c>pubsub#expires</c>, which two of OnSIP's clients send, is accepted too.
    /// The value is read as an ISO-8601 date (also with a numeric offset); a value that is not one (OnSIP's own samples
    /// send JavaScript's <c>Date.toString()</c>, or <c>presence</c>) is ignored and the longest lease granted, as OnSIP's
    /// service seemingly did. Later than now + <paramref name="maxLifetime"/> is shortened to it; a time already past is
    /// refused with <c>not-acceptable</c>. <c>pubsub#subscription_type</c> must be <c>items</c> (this service publishes
    /// items only); unknown fields are ignored.
    /// </remarks>
    public static SubscriptionSettings? Apply(DataForm? form, SubscriptionSettings current, DateTimeOffset now, TimeSpan maxLifetime, out StanzaError? error)
    {
        ArgumentNullException.ThrowIfNull(current);
        error = null;
        var longest = now + maxLifetime;
        if (form is null) return current with { Expires = longest };
        if (form.Type != DataFormType.Submit)
        {
            error = PubSubErrors.InvalidOptions($"The options form must be of type 'submit', not '{form.Type.ToWireName()}'.");
            return null;
        }
        if (form.FormType is { } formType && formType != SubscribeOptions.FormType)
        {
            error = PubSubErrors.InvalidOptions($"FORM_TYPE must be '{SubscribeOptions.FormType}'.");
            return null;
        }

        var deliver = current.Deliver;
        if (Value(form, "pubsub#deliver") is { } deliverText && !TryParseBoolean(deliverText, out deliver))
        {
            error = PubSubErrors.InvalidOptions($"pubsub#deliver must be a boolean, not '{deliverText}'.");
            return null;
        }

        var depth = current.Depth;
        if (Value(form, "pubsub#subscription_depth") is { } depthText)
        {
            if (depthText is not (SubscribeOptions.DepthOne or SubscribeOptions.DepthAll))
            {
                error = PubSubErrors.InvalidOptions($"pubsub#subscription_depth must be '1' or 'all', not '{depthText}'.");
                return null;
            }
            depth = depthText;
        }

        if (Value(form, "pubsub#subscription_type") is { } type && type != "items")
        {
            error = PubSubErrors.InvalidOptions($"pubsub#subscription_type '{type}' is not supported: this service notifies items only.");
            return null;
        }

        var expires = longest;
        var expireText = Value(form, "pubsub#expire") ?? Value(form, "pubsub#expires");
        if (expireText is not null && TryParseExpire(expireText, out var requested))
        {
            if (requested <= now)
            {
                error = new StanzaError(StanzaErrorType.Modify, "not-acceptable", $"pubsub#expire {expireText} is not in the future.");
                return null;
            }
            if (requested < longest) expires = requested;
        }
        return new SubscriptionSettings(deliver, depth, expires);
    }

    /// <summary>The options form (type <c>form</c>) showing these settings, as <c>&lt;options/&gt;</c> gets and <c>&lt;default/&gt;</c> answer.</summary>
    public XElement ToForm() =>
        DataForm.Create(DataFormType.Form)
            .WithFormType(SubscribeOptions.FormType)
            .Add(new FormField("pubsub#deliver", FormFieldType.Boolean, [Deliver ? "true" : "false"]) { Label = "Enable delivery?" })
            .Add(new FormField("pubsub#subscription_type", FormFieldType.ListSingle, ["items"])
            {
                Label = "What to be notified about",
                Options = [new FormOption("items", "Items")],
            })
            .Add(new FormField("pubsub#subscription_depth", FormFieldType.ListSingle, [Depth])
            {
                Label = "How far below a collection to be notified (the active-calls leaves need 'all')",
                Options = [new FormOption(SubscribeOptions.DepthOne, "Direct child nodes only"), new FormOption(SubscribeOptions.DepthAll, "All descendants")],
            })
            .Add(new FormField("pubsub#expire", FormFieldType.TextSingle, [FormatTime(Expires)]) { Label = "When the subscription ends" })
            .Build()
            .ToXml();

    /// <summary>ISO-8601 UTC to whole seconds, the form OnSIP writes times in.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    internal static bool TryParseExpire(string text, out DateTimeOffset expire)
    {
        var trimmed = text.Trim();
        // Only ISO-8601-looking dates: DateTimeOffset.TryParse alone would also take free text it half understands.
        if (trimmed.Length >= 10 && char.IsAsciiDigit(trimmed[0]) && trimmed[4] == '-' &&
            DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out expire))
            return true;
        expire = default;
        return false;
    }

    private static string? Value(DataForm form, string var) =>
        form.GetValue(var)?.Trim() is { Length: > 0 } value ? value : null;

    private static bool TryParseBoolean(string text, out bool value)
    {
        if (text is "1" || text.Equals("true", StringComparison.OrdinalIgnoreCase)) { value = true; return true; }
        if (text is "0" || text.Equals("false", StringComparison.OrdinalIgnoreCase)) { value = false; return true; }
        value = false;
        return false;
    }
}

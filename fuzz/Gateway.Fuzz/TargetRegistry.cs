using System.Diagnostics.CodeAnalysis;
using Gateway.Fuzz.Targets.Api;
using Gateway.Fuzz.Targets.Service;
using Gateway.Fuzz.Targets.Sip;
using Gateway.Fuzz.Targets.Xmpp;

namespace Gateway.Fuzz;

/// <summary>A fuzz target: raw input in, whether the parsers accepted it out; any exception that escapes is a finding.</summary>
public delegate bool FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>The targets by the names the script, the corpus folders (fuzz/corpus/NAME) and the dictionaries use.</summary>
public static class TargetRegistry
{
    private static readonly Dictionary<string, FuzzTarget> ByName = new(StringComparer.Ordinal)
    {
        ["xml-stream"] = XmppFuzzTargets.XmlStream,
        ["data-form"] = XmppFuzzTargets.DataForms,
        ["active-call-item"] = XmppFuzzTargets.ActiveCallItems,
        ["pubsub-event"] = XmppFuzzTargets.PubSubEvents,
        ["adhoc"] = XmppFuzzTargets.AdHocResponses,
        ["command-request"] = ServiceFuzzTargets.CommandRequests,
        ["json-request"] = ApiFuzzTargets.JsonRequests,
        ["sip-message"] = SipFuzzTargets.SipMessages,
    };

    public static IEnumerable<string> Names => ByName.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out FuzzTarget? target) => ByName.TryGetValue(name, out target);
}

using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>One <c>&lt;option label=…&gt;&lt;value&gt;…&lt;/value&gt;&lt;/option&gt;</c> of a list field.</summary>
public sealed record FormOption(string Value, string? Label = null)
{
    public XElement ToXml() =>
        new(Ns.DataForms + "option",
            Label is null ? null : new XAttribute("label", Label),
            new XElement(Ns.DataForms + "value", Value));
}

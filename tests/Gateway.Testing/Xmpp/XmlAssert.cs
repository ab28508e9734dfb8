using System.Xml.Linq;

namespace Gateway.Testing.Xmpp;

/// <summary>Compares XML the way a receiving parser would: attribute order, namespace-declaration attributes,
/// prefixes and whitespace between elements do not matter; text of leaf elements is compared trimmed.</summary>
public static class XmlAssert
{
    public static void Equivalent(string expectedXml, XElement actual) => Equivalent(XElement.Parse(expectedXml), actual);

    public static void Equivalent(XElement expected, XElement actual)
    {
        var e = Normalize(expected);
        var a = Normalize(actual);
        if (!XNode.DeepEquals(e, a))
            Assert.Fail($"XML differs.\nExpected:\n{e}\nActual:\n{a}");
    }

    public static XElement Normalize(XElement element)
    {
        var result = new XElement(element.Name,
            element.Attributes().Where(a => !a.IsNamespaceDeclaration).OrderBy(a => a.Name.ToString(), StringComparer.Ordinal)
                .Select(a => new XAttribute(a.Name, a.Value)));
        if (element.HasElements)
            result.Add(element.Elements().Select(Normalize));
        else if (element.Value.Trim() is { Length: > 0 } text)
            result.Add(new XText(text));
        return result;
    }
}

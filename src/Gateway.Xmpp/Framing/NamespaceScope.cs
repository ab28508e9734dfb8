using System.Xml.Linq;

namespace Gateway.Xmpp.Framing;

/// <summary>
/// The prefix → namespace bindings in scope at the current point of the stream (Namespaces in XML 1.0).
/// Declarations are pushed per element and undone when it ends; lookups are O(1) however deep the nesting.
/// The <c>xml</c> prefix is predefined; the empty prefix is the default namespace (initially none).
/// </summary>
internal sealed class NamespaceScope
{
    public const string XmlnsNamespace = "http://www.w3.org/2000/xmlns/";

    private readonly Dictionary<string, XNamespace> _current = new(StringComparer.Ordinal)
    {
        [""] = XNamespace.None,
        ["xml"] = XNamespace.Xml,
    };

    private readonly List<(string Prefix, XNamespace? Previous)> _undo = [];

    /// <summary>A position to hand back to <see cref="PopTo"/> when the element that declares from here on ends.</summary>
    public int Mark => _undo.Count;

    /// <summary>The namespace bound to <paramref name="prefix"/> (empty for the default namespace), or null when unbound.</summary>
    public XNamespace? Lookup(string prefix) => _current.GetValueOrDefault(prefix);

    /// <summary>Binds a prefix, or returns why the binding is illegal (the caller turns that into a protocol error).</summary>
    public string? TryDeclare(string prefix, string uri)
    {
        if (prefix == "xmlns") return "the 'xmlns' prefix cannot be declared";
        if (prefix == "xml")
        {
            if (uri != XNamespace.Xml.NamespaceName) return "the 'xml' prefix cannot be rebound";
        }
        else if (uri == XNamespace.Xml.NamespaceName || uri == XmlnsNamespace)
        {
            return $"namespace '{uri}' is reserved";
        }
        else if (prefix.Length != 0 && uri.Length == 0)
        {
            return $"prefix '{prefix}' cannot be undeclared";
        }

        _undo.Add((prefix, _current.GetValueOrDefault(prefix)));
        _current[prefix] = XNamespace.Get(uri);
        return null;
    }

    /// <summary>Undoes every declaration made since <paramref name="mark"/>.</summary>
    public void PopTo(int mark)
    {
        for (int i = _undo.Count - 1; i >= mark; i--)
        {
            var (prefix, previous) = _undo[i];
            if (previous is null) _current.Remove(prefix);
            else _current[prefix] = previous;
        }
        _undo.RemoveRange(mark, _undo.Count - mark);
    }
}

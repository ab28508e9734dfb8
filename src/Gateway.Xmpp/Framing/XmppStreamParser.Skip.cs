using System.Diagnostics;
using System.Xml.Linq;

namespace Gateway.Xmpp.Framing;

// The skip past an over-limit first-level element (see the class remarks): what it keeps and how it reads on.
public sealed partial class XmppStreamParser
{
    // ---- Skipping an over-limit element -------------------------------------------------------------------------

    private static readonly string[] StubAttributes = ["from", "to", "id", "type"];

    /// <summary>A first-level element is in progress: its start tag is being read, or it is open.</summary>
    private bool InFirstLevelElement => _open.Count >= 2 || (_open.Count == 1 && _markup == Markup.StartTag);

    /// <summary>Called right after a complete start tag broke a limit; nothing of it was built or declared.</summary>
    private void SkipFromStartTag(string reason, XElement? stub, bool empty, List<XmlStreamEvent> events)
    {
        int depth = _open.Count - 1 + (empty ? 0 : 1);
        BeginSkip(reason, stub).Depth = depth;
        if (depth == 0) EndSkip(events);
    }

    /// <summary>Called in the middle of a first-level element: drops what was built and carries on from the token in
    /// progress (<see cref="_pos"/> is where it starts, <see cref="_scan"/> how far it was read).</summary>
    private void SkipRestOfElement(string reason)
    {
        int depth = _open.Count - 1;
        var skip = BeginSkip(reason, _open.Count >= 2 ? Stub(_open[1].Element) : PartialStartTagStub());
        skip.Depth = depth;
        switch (_markup)
        {
            case Markup.None:
                skip.State = SkipState.Text;
                break;
            case Markup.StartTag:
                skip.State = SkipState.StartTag;
                skip.Quote = _quote;
                skip.Last = _buffer[_pos + _scan - 1];
                _pos += _scan;
                break;
            case Markup.EndTag:
                skip.State = SkipState.EndTag;
                _pos += _scan;
                break;
            case Markup.Bang:
                skip.State = SkipState.MarkupStart;
                _pos += 1;
                break;
            case Markup.Cdata:
                skip.State = SkipState.Cdata;
                _pos += _scan;
                break;
            default:
                throw new UnreachableException($"No element content is read as {_markup}.");
        }
        _markup = Markup.None;
    }

    private Skipping BeginSkip(string reason, XElement? stub)
    {
        _text.Clear();
        _crPending = false;
        _brackets = 0;
        if (_open.Count >= 2)
        {
            _scope.PopTo(_open[1].ScopeMark);
            _open.RemoveRange(1, _open.Count - 1);
        }
        return _skip = new Skipping(reason, stub);
    }

    private void EndSkip(List<XmlStreamEvent> events)
    {
        var skip = _skip!;
        _skip = null;
        long end = ByteOffsetAt(_pos);
        events.Add(new XmlStreamEvent.StanzaSkipped(skip.Stub, skip.Reason, end - _elementStart));
        _lastEventEnd = end;
        _inElement = false;
    }

    /// <summary>
    /// Reads on through the skipped element, keeping nothing: only nesting, and the state of the token in progress, are
    /// tracked (the server already checked that the XML is well-formed). Illegal characters and invalid UTF-8 are still
    /// found by <see cref="Decode"/>.
    /// </summary>
    private bool Skip(List<XmlStreamEvent> events)
    {
        var skip = _skip!;
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int i = 0;
        while (i < s.Length)
        {
            switch (skip.State)
            {
                case SkipState.Text:
                {
                    int lt = s[i..].IndexOf('<');
                    if (lt < 0) { i = s.Length; break; }
                    i += lt + 1;
                    skip.State = SkipState.MarkupStart;
                    break;
                }
                case SkipState.MarkupStart:
                {
                    char c = s[i++];
                    switch (c)
                    {
                        case '/': skip.State = SkipState.EndTag; break;
                        case '!': skip.State = SkipState.Bang; skip.Matched = 2; break;
                        case '?':
                            _pos += i - 1;
                            throw Fail("Processing instructions are not allowed");
                        default: skip.State = SkipState.StartTag; skip.Last = c; skip.Quote = '\0'; break;
                    }
                    break;
                }
                case SkipState.StartTag when skip.Quote != '\0':
                {
                    int close = s[i..].IndexOf(skip.Quote);
                    if (close < 0) { i = s.Length; break; }
                    i += close + 1;
                    skip.Last = skip.Quote;
                    skip.Quote = '\0';
                    break;
                }
                case SkipState.StartTag:
                {
                    int special = s[i..].IndexOfAny(TagSpecials);
                    if (special < 0) { skip.Last = s[^1]; i = s.Length; break; }
                    if (special > 0) skip.Last = s[i + special - 1];
                    i += special;
                    char c = s[i++];
                    if (c != '>') { skip.Quote = c; break; }
                    skip.State = SkipState.Text;
                    if (skip.Last != '/') skip.Depth++;
                    else if (skip.Depth == 0) { _pos += i; EndSkip(events); return true; }
                    break;
                }
                case SkipState.EndTag:
                {
                    int close = s[i..].IndexOf('>');
                    if (close < 0) { i = s.Length; break; }
                    i += close + 1;
                    skip.State = SkipState.Text;
                    if (--skip.Depth == 0) { _pos += i; EndSkip(events); return true; }
                    break;
                }
                case SkipState.Bang:
                {
                    if (s[i] != CdataOpen[skip.Matched])
                    {
                        _pos += i;
                        throw Fail(skip.Matched == 2 && s[i] == '-' ? "Comments are not allowed" : "Markup declarations are not allowed");
                    }
                    i++;
                    if (++skip.Matched == CdataOpen.Length) { skip.State = SkipState.Cdata; skip.Brackets = 0; }
                    break;
                }
                case SkipState.Cdata:
                {
                    char c = s[i++];
                    if (c == ']') skip.Brackets++;
                    else if (c == '>' && skip.Brackets >= 2) skip.State = SkipState.Text;
                    else skip.Brackets = 0;
                    break;
                }
            }
        }
        _pos += s.Length;
        return true;
    }

    /// <summary>The name and identifying attributes (in <see cref="StubAttributes"/> order) of a complete start tag whose attributes are in <see cref="_attributes"/>
    /// (nothing of it declared yet); null when its name cannot be resolved.</summary>
    private XElement? StubOf(string prefix, string local)
    {
        string declaring = prefix.Length == 0 ? "xmlns" : prefix;
        string? ns = null;
        foreach (var attribute in _attributes)
            if (attribute.IsDeclaration && (attribute.Prefix.Length == 0 ? "xmlns" : attribute.Local) == declaring) ns = attribute.Value;
        XNamespace? resolved = ns is not null ? XNamespace.Get(ns) : prefix == "xmlns" ? null : _scope.Lookup(prefix);
        if (resolved is null) return null;
        var stub = new XElement(resolved.GetName(local));
        foreach (var name in StubAttributes)
            foreach (var attribute in _attributes)
                if (!attribute.IsDeclaration && attribute.Prefix.Length == 0 && attribute.Local == name)
                {
                    stub.SetAttributeValue(name, attribute.Value);
                    break;
                }
        return stub;
    }

    /// <summary>The name of the first-level start tag still arriving at <see cref="_pos"/>, when all of it is here and needs
    /// no declaration from the tag itself.</summary>
    private XElement? PartialStartTagStub()
    {
        if (_open.Count != 1 || _markup != Markup.StartTag) return null;
        var s = _buffer.AsSpan(_pos + 1, _limit - _pos - 1);
        int length = XmlChars.ScanName(s);
        if (length == 0 || length == s.Length) return null;
        var name = s[..length];
        int colon = name.IndexOf(':');
        var ns = _scope.Lookup(colon < 0 ? "" : new string(name[..colon]));
        var local = colon < 0 ? name : name[(colon + 1)..];
        if (ns is null || local.IsEmpty || local.Contains(':') || !XmlChars.IsNameStartChar(local[0])) return null;
        return new XElement(ns.GetName(new string(local)));
    }

    private static XElement Stub(XElement element)
    {
        var stub = new XElement(element.Name);
        foreach (var attribute in StubAttributes)
            if (element.Attribute(attribute) is { } value) stub.SetAttributeValue(attribute, value.Value);
        return stub;
    }

    private enum SkipState { Text, MarkupStart, StartTag, EndTag, Bang, Cdata }

    /// <summary>Where the skip of one element stands. <c>Depth</c> counts its open elements (itself included); <c>Last</c>
    /// is the last char of a start tag outside quotes (a '/' before '&gt;' makes it empty).</summary>
    private sealed class Skipping(string reason, XElement? stub)
    {
        public string Reason { get; } = reason;
        public XElement? Stub { get; } = stub;
        public SkipState State;
        public int Depth;
        public char Quote;
        public char Last;
        public int Matched;
        public int Brackets;
    }
}

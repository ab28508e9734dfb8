using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.Framing;

/// <summary>
/// Incremental (push) parser for one XMPP XML stream (RFC 6120 §4, §11): feed it bytes as they arrive and it
/// reports the stream header, each complete first-level element and the stream close, never reading ahead.
/// </summary>
/// <remarks>
/// <para>Unlike <see cref="XmlReader"/> it never blocks waiting for bytes the peer will not send (after
/// <c>&lt;proceed/&gt;</c> or SASL <c>&lt;success/&gt;</c>), which is why it exists. Create a new instance at every
/// stream restart.</para>
/// <para>It implements the restricted XML that RFC 6120 §11 allows: UTF-8 only, no DTD, no comments, no processing
/// instructions (other than a leading XML declaration), no entities other than the five predefined ones.
/// Elements are built directly as <see cref="XElement"/> trees with fully resolved names; character data inside
/// stanzas is kept as is (line ends normalised), white space between stanzas is dropped.</para>
/// <para>Bytes are decoded into a char buffer which is scanned in place; only the markup token in progress is kept
/// (text is moved out as it arrives), so memory stays bounded by <see cref="StanzaLimits.MaxBytes"/>, which is also
/// enforced while an element is still arriving.</para>
/// <para>A first-level element that goes past any of the <see cref="StanzaLimits"/> costs only itself: the parser drops
/// what it built, reads on to the element's end counting nesting (keeping nothing but the counter and the state of the
/// token in progress) and reports <see cref="XmlStreamEvent.StanzaSkipped"/>. Anyone on the server can send us a
/// stanza, and the server hands it on as it is; closing the stream instead would have the server deliver it again, for
/// ever (XEP-0198 resumption, offline storage). Breaches of XML itself still end the stream: the server never passes
/// them on, so they mean the server or the link is broken. Not thread-safe.</para>
/// </remarks>
public sealed partial class XmppStreamParser
{
    /// <summary>Input is decoded and processed in slices of this many bytes, so the size limit is checked often.</summary>
    private const int SliceBytes = 8192;

    private const int InitialBufferChars = 4096;
    private const int ShrinkBufferAbove = 64 * 1024;

    /// <summary>Longest reference accepted, <c>&amp;</c> and <c>;</c> included (room for leading zeros in <c>&amp;#…;</c>).</summary>
    private const int MaxReferenceLength = 32;

    private const string CdataOpen = "<![CDATA[";

    private static readonly XName StreamName = Ns.Stream + "stream";
    private static readonly XName DefaultNamespaceDeclaration = XNamespace.None + "xmlns";
    private static readonly XmlStreamEvent.StreamClosed Closed = new();
    private static readonly SearchValues<char> TagSpecials = SearchValues.Create("\"'>");
    private static readonly SearchValues<char> TextSpecials = SearchValues.Create("<&\r>");
    private static readonly SearchValues<char> ValueSpecials = SearchValues.Create("<&\t\n\r");

    private readonly StanzaLimits _limits;
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetDecoder();
    private readonly NameCache _names = new();
    private readonly NamespaceScope _scope = new();
    private readonly List<Frame> _open = []; // [0] is the stream itself once the header was read
    private readonly List<RawAttribute> _attributes = [];
    private readonly StringBuilder _text = new();  // character data of the innermost open element, not yet added
    private readonly StringBuilder _value = new(); // scratch for attribute values that need decoding

    // Decoded input: _buffer[_pos.._limit) is unprocessed, _limit < _len only when an illegal char was found there.
    private char[] _buffer = new char[InitialBufferChars];
    private int _pos;
    private int _len;
    private int _limit;

    // Byte accounting: _anchorByte is the stream offset of _buffer[_anchorIndex]; offsets further on are counted lazily.
    private long _fedBytes;
    private int _anchorIndex;
    private long _anchorByte;
    private long _lastEventEnd;
    private long _elementStart;       // offset where the header / current first-level markup began
    private bool _inElement = true;   // header or a first-level element is in progress: the size limit applies

    // Markup token in progress, starting at _pos; _scan is where to resume looking for its end (relative to _pos).
    private Markup _markup;
    private int _scan;
    private char _quote;

    private bool _sawAnyChar;   // anything (even a BOM) was read
    private bool _sawContent;   // anything but a BOM was read: an XML declaration is no longer allowed
    private bool _closed;
    private bool _failed;
    private bool _crPending;    // character data ended with CR, already emitted as LF: swallow a following LF
    private int _brackets;      // trailing ']' count (max 2) of the character data so far, to spot a literal "]]>"
    private Skipping? _skip;    // set while the rest of an over-limit first-level element is read and dropped

    /// <param name="limits">What one first-level element may cost; the defaults when null.</param>
    public XmppStreamParser(StanzaLimits? limits = null)
    {
        _limits = limits ?? new StanzaLimits();
        _limits.Validate();
    }

    /// <summary>Bytes seen since the last completed event (for diagnostics and tests).</summary>
    public int PendingBytes => (int)Math.Min(int.MaxValue, _fedBytes - _lastEventEnd);

    /// <summary>
    /// Feeds raw bytes from the socket (UTF-8). Appends every event completed by these bytes to
    /// <paramref name="events"/>, in order.
    /// </summary>
    /// <exception cref="XmppProtocolException">The bytes break XML or XMPP's restrictions on it. Events completed
    /// before the violation may already have been appended. The parser is unusable afterwards.</exception>
    /// <exception cref="InvalidOperationException">The parser already failed.</exception>
    public void Feed(ReadOnlySpan<byte> data, List<XmlStreamEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (_failed) throw new InvalidOperationException("The parser already failed; a broken stream cannot be resumed.");
        try
        {
            while (!data.IsEmpty)
            {
                var slice = data[..Math.Min(data.Length, SliceBytes)];
                data = data[slice.Length..];
                Decode(slice);
                _fedBytes += slice.Length;
                Process(events);
                if (_limit < _len)
                {
                    _pos = _limit;
                    throw Fail($"Illegal XML character U+{(int)_buffer[_limit]:X4}");
                }
                if (_inElement && _skip is null && _fedBytes - _elementStart > _limits.MaxBytes)
                {
                    if (!InFirstLevelElement) throw TooLarge();
                    SkipRestOfElement(TooLargeReason);
                    Process(events);
                }
            }
        }
        catch (DecoderFallbackException ex)
        {
            _failed = true;
            throw new XmppProtocolException("Invalid UTF-8 in the stream", ex);
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    private void Decode(ReadOnlySpan<byte> bytes)
    {
        if (_pos == _len)
        {
            ByteOffsetAt(_pos);
            _pos = _len = _anchorIndex = 0;
            if (_buffer.Length > ShrinkBufferAbove) _buffer = new char[InitialBufferChars];
        }
        // A UTF-8 decoder yields at most one char per byte, plus a surrogate pair completing bytes held from before.
        int room = bytes.Length + 4;
        if (_buffer.Length - _len < room) MakeRoom(room);
        int count = _decoder.GetChars(bytes, _buffer.AsSpan(_len), flush: false);
        int illegal = _buffer.AsSpan(_len, count).IndexOfAny(XmlChars.Illegal);
        _limit = illegal < 0 ? _len + count : _len + illegal;
        _len += count;
    }

    private void MakeRoom(int room)
    {
        ByteOffsetAt(_pos); // the anchor must not point into the part being discarded
        int live = _len - _pos;
        var target = _buffer.Length - live >= room ? _buffer : new char[Math.Max(_buffer.Length * 2, live + room)];
        Array.Copy(_buffer, _pos, target, 0, live);
        _buffer = target;
        _len = live;
        _pos = 0;
        _anchorIndex = 0;
    }

    /// <summary>Stream offset of <c>_buffer[index]</c>; <paramref name="index"/> never goes backwards.</summary>
    private long ByteOffsetAt(int index)
    {
        _anchorByte += Encoding.UTF8.GetByteCount(_buffer.AsSpan(_anchorIndex, index - _anchorIndex));
        _anchorIndex = index;
        return _anchorByte;
    }

    private void Process(List<XmlStreamEvent> events)
    {
        while (_pos < _limit)
        {
            bool progressed = _skip is not null ? Skip(events) : _markup switch
            {
                Markup.None => Begin(),
                Markup.StartTag => ContinueStartTag(events),
                Markup.EndTag => ContinueEndTag(events),
                Markup.Bang => ContinueBang(),
                Markup.Cdata => ContinueCdata(),
                Markup.Declaration => ContinueDeclaration(),
                _ => throw new UnreachableException(),
            };
            if (!progressed) return;
        }
    }

    // ---- Tokens -------------------------------------------------------------------------------------------------

    /// <summary>At a token boundary: starts markup, or consumes character data / white space.</summary>
    private bool Begin()
    {
        char c = _buffer[_pos];
        if (c == '<')
        {
            if (_pos + 1 >= _limit) return false;
            if (_closed) throw Fail("Content after the stream was closed");
            bool atDocumentStart = !_sawContent;
            _sawAnyChar = _sawContent = true;
            _crPending = false;
            _brackets = 0;
            if (_open.Count == 1)
            {
                _elementStart = ByteOffsetAt(_pos);
                _inElement = true;
            }
            switch (_buffer[_pos + 1])
            {
                case '/':
                    if (_open.Count == 0) throw Fail("End tag before the stream header");
                    _markup = Markup.EndTag;
                    _scan = 2;
                    break;
                case '!':
                    _markup = Markup.Bang;
                    break;
                case '?':
                    if (!atDocumentStart) throw Fail("Processing instructions are not allowed");
                    _markup = Markup.Declaration;
                    _scan = 2;
                    break;
                default:
                    _markup = Markup.StartTag;
                    _scan = 1;
                    _quote = '\0';
                    break;
            }
            return true;
        }

        if (!_sawAnyChar)
        {
            _sawAnyChar = true;
            if (c == '\uFEFF') { _pos++; return true; } // UTF-8 byte order mark
        }
        _sawContent = true;
        if (_open.Count >= 2) return ReadText();

        // Before the header, between stanzas, after the close: only white space (keepalives) is allowed.
        int nonSpace = _buffer.AsSpan(_pos, _limit - _pos).IndexOfAnyExcept(XmlChars.Whitespace);
        if (nonSpace < 0)
        {
            _pos = _limit;
            return true;
        }
        _pos += nonSpace;
        if (_buffer[_pos] != '<')
        {
            throw Fail(_closed ? "Content after the stream was closed"
                : _open.Count == 0 ? "Text before the stream header"
                : "Text at the stream level");
        }
        return true;
    }

    private bool ContinueStartTag(List<XmlStreamEvent> events)
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int i = _scan;
        while (true)
        {
            if (_quote != '\0')
            {
                int close = s[i..].IndexOf(_quote);
                if (close < 0) { _scan = s.Length; return false; }
                i += close + 1;
                _quote = '\0';
            }
            else
            {
                int special = s[i..].IndexOfAny(TagSpecials);
                if (special < 0) { _scan = s.Length; return false; }
                i += special;
                if (s[i] == '>') break;
                _quote = s[i++];
            }
        }
        var tag = s[..(i + 1)];
        _pos += i + 1;
        _markup = Markup.None;
        OnStartTag(tag, events);
        return true;
    }

    private bool ContinueEndTag(List<XmlStreamEvent> events)
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int close = s[_scan..].IndexOf('>');
        if (close < 0) { _scan = s.Length; return false; }
        int end = _scan + close;
        _pos += end + 1;
        _markup = Markup.None;
        OnEndTag(s[..(end + 1)], events);
        return true;
    }

    /// <summary>After <c>&lt;!</c>: only a CDATA section inside a stanza is allowed (no DTD, no comments).</summary>
    private bool ContinueBang()
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        if (s.Length < 3) return false;
        switch (s[2])
        {
            case '-': throw Fail("Comments are not allowed");
            case 'D': throw Fail("A DTD (<!DOCTYPE) is not allowed");
            case '[' when _open.Count >= 2: break;
            case '[': throw Fail("CDATA sections are only allowed inside elements");
            default: throw Fail("Markup declarations are not allowed");
        }
        int n = Math.Min(s.Length, CdataOpen.Length);
        if (!s[..n].SequenceEqual(CdataOpen.AsSpan(0, n))) throw Fail("Malformed CDATA section");
        if (n < CdataOpen.Length) return false;
        _markup = Markup.Cdata;
        _scan = CdataOpen.Length;
        return true;
    }

    private bool ContinueCdata()
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int close = s[_scan..].IndexOf("]]>");
        if (close < 0)
        {
            _scan = Math.Max(CdataOpen.Length, s.Length - 2);
            return false;
        }
        int end = _scan + close;
        AppendNormalizingLineEnds(s[CdataOpen.Length..end]);
        _pos += end + 3;
        _markup = Markup.None;
        if (_text.Length > _limits.MaxTextChars) SkipRestOfElement($"character data longer than {_limits.MaxTextChars} chars");
        return true;
    }

    private bool ContinueDeclaration()
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int close = s[_scan..].IndexOf("?>");
        if (close < 0)
        {
            _scan = Math.Max(2, s.Length - 1);
            return false;
        }
        int end = _scan + close;
        _pos += end + 2;
        _markup = Markup.None;
        ParseDeclaration(s[2..end]);
        return true;
    }

    /// <summary>Character data inside a stanza, up to the next markup or the end of the input so far.</summary>
    private bool ReadText()
    {
        var s = _buffer.AsSpan(_pos, _limit - _pos);
        int i = 0;
        while (i < s.Length)
        {
            if (_crPending)
            {
                _crPending = false;
                if (s[i] == '\n') { i++; continue; }
            }
            int special = s[i..].IndexOfAny(TextSpecials);
            if (special != 0)
            {
                int end = special < 0 ? s.Length : i + special;
                var run = s[i..end];
                _text.Append(run);
                _brackets = TrailingBrackets(run, _brackets);
                i = end;
                if (_text.Length > _limits.MaxTextChars)
                {
                    _pos += i;
                    SkipRestOfElement($"character data longer than {_limits.MaxTextChars} chars");
                    return true;
                }
                continue;
            }
            switch (s[i])
            {
                case '<':
                    _pos += i;
                    return true;
                case '\r':
                    _text.Append('\n');
                    _crPending = true;
                    _brackets = 0;
                    i++;
                    break;
                case '>':
                    if (_brackets >= 2)
                    {
                        _pos += i;
                        throw Fail("']]>' is not allowed in character data");
                    }
                    _text.Append('>');
                    _brackets = 0;
                    i++;
                    break;
                default: // '&'
                    int used = ReadReference(s[i..], _text, complete: false);
                    if (used == 0)
                    {
                        _pos += i; // wait for the rest of the reference
                        return false;
                    }
                    _brackets = 0;
                    i += used;
                    break;
            }
        }
        _pos += s.Length;
        return true;
    }

    private static int TrailingBrackets(ReadOnlySpan<char> run, int previous)
    {
        int n = 0;
        for (int j = run.Length - 1; j >= 0 && n < 2 && run[j] == ']'; j--) n++;
        return n == run.Length ? Math.Min(2, previous + n) : n;
    }

    private void AppendNormalizingLineEnds(ReadOnlySpan<char> s)
    {
        while (true)
        {
            int cr = s.IndexOf('\r');
            if (cr < 0)
            {
                _text.Append(s);
                return;
            }
            _text.Append(s[..cr]).Append('\n');
            s = s[(cr + 1)..];
            if (!s.IsEmpty && s[0] == '\n') s = s[1..];
        }
    }

    // ---- Elements -----------------------------------------------------------------------------------------------

    private void OnStartTag(ReadOnlySpan<char> tag, List<XmlStreamEvent> events)
    {
        // tag is "<" Name (S Attribute)* S? "/"? ">", complete; its last char is the only '>' outside quotes.
        int nameLength = XmlChars.ScanName(tag[1..]);
        if (nameLength == 0) throw Fail("Malformed start tag");
        var (qname, prefix, local) = SplitQName(tag.Slice(1, nameLength));
        int i = 1 + nameLength;
        bool empty = false;
        bool tooManyAttributes = false;
        _attributes.Clear();
        while (true)
        {
            int spaceStart = i;
            while (XmlChars.IsWhitespace(tag[i])) i++;
            char c = tag[i];
            if (c == '>') break;
            if (c == '/')
            {
                if (i != tag.Length - 2) throw Fail($"Malformed start tag <{qname}>");
                empty = true;
                break;
            }
            if (i == spaceStart) throw Fail($"Malformed start tag <{qname}>");

            int attributeNameLength = XmlChars.ScanName(tag[i..]);
            if (attributeNameLength == 0) throw Fail($"Malformed attribute in <{qname}>");
            var attributeName = tag.Slice(i, attributeNameLength);
            i += attributeNameLength;
            while (XmlChars.IsWhitespace(tag[i])) i++;
            if (tag[i] != '=') throw Fail($"Malformed attribute in <{qname}>");
            i++;
            while (XmlChars.IsWhitespace(tag[i])) i++;
            char quote = tag[i];
            if (quote is not ('"' or '\'')) throw Fail($"Unquoted attribute value in <{qname}>");
            i++;
            int valueLength = tag[i..].IndexOf(quote);
            if (valueLength < 0) throw Fail($"Malformed attribute in <{qname}>");
            var rawValue = tag.Slice(i, valueLength);
            i += valueLength + 1;

            var (_, attributePrefix, attributeLocal) = SplitQName(attributeName);
            bool declaration = attributePrefix == "xmlns" || (attributePrefix.Length == 0 && attributeLocal == "xmlns");
            if (_attributes.Count >= _limits.MaxAttributes)
            {
                // Past the limit only what names the element is kept, for the report of the skip.
                tooManyAttributes = true;
                if (!declaration && !(attributePrefix.Length == 0 && StubAttributes.Contains(attributeLocal))) continue;
            }
            _attributes.Add(new RawAttribute(attributePrefix, attributeLocal, DecodeAttributeValue(rawValue, declaration), declaration));
        }

        int depth = _open.Count; // 0: the stream header, 1: a stanza, ...
        string? breach = tooManyAttributes ? $"more than {_limits.MaxAttributes} attributes on <{qname}>"
            : depth > _limits.MaxDepth ? $"elements nested more than {_limits.MaxDepth} deep"
            : depth >= 2 && _open[^1].Children >= _limits.MaxChildren ? $"more than {_limits.MaxChildren} children in <{_open[^1].QName}>"
            : null;
        if (breach is not null)
        {
            if (depth == 0) throw Fail($"Stream header refused: {breach}");
            SkipFromStartTag(breach, depth == 1 ? StubOf(prefix, local) : Stub(_open[1].Element), empty, events);
            return;
        }
        int scopeMark = _scope.Mark;
        var element = BuildElement(qname, prefix, local);

        if (depth == 0)
        {
            if (element.Name != StreamName) throw Fail($"Expected <stream:stream> in namespace '{Ns.Stream}', got <{qname}>");
            if (empty) throw Fail("The stream header must not be an empty element");
            _open.Add(new Frame(element, qname, scopeMark));
            Emit(new XmlStreamEvent.StreamOpened(element), events);
            return;
        }
        if (depth >= 2)
        {
            FlushText();
            _open[^1].Element.Add(element);
            CollectionsMarshal.AsSpan(_open)[^1].Children++;
        }
        if (!empty)
        {
            _open.Add(new Frame(element, qname, scopeMark));
            return;
        }
        _scope.PopTo(scopeMark);
        if (depth == 1) Emit(new XmlStreamEvent.Element(element), events);
    }

    /// <summary>Applies the namespace declarations in <see cref="_attributes"/> and builds the element with resolved names.</summary>
    private XElement BuildElement(string qname, string prefix, string local)
    {
        foreach (var attribute in _attributes)
        {
            if (!attribute.IsDeclaration) continue;
            string declared = attribute.Prefix.Length == 0 ? "" : attribute.Local;
            string? error = _scope.TryDeclare(declared, attribute.Value);
            if (error is not null) throw Fail($"Invalid namespace declaration on <{qname}>: {error}");
        }
        try
        {
            var element = new XElement(Resolve(prefix, qname).GetName(local));
            foreach (var attribute in _attributes)
            {
                XName name = attribute.IsDeclaration
                    ? attribute.Prefix.Length == 0 ? DefaultNamespaceDeclaration : XNamespace.Xmlns.GetName(attribute.Local)
                    : attribute.Prefix.Length == 0 ? XNamespace.None.GetName(attribute.Local)
                    : Resolve(attribute.Prefix, qname).GetName(attribute.Local);
                if (element.Attribute(name) is not null) throw Fail($"Duplicate attribute {name} on <{qname}>");
                element.Add(new XAttribute(name, attribute.Value));
            }
            return element;
        }
        catch (XmlException ex)
        {
            throw Fail($"Invalid name in <{qname}>", ex);
        }
    }

    private XNamespace Resolve(string prefix, string qname)
    {
        if (prefix == "xmlns") throw Fail($"The 'xmlns' prefix is reserved (in <{qname}>)");
        return _scope.Lookup(prefix) ?? throw Fail($"Unbound namespace prefix '{prefix}' in <{qname}>");
    }

    private void OnEndTag(ReadOnlySpan<char> tag, List<XmlStreamEvent> events)
    {
        var inner = tag[2..^1]; // between "</" and ">"
        int nameLength = XmlChars.ScanName(inner);
        if (nameLength == 0 || inner[nameLength..].ContainsAnyExcept(XmlChars.Whitespace)) throw Fail("Malformed end tag");
        var name = inner[..nameLength];
        var frame = _open[^1];
        if (!name.SequenceEqual(frame.QName)) throw Fail($"End tag </{name}> does not match <{frame.QName}>");

        if (_open.Count == 1)
        {
            _open.Clear();
            _closed = true;
            Emit(Closed, events);
            return;
        }
        FlushText();
        _open.RemoveAt(_open.Count - 1);
        _scope.PopTo(frame.ScopeMark);
        if (_open.Count == 1) Emit(new XmlStreamEvent.Element(frame.Element), events);
    }

    private void FlushText()
    {
        if (_text.Length == 0) return;
        _open[^1].Element.Add(new XText(_text.ToString()));
        _text.Clear();
    }

    private void Emit(XmlStreamEvent e, List<XmlStreamEvent> events)
    {
        long end = ByteOffsetAt(_pos);
        if (end - _elementStart > _limits.MaxBytes)
        {
            if (e is not XmlStreamEvent.Element { Value: var element }) throw TooLarge();
            e = new XmlStreamEvent.StanzaSkipped(Stub(element), TooLargeReason, end - _elementStart);
        }
        events.Add(e);
        _lastEventEnd = end;
        _inElement = false;
    }

    // ---- Names, values, references ------------------------------------------------------------------------------

    private (string QName, string Prefix, string Local) SplitQName(ReadOnlySpan<char> name)
    {
        int colon = name.IndexOf(':');
        if (colon < 0)
        {
            string local = _names.Get(name);
            return (local, "", local);
        }
        var localPart = name[(colon + 1)..];
        if (colon == 0 || localPart.IsEmpty || localPart.Contains(':') || !XmlChars.IsNameStartChar(localPart[0]))
            throw Fail($"'{name}' is not a valid qualified name");
        return (_names.Get(name), _names.Get(name[..colon]), _names.Get(localPart));
    }

    /// <summary>Decodes references and normalises white space (XML §3.3.3) in a complete attribute value.</summary>
    private string DecodeAttributeValue(ReadOnlySpan<char> raw, bool intern)
    {
        int special = raw.IndexOfAny(ValueSpecials);
        if (special < 0) return intern ? _names.Get(raw) : new string(raw);
        var value = _value.Clear();
        while (special >= 0)
        {
            value.Append(raw[..special]);
            raw = raw[special..];
            switch (raw[0])
            {
                case '<':
                    throw Fail("'<' is not allowed in an attribute value");
                case '&':
                    raw = raw[ReadReference(raw, value, complete: true)..];
                    break;
                case '\r':
                    value.Append(' ');
                    raw = raw[1..];
                    if (!raw.IsEmpty && raw[0] == '\n') raw = raw[1..];
                    break;
                default: // tab, line feed
                    value.Append(' ');
                    raw = raw[1..];
                    break;
            }
            special = raw.IndexOfAny(ValueSpecials);
        }
        value.Append(raw);
        return value.ToString();
    }

    /// <summary>
    /// Decodes the reference at the start of <paramref name="s"/> (which begins with '&amp;') into <paramref name="output"/>
    /// and returns its length, or 0 when it is cut off and <paramref name="complete"/> is false (more input will follow).
    /// </summary>
    private int ReadReference(ReadOnlySpan<char> s, StringBuilder output, bool complete)
    {
        int semicolon = -1;
        int max = Math.Min(s.Length, MaxReferenceLength);
        for (int j = 1; j < max; j++)
        {
            char c = s[j];
            if (c == ';') { semicolon = j; break; }
            if (c != '#' && !XmlChars.IsNameChar(c)) throw Fail("Malformed entity or character reference");
        }
        if (semicolon < 0)
        {
            if (!complete && s.Length < MaxReferenceLength) return 0;
            throw Fail("Malformed entity or character reference");
        }

        var name = s[1..semicolon];
        if (name.Length > 1 && name[0] == '#')
        {
            AppendCharacterReference(name[1..], output);
            return semicolon + 1;
        }
        char predefined = name switch
        {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => throw Fail($"Undeclared entity '&{name};' (only the predefined entities exist without a DTD)"),
        };
        output.Append(predefined);
        return semicolon + 1;
    }

    private void AppendCharacterReference(ReadOnlySpan<char> digits, StringBuilder output)
    {
        bool hex = digits[0] == 'x';
        if (hex) digits = digits[1..];
        if (digits.IsEmpty) throw Fail("Malformed character reference");
        int codePoint = 0;
        foreach (char d in digits)
        {
            int v = (uint)(d - '0') <= 9 ? d - '0'
                : hex && (uint)((d | 0x20) - 'a') <= 'f' - 'a' ? (d | 0x20) - 'a' + 10
                : -1;
            if (v < 0) throw Fail("Malformed character reference");
            codePoint = codePoint * (hex ? 16 : 10) + v;
            if (codePoint > 0x10FFFF) throw Fail("Character reference out of range");
        }
        if (!XmlChars.IsLegalCodePoint(codePoint)) throw Fail($"Character reference to an illegal character U+{codePoint:X4}");
        if (codePoint <= 0xFFFF)
        {
            output.Append((char)codePoint);
        }
        else
        {
            codePoint -= 0x10000;
            output.Append((char)(0xD800 + (codePoint >> 10))).Append((char)(0xDC00 + (codePoint & 0x3FF)));
        }
    }

    /// <summary>Checks <c>&lt;?xml version='1.0' encoding='UTF-8' standalone='…'?&gt;</c>, given what is between "&lt;?" and "?&gt;".</summary>
    private void ParseDeclaration(ReadOnlySpan<char> content)
    {
        if (!content.StartsWith("xml") || (content.Length > 3 && !XmlChars.IsWhitespace(content[3])))
            throw Fail("Processing instructions are not allowed");
        var rest = content[3..];
        int seen = 0; // 1: version, 2: encoding, 3: standalone
        while (true)
        {
            int space = rest.IndexOfAnyExcept(XmlChars.Whitespace);
            if (space < 0) break;
            if (space == 0) throw Fail("Malformed XML declaration");
            rest = rest[space..];
            int nameLength = XmlChars.ScanName(rest);
            var name = rest[..nameLength];
            rest = rest[nameLength..].TrimStart(" \t\r\n");
            if (rest.IsEmpty || rest[0] != '=') throw Fail("Malformed XML declaration");
            rest = rest[1..].TrimStart(" \t\r\n");
            if (rest.IsEmpty || rest[0] is not ('"' or '\'')) throw Fail("Malformed XML declaration");
            int valueLength = rest[1..].IndexOf(rest[0]);
            if (valueLength < 0) throw Fail("Malformed XML declaration");
            var value = rest.Slice(1, valueLength);
            rest = rest[(valueLength + 2)..];

            if (name.SequenceEqual("version") && seen == 0)
            {
                if (!value.SequenceEqual("1.0")) throw Fail($"Unsupported XML version '{value}'");
                seen = 1;
            }
            else if (name.SequenceEqual("encoding") && seen == 1)
            {
                if (!value.Equals("UTF-8", StringComparison.OrdinalIgnoreCase)) throw Fail($"Unsupported encoding '{value}' (XMPP is UTF-8 only)");
                seen = 2;
            }
            else if (name.SequenceEqual("standalone") && seen is 1 or 2)
            {
                if (!value.SequenceEqual("yes") && !value.SequenceEqual("no")) throw Fail("Malformed XML declaration");
                seen = 3;
            }
            else
            {
                throw Fail("Malformed XML declaration");
            }
        }
        if (seen == 0) throw Fail("The XML declaration has no version");
    }

    // ---- Errors -------------------------------------------------------------------------------------------------

    private string TooLargeReason => $"larger than {_limits.MaxBytes} bytes";

    private XmppProtocolException TooLarge() => Fail($"Element {TooLargeReason}");

    private XmppProtocolException Fail(string message, Exception? inner = null)
    {
        long offset = _anchorByte + Encoding.UTF8.GetByteCount(_buffer.AsSpan(_anchorIndex, Math.Max(0, _pos - _anchorIndex)));
        return new XmppProtocolException($"{message} (near byte {offset} of the stream)", inner);
    }

    private enum Markup { None, StartTag, EndTag, Bang, Cdata, Declaration }

    private record struct Frame(XElement Element, string QName, int ScopeMark)
    {
        public int Children;
    }

    private readonly record struct RawAttribute(string Prefix, string Local, string Value, bool IsDeclaration);
}

using System.Text;
using System.Xml.Linq;
using Gateway.Xmpp.ActiveCalls;
using Gateway.Xmpp.AdHoc;
using Gateway.Xmpp.Core;
using Gateway.Xmpp.DataForms;
using Gateway.Xmpp.Framing;
using Gateway.Xmpp.Iq;
using Gateway.Xmpp.PubSub;

namespace Gateway.Fuzz.Targets.Xmpp;

/// <summary>
/// Fuzz targets for every parser of Gateway.Xmpp that reads the network. Each takes raw bytes, catches exactly the
/// exceptions its parser documents for bad input, and returns whether the input was accepted. Anything else that
/// escapes (NullReference, IndexOutOfRange, InvalidOperation, a <see cref="FuzzOracleException"/>…) is a finding.
/// </summary>
public static class XmppFuzzTargets
{
    /// <summary>The limits <see cref="XmlStream"/> parses with: the smallest allowed, so that fuzz inputs reach every
    /// limit (the size is checked while an element is still arriving) and the skip past it, as well as everything below.</summary>
    public static StanzaLimits XmlStreamLimits => new() { MaxBytes = 4096, MaxDepth = 8, MaxAttributes = 16, MaxTextChars = 1024, MaxChildren = 16 };

    private static readonly Jid Peer = new(null, "commands.active-calls.example.onsip.com");
    /// <summary>No default namespace: an element the parser built without one must come back without one (the writer
    /// leaves such elements to inherit the stream's default, by design).</summary>
    private static readonly byte[] ReparseHeader = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"u8.ToArray();

    // ---- xml-stream ----------------------------------------------------------------------------------------------

    /// <summary>
    /// <c>xml-stream</c>: a whole stream (header, stanzas, close) fed to <see cref="XmppStreamParser"/> in 1 to 3 chunks.
    /// The first input byte is not XML: it picks the chunking (<see cref="Chunking"/>), so the fuzzer cuts tokens, UTF-8
    /// sequences and references at arbitrary places. Every element completed is serialised with
    /// <see cref="XmppStreamWriter"/> and must parse again.
    /// </summary>
    /// <remarks>Expected: <see cref="XmppProtocolException"/> from <c>Feed</c>, and then
    /// <see cref="InvalidOperationException"/> from any further <c>Feed</c> (the parser is unusable, as documented).</remarks>
    public static bool XmlStream(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return false;
        var data = input[1..];
        var (cut1, cut2) = Chunking.Cuts(input[0], data.Length);
        var parser = new XmppStreamParser(XmlStreamLimits);
        var events = new List<XmlStreamEvent>();
        bool accepted = true;
        try
        {
            parser.Feed(data[..cut1], events);
            parser.Feed(data[cut1..cut2], events);
            parser.Feed(data[cut2..], events);
            _ = parser.PendingBytes;
        }
        catch (XmppProtocolException)
        {
            accepted = false;
            try
            {
                parser.Feed(" "u8, events);
                throw new FuzzOracleException("A parser that failed accepted more input.");
            }
            catch (InvalidOperationException)
            {
                // Documented: a failed parser refuses to go on.
            }
        }

        foreach (var e in events)
        {
            switch (e)
            {
                case XmlStreamEvent.StreamOpened opened:
                    _ = opened.Header.Attributes().Count();
                    _ = Jid.TryParseOptional((string?)opened.Header.Attribute("from"), out _);
                    break;
                case XmlStreamEvent.Element element:
                    CheckWriterRoundTrip(element.Value);
                    break;
                case XmlStreamEvent.StanzaSkipped skipped:
                    // A skip covers at least "<x/>" and never more than was fed.
                    if (skipped.Bytes < 4 || skipped.Bytes > data.Length)
                        throw new FuzzOracleException($"A skipped element of {skipped.Bytes} bytes in {data.Length} bytes of input.");
                    if (skipped.Stub is { } stub) CheckWriterRoundTrip(stub);
                    break;
            }
        }
        return accepted;
    }

    /// <summary>What <see cref="XmppStreamWriter"/> writes for an element the parser built must parse back into the same
    /// tree: names, attributes, text (the writer may refuse characters XML cannot carry: <see cref="ArgumentException"/>).</summary>
    private static void CheckWriterRoundTrip(XElement element)
    {
        byte[] bytes;
        try
        {
            bytes = XmppStreamWriter.Serialize(element);
        }
        catch (ArgumentException)
        {
            return;
        }
        var parser = new XmppStreamParser();
        var events = new List<XmlStreamEvent>();
        try
        {
            parser.Feed(ReparseHeader, events);
            parser.Feed(bytes, events);
        }
        catch (XmppProtocolException e)
        {
            throw new FuzzOracleException($"The writer's output for <{element.Name}> does not parse: {Encoding.UTF8.GetString(bytes)}", e);
        }
        var again = events.OfType<XmlStreamEvent.Element>().SingleOrDefault()?.Value
            ?? throw new FuzzOracleException($"The writer's output for <{element.Name}> is not one element: {Encoding.UTF8.GetString(bytes)}");
        if (Difference(element, again) is { } difference)
            throw new FuzzOracleException($"<{element.Name}> changed in a write/parse round trip: {difference}\nwritten: {Encoding.UTF8.GetString(bytes)}");
    }

    /// <summary>Where two trees differ (namespace declarations and prefixes aside), or null.</summary>
    private static string? Difference(XElement a, XElement b)
    {
        if (a.Name != b.Name) return $"<{a.Name}> became <{b.Name}>";
        var attributesA = a.Attributes().Where(x => !x.IsNamespaceDeclaration).Select(x => (x.Name, x.Value)).OrderBy(x => x.Name.ToString(), StringComparer.Ordinal);
        var attributesB = b.Attributes().Where(x => !x.IsNamespaceDeclaration).Select(x => (x.Name, x.Value)).OrderBy(x => x.Name.ToString(), StringComparer.Ordinal);
        if (!attributesA.SequenceEqual(attributesB)) return $"the attributes of <{a.Name}> changed";
        var nodesA = a.Nodes().ToList();
        var nodesB = b.Nodes().ToList();
        if (nodesA.Count != nodesB.Count) return $"<{a.Name}> had {nodesA.Count} child nodes, now {nodesB.Count}";
        for (int i = 0; i < nodesA.Count; i++)
        {
            switch (nodesA[i], nodesB[i])
            {
                case (XElement childA, XElement childB):
                    if (Difference(childA, childB) is { } difference) return difference;
                    break;
                case (XText textA, XText textB):
                    if (textA.Value != textB.Value) return $"text in <{a.Name}> changed";
                    break;
                default:
                    return $"a {nodesA[i].NodeType} in <{a.Name}> became a {nodesB[i].NodeType}";
            }
        }
        return null;
    }

    // ---- data-form -----------------------------------------------------------------------------------------------

    /// <summary>
    /// <c>data-form</c>: the first <c>{jabber:x:data}x</c> of a stanza (or the stanza itself), read with
    /// <see cref="DataForm.Parse"/>, then used as the library's callers use it: values read, written back (the round trip
    /// must give an equal form), and a <c>type="form"</c> filled in with its own defaults and turned into a submit form.
    /// </summary>
    /// <remarks>Expected: <see cref="XmppProtocolException"/> (not a form, missing or unknown type);
    /// <see cref="ArgumentException"/> from <see cref="FillableForm.SetAnswer(string, IEnumerable{string})"/> (fixed field, a
    /// value the type refuses); <see cref="MissingRequiredFieldsException"/> from <see cref="FillableForm.ToSubmitForm"/>.</remarks>
    public static bool DataForms(ReadOnlySpan<byte> input)
    {
        var x = FuzzStanzas.First(input)?.DescendantsAndSelf(Ns.DataForms + "x").FirstOrDefault();
        if (x is null) return false;
        DataForm form;
        try
        {
            form = DataForm.Parse(x);
        }
        catch (XmppProtocolException)
        {
            return false;
        }
        ExerciseForm(form);
        return true;
    }

    private static void ExerciseForm(DataForm form)
    {
        _ = form.FormType;
        _ = form.ToString();
        foreach (var field in form.Fields)
        {
            _ = field.Value;
            if (field.Var is { } var)
            {
                _ = form.GetValues(var);
                _ = form[var];
            }
        }

        var again = DataForm.Parse(form.ToXml());
        if (!again.Equals(form)) throw new FuzzOracleException($"A data form changed in a write/parse round trip: {form} became {again}");
        if (again.GetHashCode() != form.GetHashCode()) throw new FuzzOracleException("Equal data forms have different hash codes.");

        if (form.Type != DataFormType.Form) return;
        var fillable = form.ToFillable();
        foreach (var field in form.Fields)
        {
            if (field.Var is not { } var) continue;
            try
            {
                fillable.SetAnswer(var, field.Values);
                if (field.Value is { } first) fillable.SetAnswer(var, first);
            }
            catch (ArgumentException)
            {
                // Documented: a fixed field, or a value the field's type or options refuse.
            }
        }
        _ = fillable.MissingRequiredFields;
        try
        {
            _ = XmppStreamWriter.Serialize(fillable.ToSubmitForm().ToXml());
        }
        catch (MissingRequiredFieldsException)
        {
            // Documented: a required field without a value.
        }
    }

    // ---- active-call-item ----------------------------------------------------------------------------------------

    /// <summary>
    /// <c>active-call-item</c>: <c>onsip:active-calls</c> payloads, read as the gateway reads them (items of a PubSub
    /// notification, <see cref="ActiveCallItem.TryParse"/>) and wherever an <c>active-call</c> element sits in the stanza
    /// (<see cref="ActiveCallItem.Parse"/>). Writing an item and reading it back must give the same item (the publish time
    /// is written to whole seconds).
    /// </summary>
    /// <remarks>Expected: none; <see cref="ActiveCallItem.Parse"/>'s <see cref="ArgumentException"/> is for an element that
    /// is not an <c>active-call</c>, which this target never passes.</remarks>
    public static bool ActiveCallItems(ReadOnlySpan<byte> input)
    {
        var stanza = FuzzStanzas.First(input);
        if (stanza is null) return false;
        bool any = false;
        foreach (var e in PubSubEvent.Parse(stanza))
        {
            if (e is not PubSubEvent.ItemsPublished published) continue;
            foreach (var item in published.Items)
            {
                if (ActiveCallItem.TryParse(item, out var call))
                {
                    ExerciseCall(call);
                    any = true;
                }
            }
        }
        var element = stanza.DescendantsAndSelf().FirstOrDefault(e => string.Equals(e.Name.LocalName, "active-call", StringComparison.OrdinalIgnoreCase));
        if (element is not null)
        {
            ExerciseCall(ActiveCallItem.Parse(element));
            any = true;
        }
        return any;
    }

    private static void ExerciseCall(ActiveCallItem call)
    {
        _ = call.DialogState;
        _ = call.ToString();
        var xml = call.ToXml();
        _ = XmppStreamWriter.Serialize(xml);
        var again = ActiveCallItem.Parse(xml);
        var expected = call with { PublishTime = WholeSeconds(call.PublishTime) };
        if (!again.Equals(expected)) throw new FuzzOracleException($"An active-call item changed in a write/parse round trip: {expected} became {again}");
        if (call.ToAor is { } aor)
        {
            try
            {
                _ = ActiveCallsNodes.ForSipAddress(aor);
            }
            catch (FormatException)
            {
                // Documented: not a user@domain address.
            }
        }
    }

    private static DateTimeOffset? WholeSeconds(DateTimeOffset? time) =>
        time is { } t ? new DateTimeOffset(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero) : null;

    // ---- pubsub-event --------------------------------------------------------------------------------------------

    /// <summary>
    /// <c>pubsub-event</c>: a <c>&lt;message/&gt;</c> delivered to a <see cref="PubSubEventReader"/> for the active-calls
    /// service (its reader-loop filter, then <see cref="PubSubEvent.Parse"/>), and parsed directly too (the filter drops
    /// other senders). Each event is used as the gateway uses it: nodes, item payloads, the redirect URI of a deletion
    /// (which must survive <see cref="PubSubAddress.ToXmppUri"/> and back).
    /// </summary>
    /// <remarks>Expected: none. <see cref="PubSubEvent.Parse"/> skips malformed parts rather than throwing.</remarks>
    public static bool PubSubEvents(ReadOnlySpan<byte> input)
    {
        var stanza = FuzzStanzas.First(input);
        if (stanza is null) return false;

        var source = new InMemoryStanzaSource();
        var reader = new PubSubEventReader(source, ActiveCallsNodes.DefaultService);
        int read = 0;
        try
        {
            var delivered = source.DeliverAsync(stanza);
            if (!delivered.IsCompleted) throw new FuzzOracleException("Delivering one stanza to an empty subscription blocked.");
            delivered.GetAwaiter().GetResult();
        }
        finally
        {
            reader.Dispose();
        }
        foreach (var e in reader.ReadAllAsync().ToBlockingEnumerable())
        {
            ExerciseEvent(e);
            read++;
        }

        foreach (var e in PubSubEvent.Parse(stanza)) ExerciseEvent(e);
        return read > 0;
    }

    private static void ExerciseEvent(PubSubEvent e)
    {
        _ = e.ToString();
        _ = ActiveCallsNodes.TryParseSipAddress(e.Node, out _);
        _ = ActiveCallsNodes.TryParseJid(e.Node, out _);
        switch (e)
        {
            case PubSubEvent.ItemsPublished published:
                _ = ActiveCallsNodes.TryParseJid(published.Collection, out _);
                foreach (var item in published.Items)
                {
                    if (ActiveCallItem.TryParse(item, out var call)) _ = call.ToXml();
                }
                break;
            case PubSubEvent.ItemsRetracted retracted:
                _ = retracted.ItemIds.Count;
                break;
            case PubSubEvent.SubscriptionChanged changed:
                _ = changed.Jid.Bare.ToString();
                break;
            case PubSubEvent.NodeDeleted deleted when deleted.RedirectAddress is { } address:
                var uri = address.ToXmppUri();
                if (!PubSubAddress.TryParseXmppUri(uri, out var back) || back != address)
                    throw new FuzzOracleException($"The redirect address {address.Service} / {address.Node} became '{uri}', which reads back as {back?.Service} / {back?.Node}.");
                break;
        }
    }

    // ---- adhoc ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// <c>adhoc</c>: XEP-0050 responses as <see cref="AdHocCommandClient"/> receives them. The input's stanzas are the
    /// replies a scripted responder gives, in order (the last one repeats): a single-stage execution, a multi-stage
    /// session (started, its form filled in with its defaults and executed, then disposed), and a command list. Error
    /// replies go through <see cref="StanzaError"/> and <see cref="CommandError"/>.
    /// </summary>
    /// <remarks>Expected: <see cref="XmppProtocolException"/> (no readable <c>&lt;command/&gt;</c>),
    /// <see cref="XmppStanzaErrorException"/> (an error reply), <see cref="CommandSessionExpiredException"/> (the
    /// session is gone), <see cref="XmppIqTimeoutException"/> (a reply that is neither result nor error never completes the
    /// request), and <see cref="MissingRequiredFieldsException"/> while filling in the form.</remarks>
    public static bool AdHocResponses(ReadOnlySpan<byte> input)
    {
        var replies = FuzzStanzas.Elements(input);
        if (replies.Count == 0) return false;
        bool accepted = false;

        var client = new AdHocCommandClient(new ScriptedResponder(replies));
        try
        {
            ExerciseResult(client.ExecuteAsync(Peer, "create").GetAwaiter().GetResult());
            accepted = true;
        }
        catch (Exception e) when (IsExpectedCommandFailure(e))
        {
        }

        client = new AdHocCommandClient(new ScriptedResponder(replies));
        CommandSession? session = null;
        try
        {
            session = client.StartAsync(Peer, "create").GetAwaiter().GetResult();
            accepted = true;
            ExerciseSession(session);
        }
        catch (Exception e) when (IsExpectedCommandFailure(e))
        {
        }
        finally
        {
            session?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        client = new AdHocCommandClient(new ScriptedResponder(replies));
        try
        {
            foreach (var node in client.ListCommandsAsync(Peer).GetAwaiter().GetResult()) _ = node.ToString();
        }
        catch (Exception e) when (IsExpectedCommandFailure(e))
        {
        }
        return accepted;
    }

    private static bool IsExpectedCommandFailure(Exception e)
    {
        switch (e)
        {
            case XmppProtocolException or XmppIqTimeoutException:
                return true;
            case CommandSessionExpiredException expired:
                _ = expired.Condition;
                return true;
            case XmppStanzaErrorException error:
                ExerciseError(error);
                return true;
            default:
                return false;
        }
    }

    private static void ExerciseError(XmppStanzaErrorException error)
    {
        _ = CommandError.GetCondition(error.Error);
        _ = CommandError.IsSessionGone(error.Error);
        _ = error.Error.ToString();
        _ = error.Error.ToXml();
        _ = CommandError.ExtractEchoedForm(error.Stanza)?.ToString();
        foreach (var note in CommandError.ExtractEchoedNotes(error.Stanza)) _ = note.ToXml();
    }

    private static void ExerciseResult(CommandResult result)
    {
        _ = result.HasErrorNote;
        _ = result.GetHashCode();
        _ = result.Form?.ToString();
        foreach (var note in result.Notes) _ = note.ToXml();
    }

    private static void ExerciseSession(CommandSession session)
    {
        ExerciseResult(session.LastResult);
        _ = session.AllowedActions;
        _ = session.DefaultAction;
        if (session.IsEnded || !session.IsAllowed(CommandAction.Execute)) return;
        DataForm? submit = null;
        if (session.Form is { Type: DataFormType.Form } form)
        {
            try
            {
                submit = form.ToFillable().ToSubmitForm();
            }
            catch (MissingRequiredFieldsException)
            {
                submit = null;
            }
        }
        try
        {
            ExerciseResult(session.ExecuteAsync(submit).GetAwaiter().GetResult());
        }
        catch (Exception e) when (IsExpectedCommandFailure(e))
        {
        }
        _ = session.IsEnded;
    }

    /// <summary>An <see cref="IIqSender"/> that answers each request with the next scripted stanza, as the stream's IQ
    /// tracker would complete it: <c>type="error"</c> fails the request, <c>type="result"</c> completes it, and anything else
    /// is not a reply at all (the request times out).</summary>
    private sealed class ScriptedResponder(List<XElement> replies) : IIqSender
    {
        private int _next;

        public Jid? LocalJid { get; } = new("alice", "example.onsip.com", "fuzz");

        public Task<XElement> SendIqAsync(Jid? to, IqType type, XElement payload, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            var reply = replies[Math.Min(_next++, replies.Count - 1)];
            return (string?)reply.Attribute("type") switch
            {
                "result" => Task.FromResult(reply),
                "error" => Task.FromException<XElement>(new XmppStanzaErrorException(StanzaError.FromStanza(reply), reply)),
                _ => Task.FromException<XElement>(new XmppIqTimeoutException((string?)reply.Attribute("id") ?? "", timeout ?? TimeSpan.FromSeconds(30))),
            };
        }
    }
}

namespace Gateway.Testing.Xmpp;

/// <summary>The stanzas of the OnSIP wiki page "Active-Calls Component" (our seed), verbatim, in page order.</summary>
public static class ActiveCallsSeed
{
    public const string ComponentJid = "commands.active-calls.xmpp.onsip.com";

    public const string CreateSingleStageRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com"
        from="alice@example.com" id="create-1" >
        <command xmlns="http://jabber.org/protocol/commands" node="create" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="from" >
        <value>sip:foo@example.onsip.com</value>
        </field>
        <field type="text-single" var="to" >
        <value>sip:bar@example.onsip.com</value>
        </field>
        <field type="text-single" var="call-setup-id" >
        <value>AbCd1234</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string CreateMultiStageStartRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="create-2a" > <command xmlns="http://jabber.org/protocol/commands" node="create" /> </iq>
        """;

    public const string CreateMultiStageFormResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="result"
        to="alice@example.com" id="create-2a" >
        <command xmlns="http://jabber.org/protocol/commands" status="executing"
        node="create" sessionid="9d17366d64a57a82614e7083fe00398a" >
        <actions execute="execute" >
        <cancel/>
        <execute/>
        </actions>
        <x xmlns="jabber:x:data" type="form" >
        <title>Create Call</title>
        <instructions>Enter the SIP addresses of the caller and callee</instructions>
        <field type="text-single" label="From" var="from" >
        <required/>
        </field>
        <field type="text-single" label="To" var="to" >
        <required/>
        </field>
        <field type="text-single" label="Call Setup ID" var="call-setup-id" />
        </x>
        </command>
        </iq>
        """;

    public const string CreateMultiStageSubmission = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="create-2b" >
        <command xmlns="http://jabber.org/protocol/commands" node="create"
        sessionid="9d17366d64a57a82614e7083fe00398a" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="from" >
        <value>sip:foo@example.onsip.com</value>
        </field>
        <field type="text-single" var="to" >
        <value>sip:bar@example.onsip.com</value>
        </field>
        <field type="text-single" var="call-setup-id" >
        <value>aBcD4321</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string CreateSuccessResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com"
        type="result"
        to="alice@example.com" id="create-2b" >
        <command xmlns="http://jabber.org/protocol/commands"
        status="completed"
        node="create"
        sessionid="b7720992672820eeec1b898c5f54057d">
        <x xmlns="jabber:x:data" type="result" >
        <field type="fixed" var="call-setup-id" >
        <value>cqjOO99m</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string CreateErrorResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="error" xml:lang="en"
        to="alice@example.com" id="create-3" >
        <command xmlns="http://jabber.org/protocol/commands" node="create"
        sessionid="9d17366d64a57a82614e7083fe00398a" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="from" >
        <value>sip:foo@example.onsip.com</value>
        </field>
        <field type="text-single" var="to" >
        <value>sip:bar@example.onsip.com</value>
        </field>
        </x>
        </command>
        <error type="modify" code="400" >
        <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
        <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">
        Execution Errors; Failed to create call: 'Bad Request: NO_ROUTE_DESTINATION'; missing response
        </text>
        <bad-payload xmlns="http://jabber.org/protocol/commands"/>
        </error>
        </iq>
        """;

    public const string TerminateSingleStageRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="terminate-1" >
        <command xmlns="http://jabber.org/protocol/commands" node="terminate" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>a-valid-callid</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>a-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>a-to-tag</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TerminateMultiStageStartRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="terminate-2a" > <command xmlns="http://jabber.org/protocol/commands" node="terminate" /> </iq>
        """;

    public const string TerminateMultiStageFormResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="result"
        to="alice@example.com" id="terminate-2a" >
        <command xmlns="http://jabber.org/protocol/commands" status="executing"
        node="terminate" sessionid="c24df0dfb26a6d2ab037eed3c7a77c0d" >
        <actions execute="execute" >
        <cancel/>
        <execute/>
        </actions>
        <x xmlns="jabber:x:data" type="form" >
        <title>Terminating a Call</title>
        <instructions>Fill out this from to terminate a call.</instructions>
        <field type="text-single" label="Call-ID" var="call-id" >
        <required/>
        </field>
        <field type="text-single" label="From Tag" var="from-tag" >
        <required/>
        </field>
        <field type="text-single" label="To Tag" var="to-tag" >
        <required/>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TerminateMultiStageSubmission = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="terminate-2b" >
        <command xmlns="http://jabber.org/protocol/commands"
        node="terminate" sessionid="c24df0dfb26a6d2ab037eed3c7a77c0d" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>a-valid-callid</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>a-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>a-to-tag</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TerminateSuccessResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="result"
        to="alice@example.com" id="terminate-2b" >
        <command xmlns="http://jabber.org/protocol/commands" status="completed"
        node="terminate" sessionid="c24df0dfb26a6d2ab037eed3c7a77c0d" />
        </iq>
        """;

    public const string TerminateErrorResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="error" xml:lang="en"
        to="alice@example.com" id="terminate-3" >
        <command xmlns="http://jabber.org/protocol/commands" status="completed"
        node="terminate" sessionid="0a9b61a5870ae91a76044ea634061517" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>an-invalid-callid</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>a-bad-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>a-bad-to-tag</value>
        </field>
        </x>
        <note type="error" >Execution Errors; terminate call failed</note>
        </command>
        <error type="modify" code="400" >
        <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
        <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Execution Errors; terminate call failed</text>
        <bad-payload xmlns="http://jabber.org/protocol/commands"/>
        </error>
        </iq>
        """;

    public const string TransferSingleStageRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="transfer-1" >
        <command xmlns="http://jabber.org/protocol/commands" node="transfer" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>a-valid-call-id</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>the-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>the-to-tag</value>
        </field>
        <field type="list-single" var="endpoint" >
        <value>caller</value>
        </field>
        <field type="text-single" var="target-uri" >
        <value>sip:bob@example.com</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TransferMultiStageStartRequest = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="transfer-2a" > <command xmlns="http://jabber.org/protocol/commands" node="transfer" /> </iq>
        """;

    public const string TransferMultiStageFormResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="result"
        to="alice@example.com" id="transfer-2a" >
        <command xmlns="http://jabber.org/protocol/commands" status="executing"
        node="transfer" sessionid="6bcc4d9767bfe46783eace22837c2e8b" >
        <actions execute="execute" >
        <cancel/>
        <execute/>
        </actions>
        <x xmlns="jabber:x:data" type="form" >
        <title>Transfer a Call</title>
        <instructions>Fill out this from to transfer a live call.</instructions>
        <field type="text-single" label="Call-ID" var="call-id" >
        <required/>
        </field>
        <field type="text-single" label="From Tag" var="from-tag" >
        <required/>
        </field>
        <field type="text-single" label="To Tag" var="to-tag" >
        <required/>
        </field>
        <field type="list-single" label="Endpoint" var="endpoint" >
        <option label="Callee" >
        <value>callee</value>
        </option>
        <option label="Caller" >
        <value>caller</value>
        </option>
        <required/>
        </field>
        <field type="text-single" label="Target SIP URI" var="target-uri" >
        <required/>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TransferMultiStageSubmission = """
        <iq type="set" to="commands.active-calls.xmpp.onsip.com" id="transfer-2b" >
        <command xmlns="http://jabber.org/protocol/commands"
        node="transfer" sessionid="6bcc4d9767bfe46783eace22837c2e8b" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>a-valid-call-id</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>the-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>the-to-tag</value>
        </field>
        <field type="list-single" var="endpoint" >
        <value>caller</value>
        </field>
        <field type="text-single" var="target-uri" >
        <value>sip:bob@example.com</value>
        </field>
        </x>
        </command>
        </iq>
        """;

    public const string TransferSuccessResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="result"
        to="alice@example.com" id="transfer-2b" >
        <command xmlns="http://jabber.org/protocol/commands" status="completed"
        node="transfer" sessionid="552d11b3c234bbb0d34aad81449f22a9" />
        </iq>
        """;

    public const string TransferErrorResponse = """
        <iq from="commands.active-calls.xmpp.onsip.com" type="error" xml:lang="en"
        to="alice@example.com" id="transfer-3" >
        <command xmlns="http://jabber.org/protocol/commands" status="completed"
        node="transfer" sessionid="a20c561c0cb43e73d6202af0c588d35b" >
        <x xmlns="jabber:x:data" type="submit" >
        <field type="text-single" var="call-id" >
        <value>bad-call-id</value>
        </field>
        <field type="text-single" var="from-tag" >
        <value>bad-from-tag</value>
        </field>
        <field type="text-single" var="to-tag" >
        <value>bad-to-tag</value>
        </field>
        <field type="list-single" var="endpoint" >
        <value>callee</value>
        </field>
        <field type="text-single" var="target-uri" >
        <value>sip:bar@example.com</value>
        </field>
        </x>
        <note type="error" >Execution Errors; transfer call failed</note>
        </command>
        <error type="modify" code="400" >
        <bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
        <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Execution Errors; transfer call failed</text>
        <bad-payload xmlns="http://jabber.org/protocol/commands"/>
        </error>
        </iq>
        """;
}

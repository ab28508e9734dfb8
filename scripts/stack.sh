#!/usr/bin/env bash
# Quick start #1: brings up the local Active-Calls stack and keeps it up until Ctrl-C.
#
# Today the stack is Prosody (this repo's config, loopback only) with a dev account for the
# gateway and the XEP-0114 component secret for the reference service. The reference service,
# the demo phones (sipp) and the gateway join it as they land; see the marked sections below.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

usage() {
  cat <<'EOF'
usage: scripts/stack.sh [options]

  --dir DIR               state directory (Prosody run dir, generated secrets)   [.stack]
  --domain DOMAIN         XMPP domain                                            [activecalls.test]
  --c2s-port PORT         Prosody client port on 127.0.0.1                      [15222]
  --component-port PORT   Prosody XEP-0114 component port on 127.0.0.1          [15347]
  --https-port PORT       Prosody HTTPS port (WebSocket, BOSH) on 127.0.0.1     [15281]
  --xmpp-transport T      how the gateway reaches Prosody: tcp (c2s, STARTTLS),
                          websocket (wss://127.0.0.1:HTTPS-PORT/xmpp-websocket) or
                          bosh (https://127.0.0.1:HTTPS-PORT/http-bind)                [tcp]
  --secret SECRET         component secret       [generated once, kept in DIR/prosody/component.secret]
  --sip-port PORT         the reference service's SIP (UDP) port               [15060]
  --http-port PORT        the gateway's HTTP port on 127.0.0.1                 [8080]
  --password PASSWORD     password of the dev account gateway@DOMAIN   [generated once, kept in DIR/stack.env]
  --detach                start everything, print it and exit (stop later with --down)
  --down                  stop a detached stack
  -h, --help              this text

The settings of the running stack are written to DIR/stack.env (KEY=value lines).
EOF
}

STATE_DIR="$REPO_ROOT/.stack"
DOMAIN="activecalls.test"
C2S_PORT=15222
COMPONENT_PORT=15347
HTTPS_PORT=15281
XMPP_TRANSPORT=tcp
SIP_PORT=15060
HTTP_PORT=8080
SECRET=""
PASSWORD=""
MODE="foreground"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; STATE_DIR="$2"; shift 2 ;;
    --domain) require_value "$@"; DOMAIN="${2,,}"; shift 2 ;;
    --c2s-port) require_value "$@"; C2S_PORT="$2"; shift 2 ;;
    --component-port) require_value "$@"; COMPONENT_PORT="$2"; shift 2 ;;
    --https-port) require_value "$@"; HTTPS_PORT="$2"; shift 2 ;;
    --xmpp-transport) require_value "$@"; XMPP_TRANSPORT="$2"; shift 2 ;;
    --sip-port) require_value "$@"; SIP_PORT="$2"; shift 2 ;;
    --http-port) require_value "$@"; HTTP_PORT="$2"; shift 2 ;;
    --secret) require_value "$@"; SECRET="$2"; shift 2 ;;
    --password) require_value "$@"; PASSWORD="$2"; shift 2 ;;
    --detach) MODE="detach"; shift ;;
    --down) MODE="down"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case "$XMPP_TRANSPORT" in
  tcp | websocket | bosh) ;;
  *) die "--xmpp-transport must be tcp, websocket or bosh (got '$XMPP_TRANSPORT')" ;;
esac
WEBSOCKET_URL="wss://127.0.0.1:$HTTPS_PORT/xmpp-websocket"
BOSH_URL="https://127.0.0.1:$HTTPS_PORT/http-bind"
case "$XMPP_TRANSPORT" in
  websocket) GATEWAY_XMPP_ENDPOINT="$WEBSOCKET_URL" ;;
  bosh) GATEWAY_XMPP_ENDPOINT="$BOSH_URL" ;;
  *) GATEWAY_XMPP_ENDPOINT="xmpp://127.0.0.1:$C2S_PORT" ;;
esac

mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
PROSODY_DIR="$STATE_DIR/prosody"
ENV_FILE="$STATE_DIR/stack.env"

# Stops a process started by this script from its pidfile, if it is still the one we started.
stop_pidfile() {
  local file="$1" pid
  [[ -f "$file" ]] || return 0
  pid="$(<"$file")"
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_stack() {
  stop_pidfile "$STATE_DIR/gateway/gateway.pid"
  stop_pidfile "$STATE_DIR/service/service.pid"
  for phone in "$STATE_DIR"/phones/*.pid; do stop_pidfile "$phone"; done
  "$REPO_ROOT/deploy/prosody/stop.sh" --dir "$PROSODY_DIR"
}

if [[ "$MODE" == "down" ]]; then
  stop_stack
  exit 0
fi

# The dev account's password survives restarts (so a configured client keeps working).
if [[ -z "$PASSWORD" && -f "$ENV_FILE" ]]; then
  PASSWORD="$(sed -n 's/^GATEWAY_PASSWORD=//p' "$ENV_FILE")"
fi
if [[ -z "$PASSWORD" ]]; then
  command -v openssl >/dev/null 2>&1 || ensure_packages openssl:openssl || die "openssl is required"
  PASSWORD="$(openssl rand -hex 12)"
fi

if [[ "$MODE" == "foreground" ]]; then
  cleanup() {
    trap - EXIT INT TERM
    echo
    log "stopping the stack"
    stop_stack || true
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

# --- XMPP server ---------------------------------------------------------------------------------
prosody_args=(--dir "$PROSODY_DIR" --domain "$DOMAIN" --c2s-port "$C2S_PORT" --component-port "$COMPONENT_PORT" --https-port "$HTTPS_PORT")
if [[ -n "$SECRET" ]]; then prosody_args+=(--secret "$SECRET"); fi
"$REPO_ROOT/deploy/prosody/start.sh" "${prosody_args[@]}" >/dev/null
SECRET="$(<"$PROSODY_DIR/component.secret")"
"$REPO_ROOT/deploy/prosody/register.sh" gateway "$DOMAIN" "$PASSWORD" --dir "$PROSODY_DIR"

cat >"$ENV_FILE" <<EOF
# Written by scripts/stack.sh; the settings of the local stack.
XMPP_DOMAIN=$DOMAIN
XMPP_HOST=127.0.0.1
XMPP_C2S_PORT=$C2S_PORT
XMPP_COMPONENT_PORT=$COMPONENT_PORT
XMPP_WEBSOCKET_URL=$WEBSOCKET_URL
XMPP_BOSH_URL=$BOSH_URL
GATEWAY_XMPP_ENDPOINT=$GATEWAY_XMPP_ENDPOINT
XMPP_CA_CERT=$PROSODY_DIR/ca/ca.crt
COMPONENT_SECRET=$SECRET
SIP_PORT=$SIP_PORT
GATEWAY_URL=http://127.0.0.1:$HTTP_PORT
COMMANDS_COMPONENT=commands.active-calls.$DOMAIN
AUTH_COMPONENT=commands.auth.$DOMAIN
PUBSUB_COMPONENT=pubsub.active-calls.$DOMAIN
GATEWAY_JID=gateway@$DOMAIN
GATEWAY_PASSWORD=$PASSWORD
EOF
chmod 600 "$ENV_FILE"

# --- demo phones ---------------------------------------------------------------------------------
# sipp UAS phones on loopback, one per demo address, answering call after call (no -m). The sales-* phones are
# dave and erin of the second owner's domain, sales.$DOMAIN (users.dev.json: owner "sales").
ensure_packages sipp:sip-tester || die "sipp (package sip-tester) is required for the demo phones"
PHONES_DIR="$STATE_DIR/phones"
mkdir -p "$PHONES_DIR"
SALES_DOMAIN="sales.$DOMAIN"
declare -A PHONES=([alice]="answer 15061" [bob]="answer 15062" [carol]="busy 15063" [dave]="ring-forever 15064"
  [sales-dave]="answer 15065" [sales-erin]="answer 15066")
declare -A PHONE_ADDRESSES=([alice]="alice@$DOMAIN" [bob]="bob@$DOMAIN" [carol]="carol@$DOMAIN" [dave]="dave@$DOMAIN"
  [sales-dave]="dave@$SALES_DOMAIN" [sales-erin]="erin@$SALES_DOMAIN")
for user in "${!PHONES[@]}"; do
  read -r scenario port <<<"${PHONES[$user]}"
  stop_pidfile "$PHONES_DIR/$user.pid"
  (cd "$PHONES_DIR" && exec setsid sipp -sf "$REPO_ROOT/deploy/sipp/$scenario.xml" -i 127.0.0.1 -p "$port" -nostdin \
    -trace_err -error_file "$PHONES_DIR/$user.errors.log" >"$PHONES_DIR/$user.log" 2>&1 </dev/null) &
  echo $! >"$PHONES_DIR/$user.pid"
done

# --- reference Active-Calls service ----------------------------------------------------------------
# The three components on Prosody's component port, and the SIP engine on 127.0.0.1:$SIP_PORT with
# the demo addresses bound to the phones above.
SERVICE_DIR="$STATE_DIR/service"
mkdir -p "$SERVICE_DIR"
stop_pidfile "$SERVICE_DIR/service.pid"
log "building the reference service"
dotnet build "$REPO_ROOT/src/ActiveCalls.Service" -c Release -o "$SERVICE_DIR/bin" -v quiet -nologo >"$SERVICE_DIR/build.log" 2>&1 ||
  die "the reference service did not build; see $SERVICE_DIR/build.log"
service_args=(
  "--ActiveCalls:Domain=$DOMAIN" "--ActiveCalls:XmppHost=127.0.0.1" "--ActiveCalls:ComponentPort=$COMPONENT_PORT"
  "--ActiveCalls:ComponentSecret=$SECRET" "--ActiveCalls:UsersFile=$REPO_ROOT/src/ActiveCalls.Service/users.dev.json"
  "--Sip:BindAddress=127.0.0.1" "--Sip:Port=$SIP_PORT" "--Sip:LocalDomains:0=$DOMAIN" "--Sip:LocalDomains:1=$SALES_DOMAIN"
  "--ActiveCalls:Storage:DatabasePath=$SERVICE_DIR/active-calls.db"
)
for user in "${!PHONES[@]}"; do
  read -r _ port <<<"${PHONES[$user]}"
  service_args+=("--Sip:Contacts:${PHONE_ADDRESSES[$user]}=127.0.0.1:$port")
done
(cd "$SERVICE_DIR/bin" && exec setsid dotnet ActiveCalls.Service.dll "${service_args[@]}" >"$SERVICE_DIR/service.log" 2>&1 </dev/null) &
echo $! >"$SERVICE_DIR/service.pid"
for _ in $(seq 1 100); do
  [[ "$(grep -c 'Component .* connected to' "$SERVICE_DIR/service.log" 2>/dev/null || true)" -ge 3 ]] && break
  pid_alive "$(<"$SERVICE_DIR/service.pid")" || die "the reference service exited; see $SERVICE_DIR/service.log"
  sleep 0.2
done
[[ "$(grep -c 'Component .* connected to' "$SERVICE_DIR/service.log" 2>/dev/null || true)" -ge 3 ]] ||
  die "the reference service's components did not connect; see $SERVICE_DIR/service.log"

# --- gateway -------------------------------------------------------------------------------------
# The REST gateway on 127.0.0.1:$HTTP_PORT (Development settings: the local components, the dev API key), logged in
# as gateway@$DOMAIN over a pool of two connections, following a team of two owners: alice (auth-for-all: alice, bob,
# carol) and dave@$SALES_DOMAIN (dave, erin). Their web passwords are users.dev.json's (appsettings.Development.json).
GATEWAY_DIR="$STATE_DIR/gateway"
mkdir -p "$GATEWAY_DIR"
stop_pidfile "$GATEWAY_DIR/gateway.pid"
ensure_packages npm:npm || die "npm is required to build the gateway's dashboard (its SignalR client comes from npm)"
log "building the gateway"
dotnet build "$REPO_ROOT/src/Gateway.Api" -c Release -o "$GATEWAY_DIR/bin" -v quiet -nologo >"$GATEWAY_DIR/build.log" 2>&1 ||
  die "the gateway did not build; see $GATEWAY_DIR/build.log"
(cd "$GATEWAY_DIR/bin" && ASPNETCORE_ENVIRONMENT=Development exec setsid dotnet Gateway.Api.dll \
  --urls "http://127.0.0.1:$HTTP_PORT" \
  "--Gateway:Xmpp:Jid=gateway@$DOMAIN" "--Gateway:Xmpp:Password=$PASSWORD" "--Gateway:Xmpp:Endpoint=$GATEWAY_XMPP_ENDPOINT" \
  "--Gateway:Xmpp:TrustedCertificatePath=$PROSODY_DIR/ca/ca.crt" \
  "--Gateway:Components:Commands=commands.active-calls.$DOMAIN" "--Gateway:Events:AuthComponent=commands.auth.$DOMAIN" \
  "--Gateway:Events:PubSubService=pubsub.active-calls.$DOMAIN" "--Gateway:Events:SipAddress=alice@$DOMAIN" \
  "--Gateway:Events:Users:0:Address=dave@$SALES_DOMAIN" \
  "--Gateway:Webhooks:DatabasePath=$GATEWAY_DIR/webhooks.db" "--Gateway:Calls:DatabasePath=$GATEWAY_DIR/calls.db" \
  >"$GATEWAY_DIR/gateway.log" 2>&1 </dev/null) &
echo $! >"$GATEWAY_DIR/gateway.pid"
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null 2>&1; then break; fi
  pid_alive "$(<"$GATEWAY_DIR/gateway.pid")" || die "the gateway exited; see $GATEWAY_DIR/gateway.log"
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null 2>&1 ||
  die "the gateway did not become ready; see $GATEWAY_DIR/gateway.log"

cat <<EOF

Local Active-Calls stack is up
  XMPP server:        Prosody, 127.0.0.1:$C2S_PORT (c2s, STARTTLS required), domain $DOMAIN
                      XMPP over WebSocket: $WEBSOCKET_URL, BOSH: $BOSH_URL (TLS name $DOMAIN)
                      SCRAM-SHA-256 accounts on $DOMAIN, SCRAM-SHA-1 accounts on sha1.$DOMAIN
  dev account:        gateway@$DOMAIN   password: $PASSWORD
  components:         127.0.0.1:$COMPONENT_PORT (XEP-0114)   secret: $SECRET
                      commands.active-calls.$DOMAIN, commands.auth.$DOMAIN, pubsub.active-calls.$DOMAIN
  dev CA certificate: $PROSODY_DIR/ca/ca.crt
  settings:           $ENV_FILE
  Prosody log:        $PROSODY_DIR/prosody.log
  more accounts:      deploy/prosody/register.sh USER $DOMAIN PASSWORD --dir $PROSODY_DIR
  reference service:  the three components above, SIP on 127.0.0.1:$SIP_PORT   log: $SERVICE_DIR/service.log
  demo phones (sipp): alice@$DOMAIN answers, bob@$DOMAIN answers, carol@$DOMAIN is busy,
                      dave@$DOMAIN rings forever; dave@$SALES_DOMAIN and erin@$SALES_DOMAIN answer
                      (SIP users, owners and web passwords: src/ActiveCalls.Service/users.dev.json)
  followed users:     alice@$DOMAIN and dave@$SALES_DOMAIN (GET /followed-users); frank@$DOMAIN is not followed
  gateway:            http://127.0.0.1:$HTTP_PORT   API key: dev-gateway-key   log: $GATEWAY_DIR/gateway.log
                      XMPP over $XMPP_TRANSPORT: $GATEWAY_XMPP_ENDPOINT
                      dashboard http://127.0.0.1:$HTTP_PORT/ (the dev key is filled in)
                      Swagger UI http://127.0.0.1:$HTTP_PORT/swagger   OpenAPI http://127.0.0.1:$HTTP_PORT/openapi/v1.json
EOF

if [[ "$MODE" == "detach" ]]; then
  echo "  stop it with:       scripts/stack.sh --down --dir $STATE_DIR"
  exit 0
fi

echo "Press Ctrl-C to stop."
while :; do
  pid="$(cat "$PROSODY_DIR/prosody.pid" 2>/dev/null || true)"
  if [[ -z "$pid" ]] || ! pid_alive "$pid"; then
    log "Prosody is no longer running; see $PROSODY_DIR/prosody.log"
    exit 1
  fi
  sleep 1
done

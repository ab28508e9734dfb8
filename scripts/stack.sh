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
  --secret SECRET         component secret       [generated once, kept in DIR/prosody/component.secret]
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
SECRET=""
PASSWORD=""
MODE="foreground"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; STATE_DIR="$2"; shift 2 ;;
    --domain) require_value "$@"; DOMAIN="${2,,}"; shift 2 ;;
    --c2s-port) require_value "$@"; C2S_PORT="$2"; shift 2 ;;
    --component-port) require_value "$@"; COMPONENT_PORT="$2"; shift 2 ;;
    --secret) require_value "$@"; SECRET="$2"; shift 2 ;;
    --password) require_value "$@"; PASSWORD="$2"; shift 2 ;;
    --detach) MODE="detach"; shift ;;
    --down) MODE="down"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
PROSODY_DIR="$STATE_DIR/prosody"
ENV_FILE="$STATE_DIR/stack.env"

stop_stack() {
  # Extension point (upcoming issues): stop the gateway, the demo phones and the reference
  # service here, in that order, before Prosody.
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
prosody_args=(--dir "$PROSODY_DIR" --domain "$DOMAIN" --c2s-port "$C2S_PORT" --component-port "$COMPONENT_PORT")
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
XMPP_CA_CERT=$PROSODY_DIR/ca/ca.crt
COMPONENT_SECRET=$SECRET
COMMANDS_COMPONENT=commands.active-calls.$DOMAIN
AUTH_COMPONENT=commands.auth.$DOMAIN
PUBSUB_COMPONENT=pubsub.active-calls.$DOMAIN
GATEWAY_JID=gateway@$DOMAIN
GATEWAY_PASSWORD=$PASSWORD
EOF
chmod 600 "$ENV_FILE"

# --- reference Active-Calls service ----------------------------------------------------------------
# Extension point (upcoming issue): start src/ActiveCalls.Service as the three components above,
# connecting to 127.0.0.1:$COMPONENT_PORT with $SECRET, and wait until Prosody reports them
# connected.

# --- demo phones ---------------------------------------------------------------------------------
# Extension point (upcoming issue): install sip-tester if missing (ensure_packages sipp:sip-tester)
# and start the sipp UAS scenarios from deploy/ as the demo phones.

# --- gateway -------------------------------------------------------------------------------------
# Extension point (upcoming issue): start src/Gateway.Api with GATEWAY_JID/GATEWAY_PASSWORD, then
# print its URLs and the dev API key.

cat <<EOF

Local Active-Calls stack is up
  XMPP server:        Prosody, 127.0.0.1:$C2S_PORT (c2s, STARTTLS required), domain $DOMAIN
                      SCRAM-SHA-256 accounts on $DOMAIN, SCRAM-SHA-1 accounts on sha1.$DOMAIN
  dev account:        gateway@$DOMAIN   password: $PASSWORD
  components:         127.0.0.1:$COMPONENT_PORT (XEP-0114)   secret: $SECRET
                      commands.active-calls.$DOMAIN, commands.auth.$DOMAIN, pubsub.active-calls.$DOMAIN
  dev CA certificate: $PROSODY_DIR/ca/ca.crt
  settings:           $ENV_FILE
  Prosody log:        $PROSODY_DIR/prosody.log
  more accounts:      deploy/prosody/register.sh USER $DOMAIN PASSWORD --dir $PROSODY_DIR
  not yet part of the stack: the reference service, the demo phones and the gateway (upcoming)
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

#!/usr/bin/env bash
# Starts a private Prosody for the local Active-Calls stack (or for one test fixture).
#
# Renders prosody.cfg.lua.template into the run directory, creates a dev CA and a server
# certificate there, starts Prosody in the background with that config only (never the system
# config, never a system Prosody), waits until its ports (c2s, components, HTTPS if any) accept connections and
# prints where everything is. Running it again with the same options is a no-op; with other
# options it restarts the server with the new configuration.
#
# Containers and service managers use --configure-only (write the config and certificates, then
# exit, so accounts can be registered) and --foreground (the same, then exec Prosody in the
# foreground, logging to stdout).
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=deploy/lib/dev-certificates.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/dev-certificates.sh"

usage() {
  cat <<'EOF'
usage: deploy/prosody/start.sh [options]

  --dir DIR              run directory (config, certs, data, logs, pidfile)  [.stack/prosody]
  --domain DOMAIN        main XMPP domain                                     [activecalls.test]
  --c2s-port PORT        client port (STARTTLS), on 127.0.0.1                 [15222]
  --component-port PORT  XEP-0114 component port, on 127.0.0.1                [15347]
  --https-port PORT      HTTPS port for XMPP over WebSocket (wss://…/xmpp-websocket)
                         and BOSH (https://…/http-bind), on 127.0.0.1        [none: no HTTPS]
  --http-port PORT       plain HTTP port for the same two (ws://…, http://…), for a TLS-
                         terminating proxy in front of Prosody or a private network: sessions
                         on it count as secure (consider_*_secure)            [none: no HTTP]
  --interface ADDR       IPv4 address the ports listen on; 0.0.0.0 = every
                         interface (inside a container network)              [127.0.0.1]
  --secret SECRET        component secret for the three components
                         [kept in DIR/component.secret; generated on first start]
  --log-level LEVEL      debug | info | warn | error                          [info]
  --smacks-max-unacked N XEP-0198: stanzas sent to a client before Prosody asks it for an ack
                         (smacks_max_unacked_stanzas; Prosody's own default is 0)  [10]
  --nagle on|off         Nagle's algorithm on client sockets (network_settings.nagle;
                         on is Prosody's own default, kept so clients are tested against it)  [on]
  --watch-pid PID        stop Prosody when process PID exits (used by test fixtures)
  --timeout SECONDS      how long to wait for the ports                       [30]
  --configure-only       write the config, certificates and secret, then exit without starting
  --foreground           configure, then replace this process with Prosody (exec, in the
                         foreground, logging to stdout instead of DIR/prosody.log)
  -h, --help             this text
EOF
}

DIR="$REPO_ROOT/.stack/prosody"
DOMAIN="activecalls.test"
C2S_PORT=15222
COMPONENT_PORT=15347
HTTPS_PORT=""
HTTP_PORT=""
SECRET=""
LOG_LEVEL="info"
SMACKS_MAX_UNACKED=10
NAGLE="on"
WATCH_PID=""
TIMEOUT=30
INTERFACE="127.0.0.1"
MODE="background"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; DIR="$2"; shift 2 ;;
    --domain) require_value "$@"; DOMAIN="$2"; shift 2 ;;
    --c2s-port) require_value "$@"; C2S_PORT="$2"; shift 2 ;;
    --component-port) require_value "$@"; COMPONENT_PORT="$2"; shift 2 ;;
    --https-port) require_value "$@"; HTTPS_PORT="$2"; shift 2 ;;
    --http-port) require_value "$@"; HTTP_PORT="$2"; shift 2 ;;
    --secret) require_value "$@"; SECRET="$2"; shift 2 ;;
    --log-level) require_value "$@"; LOG_LEVEL="$2"; shift 2 ;;
    --smacks-max-unacked) require_value "$@"; SMACKS_MAX_UNACKED="$2"; shift 2 ;;
    --nagle) require_value "$@"; NAGLE="$2"; shift 2 ;;
    --watch-pid) require_value "$@"; WATCH_PID="$2"; shift 2 ;;
    --timeout) require_value "$@"; TIMEOUT="$2"; shift 2 ;;
    --interface) require_value "$@"; INTERFACE="$2"; shift 2 ;;
    --configure-only) MODE="configure"; shift ;;
    --foreground) MODE="foreground"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

DOMAIN="${DOMAIN,,}"
[[ "$DOMAIN" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$ ]] ||
  die "--domain must be a plain DNS name (got '$DOMAIN')"
valid_port "$C2S_PORT" || die "--c2s-port must be a port number (got '$C2S_PORT')"
valid_port "$COMPONENT_PORT" || die "--component-port must be a port number (got '$COMPONENT_PORT')"
[[ -z "$HTTPS_PORT" ]] || valid_port "$HTTPS_PORT" || die "--https-port must be a port number (got '$HTTPS_PORT')"
[[ -z "$HTTP_PORT" ]] || valid_port "$HTTP_PORT" || die "--http-port must be a port number (got '$HTTP_PORT')"
# shellcheck disable=SC2086 # the optional ports are left out when empty
[[ -z "$(printf '%s\n' "$C2S_PORT" "$COMPONENT_PORT" $HTTPS_PORT $HTTP_PORT | sort | uniq -d)" ]] ||
  die "--c2s-port, --component-port, --https-port and --http-port must differ"
# The ports this server listens on, which must be free before and open after the start.
PORTS=("$C2S_PORT" "$COMPONENT_PORT")
[[ -z "$HTTPS_PORT" ]] || PORTS+=("$HTTPS_PORT")
[[ -z "$HTTP_PORT" ]] || PORTS+=("$HTTP_PORT")
[[ "$LOG_LEVEL" =~ ^(debug|info|warn|error)$ ]] || die "--log-level must be debug, info, warn or error"
[[ "$NAGLE" =~ ^(on|off)$ ]] || die "--nagle must be on or off"
if [[ ! "$SMACKS_MAX_UNACKED" =~ ^[0-9]{1,3}$ ]] || ((10#$SMACKS_MAX_UNACKED >= 400)); then
  die "--smacks-max-unacked must be a whole number below 400 (Prosody keeps at most 500 unacknowledged stanzas)"
fi
[[ -z "$WATCH_PID" || "$WATCH_PID" =~ ^[0-9]+$ ]] || die "--watch-pid must be a process id"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds"
[[ "$DIR" != *[\"\\$'\n']* ]] || die "--dir must not contain quotes, backslashes or newlines"
[[ "$INTERFACE" =~ ^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$ ]] ||
  die "--interface must be an IPv4 address such as 127.0.0.1 or 0.0.0.0 (got '$INTERFACE')"
[[ "$MODE" == "background" || -z "$WATCH_PID" ]] || die "--watch-pid only applies when Prosody runs in the background"
# Where this script itself probes the ports: a wildcard listener answers on loopback.
if [[ "$INTERFACE" == "0.0.0.0" ]]; then PROBE_HOST="127.0.0.1"; else PROBE_HOST="$INTERFACE"; fi

ensure_packages prosody:prosody prosodyctl:prosody openssl:openssl ||
  die "Prosody is required (Debian package 'prosody')"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
CONFIG="$DIR/prosody.cfg.lua"
PIDFILE="$DIR/prosody.pid"
SECRET_FILE="$DIR/component.secret"
TEMPLATE="$(dirname "${BASH_SOURCE[0]}")/prosody.cfg.lua.template"
umask 077
mkdir -p "$DIR/data" "$DIR/certs" "$DIR/ca"
chmod 755 "$DIR/ca" # the dev CA certificate is for every client; its key stays 600

# --- component secret ---------------------------------------------------------------------------
if [[ -z "$SECRET" && -s "$SECRET_FILE" ]]; then
  SECRET="$(<"$SECRET_FILE")"
fi
if [[ -z "$SECRET" ]]; then
  SECRET="$(openssl rand -hex 16)"
fi
[[ "$SECRET" =~ ^[A-Za-z0-9._~+=/-]{1,256}$ ]] ||
  die "--secret may only use letters, digits and . _ ~ + = / - (got an unsupported character)"
printf '%s\n' "$SECRET" >"$SECRET_FILE"

# --- certificates -------------------------------------------------------------------------------
# certs/ is where Prosody looks for them.
make_dev_certificates "$DIR" "$DOMAIN"

# --- configuration ------------------------------------------------------------------------------
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
NEW_CONFIG="$(sed \
  -e "s|@@RUN_DIR@@|$(sed_escape "$DIR")|g" \
  -e "s|@@DOMAIN@@|$(sed_escape "$DOMAIN")|g" \
  -e "s|@@C2S_PORT@@|$C2S_PORT|g" \
  -e "s|@@COMPONENT_PORT@@|$COMPONENT_PORT|g" \
  -e "s|@@HTTPS_PORTS@@|$HTTPS_PORT|g" \
  -e "s|@@HTTP_PORTS@@|$HTTP_PORT|g" \
  -e "s|@@COMPONENT_SECRET@@|$(sed_escape "$SECRET")|g" \
  -e "s|@@LOG_LEVEL@@|$LOG_LEVEL|g" \
  -e "s|@@INTERFACE@@|$INTERFACE|g" \
  -e "s|@@LOG_TO@@|$([[ "$MODE" == "foreground" ]] && echo stdout || echo file)|g" \
  -e "s|@@SMACKS_MAX_UNACKED@@|$((10#$SMACKS_MAX_UNACKED))|g" \
  -e "s|@@NAGLE@@|$([[ "$NAGLE" == "on" ]] && echo true || echo false)|g" \
  "$TEMPLATE")"

ports_open() {
  local port
  for port in "${PORTS[@]}"; do port_open "$port" "$PROBE_HOST" || return 1; done
}

running_pid() { server_pid "$PIDFILE" "$CONFIG"; }

start_watcher() { start_server_watcher "$DIR" "$WATCH_PID" "$1" prosody-watch; }

print_summary() {
  local pid="$1"
  cat <<EOF
Prosody is running (pid $pid) for $DOMAIN
  c2s (STARTTLS required):  $INTERFACE:$C2S_PORT   hosts $DOMAIN (SCRAM-SHA-256), sha1.$DOMAIN (SCRAM-SHA-1)
  components (XEP-0114):    $INTERFACE:$COMPONENT_PORT   commands.active-calls.$DOMAIN, commands.auth.$DOMAIN, pubsub.active-calls.$DOMAIN
EOF
  [[ -z "$HTTPS_PORT" ]] || cat <<EOF
  WebSocket (RFC 7395):     wss://$INTERFACE:$HTTPS_PORT/xmpp-websocket   (certificate for $DOMAIN: connect with that TLS name)
  BOSH (XEP-0206):          https://$INTERFACE:$HTTPS_PORT/http-bind
EOF
  [[ -z "$HTTP_PORT" ]] || cat <<EOF
  plain HTTP (no TLS):      ws://$INTERFACE:$HTTP_PORT/xmpp-websocket, http://$INTERFACE:$HTTP_PORT/http-bind
EOF
  cat <<EOF
  component secret:         $SECRET
  dev CA certificate:       $DIR/ca/ca.crt
  config:                   $CONFIG
  log:                      $DIR/prosody.log (errors: $DIR/prosody.err)
EOF
}

if [[ "$MODE" != "background" ]]; then
  if pid="$(running_pid)"; then
    die "Prosody is already running from $DIR (pid $pid); stop it first (deploy/prosody/stop.sh --dir $DIR)"
  fi
  printf '%s\n' "$NEW_CONFIG" >"$CONFIG"
  if [[ "$MODE" == "configure" ]]; then
    log "configured Prosody in $DIR (config $CONFIG, dev CA $DIR/ca/ca.crt); not started"
    exit 0
  fi
fi

if [[ "$MODE" == "background" ]] && pid="$(running_pid)"; then
  if [[ -f "$CONFIG" && "$(<"$CONFIG")" == "$NEW_CONFIG" ]] && ports_open; then
    log "Prosody is already running with this configuration"
    start_watcher "$pid"
    print_summary "$pid"
    exit 0
  fi
  log "configuration changed: restarting Prosody (pid $pid)"
  "$(dirname "${BASH_SOURCE[0]}")/stop.sh" --dir "$DIR"
fi

for port in "${PORTS[@]}"; do
  if port_open "$port" "$PROBE_HOST"; then
    die "port $port on $PROBE_HOST is already in use by another process; choose other ports (--c2s-port/--component-port/--https-port)"
  fi
done

if [[ "$MODE" == "foreground" ]]; then
  log "starting Prosody in the foreground for $DOMAIN: c2s $INTERFACE:$C2S_PORT, components $INTERFACE:$COMPONENT_PORT, https ${HTTPS_PORT:-none}, dev CA $DIR/ca/ca.crt"
  exec prosody --config "$CONFIG" -F
fi

printf '%s\n' "$NEW_CONFIG" >"$CONFIG"
rm -f "$PIDFILE"
# Prosody keeps running when it cannot bind a port (it logs an error); only this start's lines count.
log_offset=$(($(stat -c %s "$DIR/prosody.log" 2>/dev/null || echo 0) + 1))

# Foreground mode (-F) as a background job in its own session: the process we start is the
# server (no fork), so its pid is known at once and Prosody's own pidfile confirms it.
setsid prosody --config "$CONFIG" -F </dev/null >>"$DIR/prosody.stdout" 2>&1 &
launched=$!

show_logs() {
  local f
  for f in prosody.err prosody.stdout prosody.log; do
    [[ -s "$DIR/$f" ]] || continue
    log "--- last lines of $DIR/$f"
    tail -n 20 "$DIR/$f" >&2
  done
}

deadline=$((SECONDS + TIMEOUT))
while :; do
  if ! pid_alive "$launched"; then
    wait "$launched" 2>/dev/null || true
    show_logs
    die "Prosody exited during start-up"
  fi
  if bind_error="$(tail -c "+$log_offset" "$DIR/prosody.log" 2>/dev/null | grep -m1 'Failed to open server port')"; then
    kill -TERM "$launched" 2>/dev/null || true
    log "${bind_error#*portmanager}"
    die "a port is already in use by another process (${PORTS[*]}); choose other ports"
  fi
  if pid="$(running_pid)" && ports_open; then
    break
  fi
  if ((SECONDS >= deadline)); then
    show_logs
    kill -TERM "$launched" 2>/dev/null || true
    die "Prosody did not open ports ${PORTS[*]} within ${TIMEOUT}s"
  fi
  sleep 0.1
done

start_watcher "$pid"
print_summary "$pid"

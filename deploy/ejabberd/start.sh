#!/usr/bin/env bash
# Starts a private ejabberd for one test fixture (or to try the stack against ejabberd by hand).
#
# Renders ejabberd.yml.template into the run directory, creates the same dev CA and server
# certificate as deploy/prosody/start.sh, and starts ejabberd's Erlang node in the background as
# the current user with that config only: its own spool (Mnesia), log and pid file in the run
# directory, its own node name and cookie, and Erlang distribution on a loopback port of its own
# instead of epmd. The system ejabberd (ejabberdctl, /etc/ejabberd, /var/lib/ejabberd, epmd) is
# never used or touched. Waits until the c2s and component ports accept connections and prints
# where everything is. Running it again with the same options is a no-op; with other options it
# restarts the server with the new configuration.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=deploy/lib/dev-certificates.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/dev-certificates.sh"
# shellcheck source=deploy/ejabberd/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

usage() {
  cat <<'EOF_USAGE'
usage: deploy/ejabberd/start.sh [options]

  --dir DIR              run directory (config, certs, spool, logs, pid file)  [.stack/ejabberd]
  --domain DOMAIN        main XMPP domain                                       [activecalls.test]
  --c2s-port PORT        client port (STARTTLS), on 127.0.0.1                   [16222]
  --component-port PORT  XEP-0114 component port, on 127.0.0.1                  [16347]
  --dist-port PORT       Erlang distribution port of the node (for register.sh
                         and stop.sh), always on 127.0.0.1                      [16369]
  --secret SECRET        component secret for the three components
                         [kept in DIR/component.secret; generated on first start]
  --log-level LEVEL      none | emergency | alert | critical | error | warning |
                         notice | info | debug                                  [info]
  --watch-pid PID        stop ejabberd when process PID exits (used by test fixtures)
  --timeout SECONDS      how long to wait for the ports                         [60]
  -h, --help             this text
EOF_USAGE
}

DIR="$REPO_ROOT/.stack/ejabberd"
DOMAIN="activecalls.test"
C2S_PORT=16222
COMPONENT_PORT=16347
DIST_PORT=16369
SECRET=""
LOG_LEVEL="info"
WATCH_PID=""
TIMEOUT=60
INTERFACE="127.0.0.1"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; DIR="$2"; shift 2 ;;
    --domain) require_value "$@"; DOMAIN="$2"; shift 2 ;;
    --c2s-port) require_value "$@"; C2S_PORT="$2"; shift 2 ;;
    --component-port) require_value "$@"; COMPONENT_PORT="$2"; shift 2 ;;
    --dist-port) require_value "$@"; DIST_PORT="$2"; shift 2 ;;
    --secret) require_value "$@"; SECRET="$2"; shift 2 ;;
    --log-level) require_value "$@"; LOG_LEVEL="$2"; shift 2 ;;
    --watch-pid) require_value "$@"; WATCH_PID="$2"; shift 2 ;;
    --timeout) require_value "$@"; TIMEOUT="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

DOMAIN="${DOMAIN,,}"
[[ "$DOMAIN" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$ ]] ||
  die "--domain must be a plain DNS name (got '$DOMAIN')"
for option in "c2s-port:$C2S_PORT" "component-port:$COMPONENT_PORT" "dist-port:$DIST_PORT"; do
  valid_port "${option#*:}" || die "--${option%%:*} must be a port number (got '${option#*:}')"
done
[[ "$(printf '%s\n' "$C2S_PORT" "$COMPONENT_PORT" "$DIST_PORT" | sort -u | wc -l)" -eq 3 ]] ||
  die "--c2s-port, --component-port and --dist-port must differ"
[[ "$LOG_LEVEL" =~ ^(none|emergency|alert|critical|error|warning|notice|info|debug)$ ]] ||
  die "--log-level must be one of none, emergency, alert, critical, error, warning, notice, info, debug"
[[ -z "$WATCH_PID" || "$WATCH_PID" =~ ^[0-9]+$ ]] || die "--watch-pid must be a process id"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds"
[[ "$DIR" != *[\"\\$'\n']* ]] || die "--dir must not contain quotes, backslashes or newlines"

# ejabberdctl lives in /usr/sbin, which is not on every user's PATH; it only tells that the package is there.
PATH="$PATH:/usr/sbin" ensure_packages ejabberdctl:ejabberd openssl:openssl ||
  die "ejabberd is required (Debian package 'ejabberd')"
[[ -n "$(ejabberd_lib_dir)" ]] && command -v erl >/dev/null 2>&1 ||
  die "ejabberd's Erlang code or erl is missing; reinstall the Debian package 'ejabberd'"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
CONFIG="$DIR/ejabberd.yml"
PIDFILE="$DIR/ejabberd.pid"
SECRET_FILE="$DIR/component.secret"
TEMPLATE="$(dirname "${BASH_SOURCE[0]}")/ejabberd.yml.template"
umask 077
mkdir -p "$DIR/spool" "$DIR/log" "$DIR/certs" "$DIR/ca"
chmod 755 "$DIR/ca" # the dev CA certificate is for every client; its key stays 600

# --- component secret and node cookie -----------------------------------------------------------
if [[ -z "$SECRET" && -s "$SECRET_FILE" ]]; then
  SECRET="$(<"$SECRET_FILE")"
fi
if [[ -z "$SECRET" ]]; then
  SECRET="$(openssl rand -hex 16)"
fi
[[ "$SECRET" =~ ^[A-Za-z0-9._~+=/-]{1,256}$ ]] ||
  die "--secret may only use letters, digits and . _ ~ + = / - (got an unsupported character)"
printf '%s\n' "$SECRET" >"$SECRET_FILE"
# Whoever knows the cookie controls the node; it stays in the run directory, readable to its owner.
[[ -s "$DIR/cookie" ]] || openssl rand -hex 20 >"$DIR/cookie"

# --- certificates -------------------------------------------------------------------------------
make_dev_certificates "$DIR" "$DOMAIN"

# --- configuration ------------------------------------------------------------------------------
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
NEW_CONFIG="$(sed \
  -e "s|@@RUN_DIR@@|$(sed_escape "$DIR")|g" \
  -e "s|@@DOMAIN@@|$(sed_escape "$DOMAIN")|g" \
  -e "s|@@C2S_PORT@@|$C2S_PORT|g" \
  -e "s|@@COMPONENT_PORT@@|$COMPONENT_PORT|g" \
  -e "s|@@COMPONENT_SECRET@@|$(sed_escape "$SECRET")|g" \
  -e "s|@@LOG_LEVEL@@|$LOG_LEVEL|g" \
  -e "s|@@INTERFACE@@|$INTERFACE|g" \
  "$TEMPLATE")"
# The distribution port is part of the node's identity: register.sh and stop.sh read it here.
NEW_NODE_SETTINGS="$(printf 'DIST_PORT=%s\n' "$DIST_PORT")"

running_pid() { server_pid "$PIDFILE" "$DIR/spool"; }

start_watcher() { start_server_watcher "$DIR" "$WATCH_PID" "$1" ejabberd-watch; }

print_summary() {
  local pid="$1"
  cat <<EOF_SUMMARY
ejabberd is running (pid $pid, node $(node_name "$DIR")) for $DOMAIN
  c2s (STARTTLS required):  $INTERFACE:$C2S_PORT   hosts $DOMAIN (SCRAM-SHA-256), sha1.$DOMAIN (SCRAM-SHA-1)
  components (XEP-0114):    $INTERFACE:$COMPONENT_PORT   commands.active-calls.$DOMAIN, commands.auth.$DOMAIN, pubsub.active-calls.$DOMAIN
  component secret:         $SECRET
  dev CA certificate:       $DIR/ca/ca.crt
  config:                   $CONFIG
  log:                      $DIR/log/ejabberd.log (errors: $DIR/log/error.log)
EOF_SUMMARY
}

if pid="$(running_pid)"; then
  if [[ -f "$CONFIG" && "$(<"$CONFIG")" == "$NEW_CONFIG" && "$(<"$DIR/node.env")" == "$NEW_NODE_SETTINGS" ]] &&
    port_open "$C2S_PORT" && port_open "$COMPONENT_PORT"; then
    log "ejabberd is already running with this configuration"
    start_watcher "$pid"
    print_summary "$pid"
    exit 0
  fi
  log "configuration changed: restarting ejabberd (pid $pid)"
  "$(dirname "${BASH_SOURCE[0]}")/stop.sh" --dir "$DIR"
fi

for port in "$C2S_PORT" "$COMPONENT_PORT" "$DIST_PORT"; do
  if port_open "$port"; then
    die "port $port on 127.0.0.1 is already in use by another process; choose other ports (--c2s-port/--component-port/--dist-port)"
  fi
done

printf '%s\n' "$NEW_CONFIG" >"$CONFIG"
printf '%s\n' "$NEW_NODE_SETTINGS" >"$DIR/node.env"
node_environment "$DIR"
rm -f "$PIDFILE"
log_file="$DIR/log/ejabberd.log"
# ejabberd keeps running when it cannot bind a port (it logs an error); only this start's lines count.
log_offset=$(($(stat -c %s "$log_file" 2>/dev/null || echo 0) + 1))

# The node in the foreground (-noinput) as a background job in its own session: erl execs the
# VM, so the pid we get is the server's, and ejabberd's own pid file confirms it.
(
  cd "$DIR/spool"
  export EJABBERD_CONFIG_PATH="$CONFIG" EJABBERD_LOG_PATH="$log_file" EJABBERD_PID_PATH="$PIDFILE"
  export ERL_CRASH_DUMP="$DIR/log/erl_crash.dump" ERL_CRASH_DUMP_BYTES=0
  # Contributed modules are looked for here; keep the system's (/etc/ejabberd/modules.d) out.
  export CONTRIB_MODULES_PATH="$DIR/modules" CONTRIB_MODULES_CONF_DIR="$DIR/modules/conf"
  exec setsid erl "${NODE_ARGS[@]}" -noinput -mnesia dir "\"$DIR/spool\"" -s ejabberd \
    </dev/null >>"$DIR/log/ejabberd.stdout" 2>&1
) &
pid=$!

deadline=$((SECONDS + TIMEOUT))
until port_open "$C2S_PORT" && port_open "$COMPONENT_PORT"; do
  if ! pid_alive "$pid"; then
    tail -n 30 "$DIR/log/ejabberd.stdout" >&2 2>/dev/null || true
    tail -c +"$log_offset" "$log_file" 2>/dev/null | grep -E '\[(error|critical)\]' | tail -n 20 >&2 || true
    die "ejabberd exited during start-up (logs in $DIR/log)"
  fi
  if errors="$(tail -c +"$log_offset" "$log_file" 2>/dev/null | grep -E 'eaddrinuse|Failed to open socket' || true)" && [[ -n "$errors" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    printf '%s\n' "$errors" >&2
    die "a port is already in use by another process; choose other ports (--c2s-port/--component-port)"
  fi
  if ((SECONDS >= deadline)); then
    kill -TERM "$pid" 2>/dev/null || true
    tail -c +"$log_offset" "$log_file" 2>/dev/null | tail -n 30 >&2 || true
    die "ejabberd did not open ports $C2S_PORT and $COMPONENT_PORT within ${TIMEOUT}s (logs in $DIR/log)"
  fi
  sleep 0.2
done
[[ "$(cat "$PIDFILE" 2>/dev/null)" == "$pid" ]] ||
  die "ejabberd's pid file ($PIDFILE) does not name the node started (pid $pid)"

start_watcher "$pid"
print_summary "$pid"

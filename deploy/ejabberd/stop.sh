#!/usr/bin/env bash
# Stops the ejabberd started by deploy/ejabberd/start.sh for one run directory, by its pid.
# Only a process whose command line names this run directory's spool is ever signalled, so a
# system ejabberd (or another run directory's) is never touched. Stopping a stopped server is fine.
# SIGTERM makes the Erlang VM shut ejabberd down cleanly (Mnesia is flushed to the spool).
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
usage: deploy/ejabberd/stop.sh [--dir DIR] [--timeout SECONDS]

  --dir DIR          run directory given to start.sh      [.stack/ejabberd]
  --timeout SECONDS  wait this long after SIGTERM before SIGKILL   [30]
EOF_USAGE
}

DIR="$REPO_ROOT/.stack/ejabberd"
TIMEOUT=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; DIR="$2"; shift 2 ;;
    --timeout) require_value "$@"; TIMEOUT="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds"

if [[ ! -d "$DIR" ]]; then
  log "ejabberd is not running (no run directory $DIR)"
  exit 0
fi
DIR="$(cd "$DIR" && pwd)"
PIDFILE="$DIR/ejabberd.pid"

# The watcher (start.sh --watch-pid) has nothing left to do.
if [[ -s "$DIR/watch.pid" ]]; then
  watcher="$(<"$DIR/watch.pid")"
  if pid_alive "$watcher" && pid_cmdline_contains "$watcher" "ejabberd-watch"; then
    kill "$watcher" 2>/dev/null || true
  fi
  rm -f "$DIR/watch.pid"
fi

pid=""
if [[ -s "$PIDFILE" ]]; then
  pid="$(<"$PIDFILE")"
fi
if [[ -z "$pid" ]] || ! pid_alive "$pid" || ! pid_cmdline_contains "$pid" "$DIR/spool"; then
  rm -f "$PIDFILE"
  log "ejabberd is not running (run directory $DIR)"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + TIMEOUT))
while pid_alive "$pid"; do
  if ((SECONDS >= deadline)); then
    log "ejabberd (pid $pid) did not stop within ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    break
  fi
  sleep 0.1
done
rm -f "$PIDFILE"
log "ejabberd stopped (pid $pid)"

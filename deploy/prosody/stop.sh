#!/usr/bin/env bash
# Stops the Prosody started by deploy/prosody/start.sh for one run directory, by its pid.
# Only a process whose command line names this run directory's config is ever signalled, so a
# system Prosody (or another run directory's) is never touched. Stopping a stopped server is fine.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
usage: deploy/prosody/stop.sh [--dir DIR] [--timeout SECONDS]

  --dir DIR          run directory given to start.sh      [.stack/prosody]
  --timeout SECONDS  wait this long after SIGTERM before SIGKILL   [15]
EOF_USAGE
}

DIR="$REPO_ROOT/.stack/prosody"
TIMEOUT=15
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
  log "Prosody is not running (no run directory $DIR)"
  exit 0
fi
DIR="$(cd "$DIR" && pwd)"
CONFIG="$DIR/prosody.cfg.lua"
PIDFILE="$DIR/prosody.pid"

# The watcher (start.sh --watch-pid) has nothing left to do.
if [[ -s "$DIR/watch.pid" ]]; then
  watcher="$(<"$DIR/watch.pid")"
  if pid_alive "$watcher" && pid_cmdline_contains "$watcher" "prosody-watch"; then
    kill "$watcher" 2>/dev/null || true
  fi
  rm -f "$DIR/watch.pid"
fi

pid=""
if [[ -s "$PIDFILE" ]]; then
  pid="$(<"$PIDFILE")"
fi
if [[ -z "$pid" ]] || ! pid_alive "$pid" || ! pid_cmdline_contains "$pid" "$CONFIG"; then
  rm -f "$PIDFILE"
  log "Prosody is not running (run directory $DIR)"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + TIMEOUT))
while pid_alive "$pid"; do
  if ((SECONDS >= deadline)); then
    log "Prosody (pid $pid) did not stop within ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    break
  fi
  sleep 0.1
done
rm -f "$PIDFILE"
log "Prosody stopped (pid $pid)"

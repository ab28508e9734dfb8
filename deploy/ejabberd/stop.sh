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
stop_server ejabberd "$DIR" "$DIR/ejabberd.pid" "$DIR/spool" ejabberd-watch "$TIMEOUT"

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
stop_server Prosody "$DIR" "$DIR/prosody.pid" "$DIR/prosody.cfg.lua" prosody-watch "$TIMEOUT"

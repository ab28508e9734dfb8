# shellcheck shell=bash
# Helpers shared by the deploy/ and scripts/ shell scripts. Source it; it defines functions only.

# The repository root (two levels above this file).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# ensure_packages COMMAND:PACKAGE...
# Installs the Debian packages whose command is missing. As root it runs apt-get (with
# 'apt-get update' first, and only when something is actually missing); otherwise it prints the
# command to run and fails.
ensure_packages() {
  local pair command package
  local -a missing=()
  for pair in "$@"; do
    command="${pair%%:*}"
    package="${pair#*:}"
    if ! command -v "$command" >/dev/null 2>&1; then
      missing+=("$package")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  if ! is_root; then
    log "missing: ${missing[*]}"
    log "install with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    return 1
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available; install them by hand"
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# port_open PORT [HOST] -- true when something accepts TCP connections on HOST:PORT.
port_open() {
  local port="$1" host="${2:-127.0.0.1}"
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

# pid_alive PID -- true when the process exists (and is not a zombie).
pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/stat" ]]; then
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]] || return 1
  fi
  return 0
}

# pid_cmdline_contains PID TEXT -- true when the process's command line contains TEXT.
pid_cmdline_contains() {
  local pid="$1" text="$2"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$text"
}

# require_value OPTION VALUE -- fail unless an option got a value.
require_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value"
}

# valid_port VALUE
valid_port() {
  [[ "$1" =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535))
}

# stop_server NAME DIR PIDFILE MARKER WATCHER TIMEOUT
# Stops a private server started in run directory DIR (deploy/prosody or deploy/ejabberd): ends the --watch-pid watcher
# (its command line names WATCHER), then sends SIGTERM to the pid in PIDFILE if that process is still the one started
# there (its command line contains MARKER), and SIGKILL after TIMEOUT seconds. Succeeds when nothing runs.
stop_server() {
  local name="$1" dir="$2" pidfile="$3" marker="$4" watcher_name="$5" timeout="$6" watcher pid deadline
  if [[ -s "$dir/watch.pid" ]]; then
    watcher="$(<"$dir/watch.pid")"
    if pid_alive "$watcher" && pid_cmdline_contains "$watcher" "$watcher_name"; then
      kill "$watcher" 2>/dev/null || true
    fi
    rm -f "$dir/watch.pid"
  fi
  if ! pid="$(server_pid "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    log "$name is not running (run directory $dir)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$pidfile"
  log "$name stopped (pid $pid)"
}

# server_pid PIDFILE MARKER
# Prints the pid in PIDFILE when that process is alive and still the server started there (its command line contains
# MARKER); fails otherwise.
server_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  pid_alive "$pid" && pid_cmdline_contains "$pid" "$marker" || return 1
  printf '%s\n' "$pid"
}

# start_server_watcher DIR WATCH_PID PID NAME
# With a WATCH_PID (start.sh --watch-pid), starts a watcher (command line NAME, its pid in DIR/watch.pid) that stops
# server PID with SIGTERM once WATCH_PID has gone (a test host that crashed or was killed), replacing an older watcher.
start_server_watcher() {
  local dir="$1" watch_pid="$2" pid="$3" name="$4" old
  [[ -n "$watch_pid" ]] || return 0
  if [[ -s "$dir/watch.pid" ]]; then
    old="$(<"$dir/watch.pid")"
    if pid_alive "$old" && pid_cmdline_contains "$old" "$name"; then kill "$old" 2>/dev/null || true; fi
  fi
  # shellcheck disable=SC2016 # $1/$2 are the inner script's arguments
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
    if kill -0 "$2" 2>/dev/null; then kill -TERM "$2"; fi' "$name" "$watch_pid" "$pid" \
    </dev/null >/dev/null 2>&1 &
  printf '%s\n' "$!" >"$dir/watch.pid"
}

#!/usr/bin/env bash
# Container health checks (Dockerfile HEALTHCHECK), in bash alone: the images carry no curl, ss or netstat.
#
#   healthcheck.sh http PORT PATH              GET http://127.0.0.1:PORT/PATH answers 200
#   healthcheck.sh listening tcp|udp PORT...   this container has a socket bound to each PORT (TCP: listening)
#   healthcheck.sh connected PORT COUNT        at least COUNT established TCP connections to a remote PORT
#
# The socket checks read /proc/net/{tcp,tcp6,udp,udp6}, which list the sockets of the container's own network
# namespace; they open no connection, so the checked server logs nothing.
set -euo pipefail

fail() { printf 'unhealthy: %s\n' "$*" >&2; exit 1; }

valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }

# sockets PROTO -- "local-port remote-port state" per socket, ports and states as the kernel writes them (hex).
# Each table is taken in one read (cat): bash's read builtin seeks back after every line, and re-reading a /proc
# table at an offset skips entries when other sockets have come or gone in between.
sockets() {
  local file local_address remote_address state
  for file in "/proc/net/$1" "/proc/net/${1}6"; do
    [[ -r "$file" ]] || continue
    { read -r _ # the header line
      while read -r _ local_address remote_address state _; do
        printf '%s %s %s\n' "${local_address##*:}" "${remote_address##*:}" "$state"
      done; } < <(cat "$file")
  done
}

check_http() {
  local port="$1" path="$2" status
  valid_port "$port" || fail "bad port '$port'"
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || fail "nothing accepts connections on 127.0.0.1:$port"
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
  IFS= read -r -t 10 status <&3 || fail "no answer from http://127.0.0.1:$port$path"
  status="${status%$'\r'}"
  [[ "$status" =~ ^HTTP/1\.[01]\ 200( |$) ]] || fail "http://127.0.0.1:$port$path answered '$status'"
}

check_listening() {
  local proto="$1" port hex found local_port state
  shift
  [[ "$proto" == tcp || "$proto" == udp ]] || fail "protocol must be tcp or udp, not '$proto'"
  [[ $# -gt 0 ]] || fail "no port given"
  for port in "$@"; do
    valid_port "$port" || fail "bad port '$port'"
    printf -v hex '%04X' "$port"
    found=0
    while read -r local_port _ state; do
      # 0A is TCP_LISTEN; a bound UDP socket has no such state.
      if [[ "$local_port" == "$hex" && ("$proto" == udp || "$state" == 0A) ]]; then found=1; break; fi
    done < <(sockets "$proto")
    ((found)) || fail "no $proto socket on port $port"
  done
}

check_connected() {
  local port="$1" want="$2" hex count=0 remote_port state
  valid_port "$port" || fail "bad port '$port'"
  [[ "$want" =~ ^[0-9]+$ ]] || fail "bad count '$want'"
  printf -v hex '%04X' "$port"
  while read -r _ remote_port state; do
    # 01 is TCP_ESTABLISHED.
    if [[ "$remote_port" == "$hex" && "$state" == 01 ]]; then count=$((count + 1)); fi
  done < <(sockets tcp)
  ((count >= want)) || fail "$count established connection(s) to port $port, $want expected"
}

case "${1:-}" in
  http) [[ $# -eq 3 ]] || fail "usage: healthcheck.sh http PORT PATH"; check_http "$2" "$3" ;;
  listening) [[ $# -ge 3 ]] || fail "usage: healthcheck.sh listening tcp|udp PORT..."; shift; check_listening "$@" ;;
  connected) [[ $# -eq 3 ]] || fail "usage: healthcheck.sh connected PORT COUNT"; check_connected "$2" "$3" ;;
  *) fail "usage: healthcheck.sh http PORT PATH | listening tcp|udp PORT... | connected PORT COUNT" ;;
esac

#!/usr/bin/env bash
# Entry point of the `phones` image: the demo phones, one sipp UAS per argument, each answering call after
# call (no -m) with a scenario of deploy/sipp/, as scripts/stack.sh runs them on loopback.
#
#   phones.sh [NAME=SCENARIO:PORT ...]
#       default: alice=answer:15061 bob=answer:15062 carol=busy:15063 dave=ring-forever:15064
#
# The phones listen on PHONES_ADDRESS, by default the IPv4 address this container's host name resolves to: sipp
# writes that address into its Contact and SDP, so the reference service reaches the phone there for the ACK
# and the BYE. sipp prints its statistics screen to stdout when it stops; errors go to stderr. The container
# stops (and its restart policy applies) as soon as one phone stops; SIGTERM stops them all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scenarios="$(cd "$here/../sipp" && pwd)"

[[ $# -gt 0 ]] || set -- alice=answer:15061 bob=answer:15062 carol=busy:15063 dave=ring-forever:15064

address="${PHONES_ADDRESS:-}"
if [[ -z "$address" ]]; then
  read -r address _ < <(getent ahostsv4 "$HOSTNAME") || true
  # Phones on loopback would be out of the other containers' reach.
  [[ "$address" != 127.* ]] ||
    { echo "error: host name '$HOSTNAME' resolves to $address (loopback); set PHONES_ADDRESS" >&2; exit 1; }
fi
[[ "$address" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
  { echo "error: no IPv4 address for host name '$HOSTNAME'; set PHONES_ADDRESS" >&2; exit 1; }

pids=()
stop_all() {
  trap - TERM INT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap 'stop_all; exit 143' TERM
trap 'stop_all; exit 130' INT

for phone in "$@"; do
  [[ "$phone" =~ ^([a-z0-9._-]+)=([a-z0-9-]+):([0-9]+)$ ]] ||
    { echo "error: '$phone' is not NAME=SCENARIO:PORT" >&2; stop_all; exit 2; }
  name="${BASH_REMATCH[1]}" scenario="${BASH_REMATCH[2]}" port="${BASH_REMATCH[3]}"
  [[ -f "$scenarios/$scenario.xml" ]] ||
    { echo "error: no scenario $scenarios/$scenario.xml for $name" >&2; stop_all; exit 2; }
  echo "phone $name: $scenario on $address:$port (udp)"
  sipp -sf "$scenarios/$scenario.xml" -i "$address" -p "$port" -nostdin -trace_err -error_file /dev/stderr </dev/null &
  pids+=("$!")
done

# The first phone to stop takes the others with it: a half-working demo is worse than a restart.
status=0
wait -n "${pids[@]}" || status=$?
echo "a phone stopped (exit status $status); stopping the others" >&2
stop_all
exit "$((status == 0 ? 1 : status))"

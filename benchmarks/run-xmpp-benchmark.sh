#!/usr/bin/env bash
# The XMPP library benchmark: IQ round trips per second and p50/p99 latency through a real Prosody,
# from one XmppClient connection and from an XmppClientPool, measured in the same run against a
# raw-socket client, so the library's cost is a ratio. See docs/benchmarks.md.
#
# Starts a private Prosody with deploy/prosody/start.sh (the deploy configuration) in a temporary
# directory on free loopback ports, registers the benchmark accounts, runs
# benchmarks/Gateway.Xmpp.Benchmarks in Release, prints a markdown report, and stops Prosody.
# Every client, raw or library, runs against that one server in the same run.
#
#   benchmarks/run-xmpp-benchmark.sh [--output FILE] [--keep] [--smacks-max-unacked N] [harness options]
#
#   --output FILE   also write the markdown report to FILE
#   --keep          keep the temporary run directory (Prosody's config and log) after the run
#   --smacks-max-unacked N  Prosody's smacks_max_unacked_stanzas instead of the deploy value
#                   (0 = Prosody's own default: an ack request after every stanza it sends)
#   harness options, passed through (defaults in brackets):
#     --clients raw,raw-sm,lib,pool,lib-nosm  --concurrency 1,8,64  --sequential-count 2000
#     --count 10000  --rounds 7  --slices 4  --warmup 5000  --pool-size 4  --quiet-busy 0.15  --quiet-wait 60
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

OUTPUT=""
KEEP=0
prosody_args=()
harness_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --output) require_value "$@"; OUTPUT="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --smacks-max-unacked) require_value "$@"; prosody_args+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --clients | --concurrency | --sequential-count | --count | --rounds | --slices | --warmup | --pool-size | --quiet-busy | --quiet-wait)
      require_value "$@"; harness_args+=("$1" "$2"); shift 2 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (dotnet not found on PATH)"
ensure_packages prosody:prosody prosodyctl:prosody openssl:openssl || die "Prosody is required (Debian package 'prosody')"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/xmpp-bench.XXXXXX")"
PROSODY_DIR="$RUN_DIR/prosody"
cleanup() {
  "$REPO_ROOT/deploy/prosody/stop.sh" --dir "$PROSODY_DIR" >/dev/null 2>&1 || true
  if ((KEEP)); then log "run directory kept: $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT

# --- build first, so compiling does not overlap the measurement ----------------------------------
PROJECT="$REPO_ROOT/benchmarks/Gateway.Xmpp.Benchmarks/Gateway.Xmpp.Benchmarks.csproj"
log "building the benchmark (Release)"
dotnet build "$PROJECT" -c Release -v quiet -nologo </dev/null >"$RUN_DIR/build.log" 2>&1 ||
  { tail -n 30 "$RUN_DIR/build.log" >&2; die "the benchmark did not build"; }

# --- a private Prosody on free ports -------------------------------------------------------------
free_port() {
  local port
  for _ in {1..100}; do
    port=$((20000 + RANDOM % 40000))
    port_open "$port" || { printf '%s\n' "$port"; return 0; }
  done
  die "no free port found"
}
started=0
for attempt in 1 2 3; do
  C2S_PORT="$(free_port)"
  COMPONENT_PORT="$(free_port)"
  [[ "$C2S_PORT" != "$COMPONENT_PORT" ]] || continue
  # --watch-pid: Prosody goes away with this script even if the script is killed.
  if "$REPO_ROOT/deploy/prosody/start.sh" --dir "$PROSODY_DIR" --c2s-port "$C2S_PORT" \
    --component-port "$COMPONENT_PORT" --watch-pid $$ "${prosody_args[@]}" >"$RUN_DIR/start.log" 2>&1; then
    started=1
    break
  fi
  log "Prosody did not start on ports $C2S_PORT/$COMPONENT_PORT (attempt $attempt); retrying on others"
  tail -n 5 "$RUN_DIR/start.log" >&2
done
((started)) || die "Prosody did not start"
PROSODY_PID="$(<"$PROSODY_DIR/prosody.pid")"

DOMAIN="activecalls.test"
PASSWORD="$(openssl rand -hex 16)"
for kind in raw lib nosm pool; do
  "$REPO_ROOT/deploy/prosody/register.sh" "bench-$kind" "$DOMAIN" "$PASSWORD" --dir "$PROSODY_DIR" 2>/dev/null
done

# --- run ----------------------------------------------------------------------------------------
cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
prosody_version="$(dpkg-query -W -f='${Version}' prosody 2>/dev/null || echo unknown)"
lua_version="$(tr '\0' ' ' <"/proc/$PROSODY_PID/cmdline" | awk '{print $1}')"
max_unacked="$(sed -n 's/^smacks_max_unacked_stanzas = //p' "$PROSODY_DIR/prosody.cfg.lua")"
header="Machine: $(nproc) CPUs ($cpu_model), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r); \
.NET SDK $(dotnet --version); Prosody $prosody_version ($lua_version), configuration of deploy/prosody/start.sh \
with smacks_max_unacked_stanzas = ${max_unacked:-?}."
log "$header"
log "Prosody pid $PROSODY_PID on 127.0.0.1:$C2S_PORT; run directory $RUN_DIR"

REPORT="$RUN_DIR/report.md"
dotnet "$REPO_ROOT/benchmarks/Gateway.Xmpp.Benchmarks/bin/Release/net10.0/Gateway.Xmpp.Benchmarks.dll" \
  --host 127.0.0.1 --port "$C2S_PORT" --domain "$DOMAIN" --ca "$PROSODY_DIR/ca/ca.crt" \
  --user-prefix bench --password "$PASSWORD" --prosody-pid "$PROSODY_PID" \
  --markdown "$REPORT" "${harness_args[@]}" </dev/null >/dev/null

if [[ -s "$PROSODY_DIR/prosody.err" ]]; then
  log "Prosody logged errors during the run:"
  tail -n 20 "$PROSODY_DIR/prosody.err" >&2
fi

tls="$(grep -o 'Stream encrypted ([^)]*)' "$PROSODY_DIR/prosody.log" | sort | uniq -c | sed 's/^ *//' | paste -sd';' || true)"
{
  printf '%s\n\n' "$header"
  printf 'c2s sessions (from Prosody'"'"'s log): %s\n\n' "${tls:-unknown}"
  cat "$REPORT"
} | tee ${OUTPUT:+"$OUTPUT"}

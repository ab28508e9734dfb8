#!/usr/bin/env bash
# Builds the gateway, the reference service and the load generator in Release, then runs
# benchmarks/Gateway.Api.Benchmarks: POST /calls through the gateway vs the same create commands
# sent straight over one XMPP connection (see docs/benchmarks.md). The markdown tables go to stdout,
# progress to stderr. Extra arguments go to the harness, e.g. --requests 2000 --concurrency 1,16,64, or
# --prosody-nagle off (Prosody with network_settings.nagle = false; on, its default, unless said), or
# --arms direct,embedded,redis1,redis2 (the default is direct,embedded: today's two arms; redis1 / redis2 add one and two
# gateway replicas on a redis-server the harness starts, AOF with appendfsync always unless --redis-appendfsync everysec;
# redis1-everysec / redis2-everysec measure the other policy in the same run), and --settle on (each run waits until
# the stack is idle, so a subscription holder still applying the previous run's notifications is not billed to the next).
# Needs prosody, openssl and sipp (Debian packages prosody, openssl, sip-tester); redis-server and redis-cli for the
# Redis arms (redis-server, redis-tools).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/artifacts/gwbench"
tools=(prosody sipp openssl)
[[ " $* " == *redis* ]] && tools+=(redis-server redis-cli)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required" >&2; exit 1; }
done
build() { dotnet build "$1" -c Release -o "$2" -nologo -v quiet >&2; }
build "$ROOT/src/Gateway.Api/Gateway.Api.csproj" "$OUT/gateway"
build "$ROOT/src/ActiveCalls.Service/ActiveCalls.Service.csproj" "$OUT/service"
build "$ROOT/benchmarks/Gateway.Api.Benchmarks/Gateway.Api.Benchmarks.csproj" "$OUT/harness"
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cd "$ROOT"
exec dotnet "$OUT/harness/Gateway.Api.Benchmarks.dll" \
  --gateway-dll "$OUT/gateway/Gateway.Api.dll" --service-dll "$OUT/service/ActiveCalls.Service.dll" "$@"

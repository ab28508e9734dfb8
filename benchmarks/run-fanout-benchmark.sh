#!/usr/bin/env bash
# Builds the gateway and the harness in Release, then runs benchmarks/Gateway.Streaming.Benchmarks: one PubSub
# notification at a time, published by the reference service (hosted in the harness) through a private Prosody, fanned
# out by the gateway (a child process on Kestrel) to 1,000 SignalR clients (the harness, real WebSockets). Reports the
# delivery latency (gateway applies the item -> client receipt) and the gateway's memory before and after the clients
# connect (see docs/benchmarks.md). The markdown tables go to stdout, progress to stderr. Extra arguments go to the
# harness, e.g. --clients 1000 --rounds 3 --notifications 40. Needs prosody and openssl (Debian packages).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/artifacts/fanout"
for tool in prosody openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required" >&2; exit 1; }
done
build() { dotnet build "$1" -c Release -o "$2" -nologo -v quiet >&2; }
build "$ROOT/src/Gateway.Api/Gateway.Api.csproj" "$OUT/gateway"
build "$ROOT/benchmarks/Gateway.Streaming.Benchmarks/Gateway.Streaming.Benchmarks.csproj" "$OUT/harness"
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cd "$ROOT"
exec dotnet "$OUT/harness/Gateway.Streaming.Benchmarks.dll" --gateway-dll "$OUT/gateway/Gateway.Api.dll" "$@"

#!/usr/bin/env bash
# Builds benchmarks/Gateway.Calls.Benchmarks in Release and runs it: N live calls (100,000 by default) in one process
# through the real CallTracker, on the in-memory store (MaxCalls = N) and/or SQLite (a temp file, deleted afterwards).
# Reports insert cost over the first vs the last 10k, managed memory per call (and the SQLite file per call), the cost
# of one event on an existing call with N vs 1,000 calls present, FindAsync by id and by SIP Call-ID, and the cost of
# an insert that evicts (see docs/benchmarks.md). The markdown tables go to stdout, progress to stderr.
# Usage: run-calls-benchmark.sh [--calls N] [--rounds R] [--store memory|sqlite|both] (other options go to the harness:
# --events, --lookups, --evict, --small, --warmup). Run it when the 1-minute load average is low (it is printed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/artifacts/calls"
dotnet build "$ROOT/benchmarks/Gateway.Calls.Benchmarks/Gateway.Calls.Benchmarks.csproj" -c Release -o "$OUT" -nologo -v quiet >&2
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cd "$ROOT"
exec dotnet "$OUT/Gateway.Calls.Benchmarks.dll" "$@"

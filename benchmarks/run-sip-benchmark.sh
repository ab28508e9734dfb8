#!/usr/bin/env bash
# SIP engine benchmark: calls set up and torn down per second, and memory per active call, against two sipp UAS
# phones on loopback (deploy/sipp/answer.xml). Installs nothing. Prints the machine, then markdown tables.
#
#   benchmarks/run-sip-benchmark.sh [--calls 500] [--concurrency 1,10,50] [--repeat 2] [--active 200,500] [--warmup 100]
#
# Exit code: the harness's (0 = every call connected and ended, nothing left in the engine or in sipp).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sipp >/dev/null 2>&1; then
  echo "sipp not found: install Debian package sip-tester (apt-get install -y sip-tester)" >&2
  exit 2
fi

dotnet build -c Release benchmarks/ActiveCalls.Sip.Benchmarks -v quiet -nologo >&2

echo "## Machine"
echo
echo "- cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- .NET: $(dotnet --version) (runtime $(dotnet --list-runtimes | grep -m1 Microsoft.NETCore.App | cut -d' ' -f2))"
echo "- sipp: $(sipp -v 2>&1 | grep -m1 -o 'SIPp v[^ ]*')"
echo "- arguments: ${*:-(defaults)}"
echo
set +e
dotnet benchmarks/ActiveCalls.Sip.Benchmarks/bin/Release/net10.0/ActiveCalls.Sip.Benchmarks.dll "$@"
rc=$?
set -e
echo
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc

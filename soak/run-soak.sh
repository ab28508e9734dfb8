#!/usr/bin/env bash
# The soak: builds the gateway, the reference service and the harness (Release), then drives calls through the
# gateway against a local stack of separate processes (Prosody, the service, sipp phones) while it kills, restarts and
# freezes Prosody, the service and the gateway in turn; prints the report and writes it to STATE/report.md.
#
#   soak/run-soak.sh [--short] [--minutes N] [--workers N] [--min-faults N] [--state DIR]
#
# Long form by default: 30 minutes, every fault at least five times (docs/reliability.md holds its figures).
# --short is the form the tests run (under three minutes). Exit status 0 when every promise was kept.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (dotnet not found on PATH); see README.md"
ensure_packages prosody:prosody prosodyctl:prosody sipp:sip-tester openssl:openssl || die "Prosody, sipp and openssl are required"

cd "$REPO_ROOT"
log "building (Release)"
for project in src/Gateway.Api src/ActiveCalls.Service soak/Gateway.Soak; do
  dotnet build "$project" -c Release -v quiet -nologo >/dev/null || die "$project did not build (dotnet build $project -c Release)"
done
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec dotnet soak/Gateway.Soak/bin/Release/net10.0/Gateway.Soak.dll --configuration Release --repository "$REPO_ROOT" "$@"

#!/usr/bin/env bash
# Publishes the gateway and the reference Active-Calls service self-contained (Release, no .NET runtime
# needed on the target) into artifacts/publish/<app>/: the input of the Dockerfile's `gateway` and
# `activecalls` images, and a deployable folder on its own (run ./Gateway.Api or ./ActiveCalls.Service).
#
#   scripts/publish.sh [--runtime RID] [--output DIR] [APP...]      APP: gateway | activecalls (default both)
#
# ICU stays on (no invariant globalization): SASLprep (RFC 4013) normalises passwords to NFKC, which the
# invariant mode silently skips, so the host or image needs libicu.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

usage() {
  cat <<'EOF'
usage: scripts/publish.sh [options] [APP...]

  APP                  gateway (src/Gateway.Api) | activecalls (src/ActiveCalls.Service)   [both]
  --runtime RID        target runtime identifier                                           [linux-x64]
  --output DIR         root of the published folders; each app goes to DIR/<app>/         [artifacts/publish]
  -h, --help           this text

The Docker images (Dockerfile) copy artifacts/publish/gateway and artifacts/publish/activecalls.
EOF
}

declare -A PROJECTS=([gateway]="src/Gateway.Api" [activecalls]="src/ActiveCalls.Service")
declare -A EXECUTABLES=([gateway]="Gateway.Api" [activecalls]="ActiveCalls.Service")

RID="linux-x64"
OUTPUT="$REPO_ROOT/artifacts/publish"
apps=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runtime) require_value "$@"; RID="$2"; shift 2 ;;
    --output) require_value "$@"; OUTPUT="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    gateway | activecalls) apps+=("$1"); shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ ${#apps[@]} -gt 0 ]] || apps=(gateway activecalls)
[[ "$RID" =~ ^linux-(x64|arm64|musl-x64|musl-arm64)$ ]] || die "--runtime must be a Linux RID such as linux-x64 (got '$RID')"

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (dotnet not found on PATH); see README.md"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

mkdir -p "$OUTPUT"
OUTPUT="$(cd "$OUTPUT" && pwd)"

for app in "${apps[@]}"; do
  project="$REPO_ROOT/${PROJECTS[$app]}"
  out="$OUTPUT/$app"
  # A clean folder: a file left from an earlier publish (a removed dependency, an old asset) must not ship.
  rm -rf "$out"
  log "publishing $app ($RID, self-contained) to $out"
  dotnet publish "$project" -c Release -r "$RID" --self-contained -o "$out" -nologo -v quiet </dev/null ||
    die "dotnet publish of ${PROJECTS[$app]} failed"

  # Readable by every user whatever the umask was: the images run the apps as an unprivileged user.
  chmod -R u=rwX,go=rX "$out"
  [[ -x "$out/${EXECUTABLES[$app]}" ]] || die "the published $app has no executable $out/${EXECUTABLES[$app]}"
  # The gateway's static files (the dashboard) are served from wwwroot/ beside the executable.
  if [[ -d "$project/wwwroot" && ! -d "$out/wwwroot" ]]; then
    die "${PROJECTS[$app]} has a wwwroot/ but the published $app does not"
  fi
done

log "published: ${apps[*]} -> $OUTPUT"

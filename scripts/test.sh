#!/usr/bin/env bash
# Quick start #2: runs every test of the solution (and the TypeScript client's, with node) and ends with the line
#   N passed, N failed            (", N skipped" is appended when tests were skipped)
# Exits non-zero when the build fails, a test fails, the test run breaks, or no test ran.
#
# The real-server tests start their own Prosody and ejabberd (see tests/Gateway.Testing/Prosody and
# tests/Gateway.Testing/Ejabberd), so both must be installed; as root this script installs them (and
# sipp, for the SIP tests, redis-server, for the replica tests, Chromium, for the dashboard's browser
# tests, and npm, for the dashboard's build) with apt-get when missing, otherwise it prints the command
# to run.
#
#   scripts/test.sh [--results DIR] [-- extra dotnet test arguments, e.g. --filter ...]
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

RESULTS="$REPO_ROOT/.test-results"
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --results) require_value "$@"; RESULTS="$2"; shift 2 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown argument: $1 (pass dotnet test arguments after --)" ;;
  esac
done

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (dotnet not found on PATH); see README.md"

# ejabberdctl is in /usr/sbin, which not every user's PATH has; it only tells that the package is there.
if ! PATH="$PATH:/usr/sbin" ensure_packages prosody:prosody prosodyctl:prosody ejabberdctl:ejabberd sipp:sip-tester \
  redis-server:redis-server openssl:openssl chromium:chromium npm:npm; then
  log "warning: continuing without them; the tests that need them will fail"
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"

cd "$REPO_ROOT"
# One TRX file per test project. The logger's default file names are used on purpose: with a
# fixed LogFileName every project of a solution would overwrite the same file.
set +e
dotnet test Gateway.sln --logger trx --results-directory "$RESULTS" "${extra[@]}" </dev/null 2>&1 |
  tee "$RESULTS/dotnet-test.log"
dotnet_rc=${PIPESTATUS[0]}
set -e

# Sum the <Counters .../> element of every TRX file (attribute order does not matter).
counter() { sed -n "s/.*[[:space:]]$1=\"\\([0-9]*\\)\".*/\\1/p" <<<"$2"; }
total=0 passed=0 failed=0 files=0 unreadable=0
shopt -s nullglob globstar
for trx in "$RESULTS"/**/*.trx; do
  counters="$(tr -d '\r\n' <"$trx" | grep -o '<Counters [^>]*>' | head -n 1 || true)"
  if [[ -z "$counters" ]]; then
    log "error: no <Counters> element in $trx"
    unreadable=$((unreadable + 1))
    continue
  fi
  files=$((files + 1))
  t="$(counter total "$counters")"
  p="$(counter passed "$counters")"
  f=0
  for name in failed error timeout aborted; do
    n="$(counter "$name" "$counters")"
    f=$((f + ${n:-0}))
  done
  total=$((total + ${t:-0}))
  passed=$((passed + ${p:-0}))
  failed=$((failed + f))
done
# Whatever was neither passed nor failed (NotExecuted, Inconclusive, ...) was skipped.
skipped=$((total - passed - failed))
((skipped >= 0)) || skipped=0

# The TypeScript client's unit tests (node's test runner), built with tests/Gateway.Api.Tests by the run above.
ts_status=0
if [[ -d clients/typescript/dist/test ]]; then
  set +e
  (cd clients/typescript && node --test dist/test/) </dev/null >"$RESULTS/typescript-client-test.log" 2>&1
  ts_rc=$?
  set -e
  ts_passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$RESULTS/typescript-client-test.log" | tail -n 1)"
  ts_failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$RESULTS/typescript-client-test.log" | tail -n 1)"
  echo "TypeScript client: ${ts_passed:-0} passed, ${ts_failed:-0} failed (clients/typescript, node --test)"
  total=$((total + ${ts_passed:-0} + ${ts_failed:-0}))
  passed=$((passed + ${ts_passed:-0}))
  failed=$((failed + ${ts_failed:-0}))
  if ((ts_rc != 0)) && [[ "${ts_failed:-0}" == 0 ]]; then
    log "the TypeScript client's tests failed (exit code $ts_rc); see $RESULTS/typescript-client-test.log"
    ts_status=1
  fi
else
  log "error: the TypeScript client was not built (clients/typescript/dist/test is missing)"
  ts_status=1
fi

# Each test project reports its own "Results File:"; fewer TRX files means one was overwritten.
reported="$(grep -c 'Results File: ' "$RESULTS/dotnet-test.log" || true)"
status=$ts_status
if ((dotnet_rc != 0)); then
  log "dotnet test failed (exit code $dotnet_rc)"
  status=1
fi
if ((unreadable > 0 || files != reported)); then
  log "error: dotnet test reported $reported result files but $files TRX files could be read"
  status=1
fi
if ((total == 0)); then
  log "error: no tests ran"
  status=1
fi
if ((failed > 0)); then
  status=1
fi

summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
exit "$status"

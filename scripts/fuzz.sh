#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read the network (SharpFuzz + AFL++); see fuzz/README.md.
#
#   scripts/fuzz.sh [--minutes N] [--jobs J] [--out DIR] [--resume] [target...]
#
#   --minutes N   how long each target runs (default 10)
#   --jobs J      how many targets run at once (default 1; each takes about one core)
#   --out DIR     AFL++ output (default .fuzz-out); findings land in DIR/<target>/default/crashes and .../hangs
#   --resume      continue each target from its last queue in DIR instead of starting from fuzz/corpus
#   target        any of: xml-stream data-form active-call-item pubsub-event adhoc command-request json-request
#                 sip-message (default: all)
#
# It installs afl++ with apt-get when missing (as root), restores the sharpfuzz tool, publishes fuzz/Gateway.Fuzz in
# Release to DIR/publish, instruments the copies of the application's assemblies there, runs afl-fuzz per target and
# prints a table from each fuzzer_stats. Exit status: 0; 3 when a target saved a crash or a hang; 1 when one did not run.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/common.sh"

ALL_TARGETS=(xml-stream data-form active-call-item pubsub-event adhoc command-request json-request sip-message)
# The application assemblies whose code AFL sees (the harness and the framework are not instrumented).
INSTRUMENTED=(Gateway.Xmpp.dll ActiveCalls.Sip.dll ActiveCalls.Service.dll Gateway.Api.dll)

minutes=10 jobs=1 out="$REPO_ROOT/.fuzz-out" resume=0
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) require_value "$@"; minutes="$2"; shift 2 ;;
    --jobs) require_value "$@"; jobs="$2"; shift 2 ;;
    --out) require_value "$@"; out="$2"; shift 2 ;;
    --resume) resume=1; shift ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--minutes takes a number"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs takes a positive number"
((${#targets[@]} > 0)) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t' (targets: ${ALL_TARGETS[*]})"
done
seconds="$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); print (s < 1 ? 1 : s) }')"

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (dotnet not found on PATH); see README.md"
ensure_packages afl-fuzz:afl++ || die "afl++ is required"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

cd "$REPO_ROOT"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
publish="$out/publish"

log "restoring the sharpfuzz tool"
dotnet tool restore >/dev/null

# A fresh publish every time: sharpfuzz rewrites the assemblies in place and refuses ones it already instrumented.
log "publishing fuzz/Gateway.Fuzz (Release) to $publish"
rm -rf "$publish"
dotnet publish fuzz/Gateway.Fuzz/Gateway.Fuzz.csproj -c Release -o "$publish" -v quiet -nologo </dev/null >"$out/publish.log" 2>&1 ||
  { cat "$out/publish.log" >&2; die "dotnet publish failed"; }
for assembly in "${INSTRUMENTED[@]}"; do
  log "instrumenting $assembly"
  dotnet sharpfuzz "$publish/$assembly" >"$out/instrument-${assembly%.dll}.log" 2>&1 ||
    { cat "$out/instrument-${assembly%.dll}.log" >&2; die "sharpfuzz could not instrument $assembly"; }
done

dictionary_for() {
  case "$1" in
    json-request) echo "$REPO_ROOT/fuzz/dict/json.dict" ;;
    sip-message) echo "$REPO_ROOT/fuzz/dict/sip.dict" ;;
    *) echo "$REPO_ROOT/fuzz/dict/xml.dict" ;;
  esac
}

run_target() {
  local t="$1" dir="$out/$1"
  local input="$REPO_ROOT/fuzz/corpus/$t"
  if ((resume)) && [[ -d "$dir/default/queue" ]]; then
    input="-" # AFL++: resume from the previous queue
  elif [[ -d "$dir" ]]; then
    # Never delete findings: a previous run with crashes or hangs is kept beside the new one.
    if compgen -G "$dir/default/crashes/id*" >/dev/null || compgen -G "$dir/default/hangs/id*" >/dev/null; then
      local kept
      kept="$dir.$(date +%Y%m%d-%H%M%S)"
      mv "$dir" "$kept"
      log "$t: the previous run's findings are kept in $kept"
    else
      rm -rf "$dir"
    fi
  fi
  # SKIP_BIN_CHECK: the target binary is dotnet, not an AFL-instrumented program (SharpFuzz speaks the fork server
  # protocol from managed code). The hard heap limit turns unbounded allocation into an OutOfMemoryException: a crash.
  env AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 \
    AFL_FORKSRV_INIT_TMOUT=60000 AFL_SKIP_CRASHES=1 \
    DOTNET_GCHeapHardLimit=0x40000000 DOTNET_gcServer=0 DOTNET_TieredPGO=0 \
    afl-fuzz -i "$input" -o "$dir" -x "$(dictionary_for "$t")" -t 5000 -m none -V "$seconds" \
    -- dotnet "$publish/Gateway.Fuzz.dll" "$t" --warmup "$REPO_ROOT/fuzz/corpus/$t" \
    </dev/null >"$out/$t.log" 2>&1
}

log "fuzzing ${targets[*]} for $minutes min each, $jobs at a time (logs: $out/<target>.log)"
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  log "$t: starting"
  (run_target "$t" || { rc=$?; log "$t: afl-fuzz exited with $rc (see $out/$t.log)"; exit "$rc"; }) &
  running=$((running + 1))
done
wait || true

stat_of() { sed -n "s/^$2[[:space:]]*:[[:space:]]*//p" "$1" | head -n 1; }
found=0 failed=0
printf '\n%-17s %7s %12s %10s %9s %8s %6s %s\n' target minutes execs exec/s coverage crashes hangs stability
for t in "${targets[@]}"; do
  stats="$out/$t/default/fuzzer_stats"
  if [[ ! -f "$stats" ]]; then
    printf '%-17s %s\n' "$t" "no fuzzer_stats (see $out/$t.log)"
    failed=1
    continue
  fi
  run_time="$(stat_of "$stats" run_time)"
  crashes="$(stat_of "$stats" saved_crashes)"; crashes="${crashes:-$(stat_of "$stats" unique_crashes)}"
  hangs="$(stat_of "$stats" saved_hangs)"; hangs="${hangs:-$(stat_of "$stats" unique_hangs)}"
  printf '%-17s %7s %12s %10s %9s %8s %6s %s\n' "$t" \
    "$(awk -v s="${run_time:-0}" 'BEGIN { printf "%.1f", s / 60 }')" \
    "$(stat_of "$stats" execs_done)" "$(stat_of "$stats" execs_per_sec)" "$(stat_of "$stats" bitmap_cvg)" \
    "${crashes:-?}" "${hangs:-?}" "$(stat_of "$stats" stability)"
  if [[ "${crashes:-0}" != 0 || "${hangs:-0}" != 0 ]]; then found=1; fi
done
printf '\nfindings: %s/<target>/default/crashes and .../hangs; replay one with\n' "$out"
printf '  dotnet %s/Gateway.Fuzz.dll <target> --run <file>\n' "$publish"
((failed == 0)) || exit 1
((found == 0)) || exit 3

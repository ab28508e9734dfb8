#!/usr/bin/env bash
# Creates an account (or resets its password) on the Prosody of one run directory, with
# prosodyctl and that directory's generated config. The server need not be running; a running
# server sees the account at once.
#
#   deploy/prosody/register.sh USER DOMAIN PASSWORD [--dir DIR]
#
# DOMAIN is a VirtualHost of the generated config: the main domain (SCRAM-SHA-256 hashes) or
# sha1.<domain> (SCRAM-SHA-1 hashes).
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

usage() { echo "usage: deploy/prosody/register.sh USER DOMAIN PASSWORD [--dir DIR]"; }

DIR="$REPO_ROOT/.stack/prosody"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) require_value "$@"; DIR="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ ${#args[@]} -eq 3 ]] || { usage >&2; exit 2; }
user="${args[0]}" domain="${args[1]}" password="${args[2]}"
[[ -n "$user" && -n "$domain" && -n "$password" ]] || die "USER, DOMAIN and PASSWORD must not be empty"

CONFIG="$DIR/prosody.cfg.lua"
[[ -f "$CONFIG" ]] || die "no generated config at $CONFIG; run deploy/prosody/start.sh --dir $DIR first"
grep -qF "VirtualHost \"${domain,,}\"" "$CONFIG" ||
  die "$domain is not a VirtualHost of $CONFIG (hosts: $(grep -oP '^VirtualHost "\K[^"]+' "$CONFIG" | paste -sd' '))"
command -v prosodyctl >/dev/null 2>&1 || die "prosodyctl is missing (Debian package 'prosody')"

if ! output="$(prosodyctl --config "$CONFIG" register "$user" "${domain,,}" "$password" 2>&1)"; then
  printf '%s\n' "$output" >&2
  die "prosodyctl could not register $user@$domain"
fi
log "registered $user@${domain,,}"

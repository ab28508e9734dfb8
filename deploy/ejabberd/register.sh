#!/usr/bin/env bash
# Creates an account (or resets its password) on the running ejabberd of one run directory,
# through the node's own control interface (ejabberd_ctl, as ejabberdctl does for the system node).
#
#   deploy/ejabberd/register.sh USER DOMAIN PASSWORD [--dir DIR]
#
# DOMAIN is a host of the generated config: the main domain (SCRAM-SHA-256 hashes) or
# sha1.<domain> (SCRAM-SHA-1 hashes). Unlike Prosody's, ejabberd's accounts live in the running
# node's database: the server must be running.
set -euo pipefail

# shellcheck source=deploy/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=deploy/ejabberd/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

usage() { echo "usage: deploy/ejabberd/register.sh USER DOMAIN PASSWORD [--dir DIR]"; }

DIR="$REPO_ROOT/.stack/ejabberd"
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
user="${args[0]}" domain="${args[1],,}" password="${args[2]}"
[[ -n "$user" && -n "$domain" && -n "$password" ]] || die "USER, DOMAIN and PASSWORD must not be empty"

[[ -d "$DIR" ]] || die "no run directory $DIR; run deploy/ejabberd/start.sh --dir $DIR first"
DIR="$(cd "$DIR" && pwd)"
CONFIG="$DIR/ejabberd.yml"
[[ -f "$CONFIG" ]] || die "no generated config at $CONFIG; run deploy/ejabberd/start.sh --dir $DIR first"
grep -qxF "  - \"$domain\"" "$CONFIG" ||
  die "$domain is not a host of $CONFIG (hosts: $(sed -n '/^hosts:/,/^$/s/^  - "\(.*\)"$/\1/p' "$CONFIG" | paste -sd' '))"

# 'register' refuses an existing account; 'change_password' then sets the new password.
if ! output="$(ejabberd_ctl "$DIR" register "$user" "$domain" "$password" 2>&1)"; then
  if [[ "$output" == *"already registered"* ]]; then
    output="$(ejabberd_ctl "$DIR" change_password "$user" "$domain" "$password" 2>&1)" ||
      { printf '%s\n' "$output" >&2; die "ejabberd could not reset the password of $user@$domain"; }
  else
    printf '%s\n' "$output" >&2
    die "ejabberd could not register $user@$domain (is it running? deploy/ejabberd/start.sh --dir $DIR)"
  fi
fi
log "registered $user@$domain"

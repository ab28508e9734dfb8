#!/usr/bin/env bash
# Entry point of the `prosody` image: this repository's Prosody configuration, listening on every
# interface of the container, with the gateway's account registered before the server starts.
#
# Environment (docker-compose.yml sets them; the defaults suit the demo stack):
#   XMPP_DOMAIN             XMPP domain                                   [activecalls.test]
#   COMPONENT_SECRET        secret of the three XEP-0114 components       (required)
#   GATEWAY_XMPP_USER       the gateway's account, created or reset       [gateway]
#   GATEWAY_XMPP_PASSWORD   its password                                  (required)
#   XMPP_C2S_PORT           client port (STARTTLS)                        [5222]
#   XMPP_COMPONENT_PORT     component port                                [5347]
#   PROSODY_LOG_LEVEL       debug | info | warn | error                   [info]
#   PROSODY_RUN_DIR         config, certificates, data; keep ca/ on a volume so clients can trust the
#                           dev CA and it survives a new container        [/var/lib/activecalls-prosody]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${COMPONENT_SECRET:?COMPONENT_SECRET must be set (the secret of the three components)}"
: "${GATEWAY_XMPP_PASSWORD:?GATEWAY_XMPP_PASSWORD must be set (the password of the gateway account)}"
domain="${XMPP_DOMAIN:-activecalls.test}"
dir="${PROSODY_RUN_DIR:-/var/lib/activecalls-prosody}"

args=(--dir "$dir" --domain "$domain" --interface 0.0.0.0
  --c2s-port "${XMPP_C2S_PORT:-5222}" --component-port "${XMPP_COMPONENT_PORT:-5347}"
  --secret "$COMPONENT_SECRET" --log-level "${PROSODY_LOG_LEVEL:-info}")

# prosodyctl needs the generated config, and the account must exist before the gateway logs in (it never
# retries an authentication failure), so: configure, register, then become the server.
"$here/../prosody/start.sh" "${args[@]}" --configure-only
"$here/../prosody/register.sh" "${GATEWAY_XMPP_USER:-gateway}" "$domain" "$GATEWAY_XMPP_PASSWORD" --dir "$dir"
exec "$here/../prosody/start.sh" "${args[@]}" --foreground

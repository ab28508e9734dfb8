# Images of the Active-Calls stack, one build target each:
#
#   gateway      the REST gateway on port 8080 (the default target: the last stage)
#   activecalls  the reference Active-Calls service: three XEP-0114 components, SIP on udp/5060
#   prosody      Prosody 0.12 with this repository's configuration: c2s 5222 (STARTTLS), components 5347
#   phones       the sipp demo phones: alice, bob (answer), carol (busy), dave (rings forever), udp/15061-15064
#
# The .NET apps are not compiled in here: scripts/publish.sh publishes them self-contained for linux-x64 into
# artifacts/publish/ (on the host or in CI), and these images copy that output onto Debian. So:
#
#   scripts/publish.sh
#   docker build --target gateway -t activecalls-gateway .       # or: docker compose build
#
# Every process runs as an unprivileged user, in the foreground, as PID 1 started in exec form, so `docker stop`'s
# SIGTERM reaches it: .NET's host and Prosody shut down cleanly on it, phones.sh stops its sipp processes.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- what a self-contained .NET app needs from Debian --------------------------------------------------------------
# ICU stays: SASLprep normalises passwords to NFKC, which the invariant globalization mode silently skips.
FROM ${DEBIAN_IMAGE} AS dotnet-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libc6 libgcc-s1 libicu72 libssl3 libstdc++6 tzdata zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin app
COPY deploy/docker/healthcheck.sh /usr/local/bin/healthcheck.sh
RUN chmod 0755 /usr/local/bin/healthcheck.sh
ENV DOTNET_RUNNING_IN_CONTAINER=true
WORKDIR /app

# --- Prosody with deploy/prosody/ ----------------------------------------------------------------------------------
# prosody-entrypoint.sh renders the config for every interface of the container, registers the gateway's account
# and execs Prosody (logging to stdout). Its dev CA is in /var/lib/activecalls-prosody/ca: mount a volume there and
# the same volume read-only into the gateway (Gateway__Xmpp__TrustedCertificatePath), as docker-compose.yml does.
FROM ${DEBIAN_IMAGE} AS prosody
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prosody openssl \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/lib/ /opt/activecalls/deploy/lib/
COPY deploy/prosody/ /opt/activecalls/deploy/prosody/
COPY deploy/docker/prosody-entrypoint.sh deploy/docker/healthcheck.sh /opt/activecalls/deploy/docker/
# Modes are set here, whatever the checkout's were. The run directory and its ca/ are created here so that a new
# volume mounted on ca/ starts owned by prosody.
RUN chmod -R u=rwX,go=rX /opt/activecalls \
 && chmod 0755 /opt/activecalls/deploy/*/*.sh \
 && install -d -o prosody -g prosody -m 0750 /var/lib/activecalls-prosody \
 && install -d -o prosody -g prosody -m 0755 /var/lib/activecalls-prosody/ca
USER prosody
WORKDIR /var/lib/activecalls-prosody
EXPOSE 5222 5347
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/opt/activecalls/deploy/docker/healthcheck.sh", "listening", "tcp", "5222", "5347"]
ENTRYPOINT ["/opt/activecalls/deploy/docker/prosody-entrypoint.sh"]

# --- the sipp demo phones ------------------------------------------------------------------------------------------
# Arguments (compose `command`) replace the default set: NAME=SCENARIO:PORT..., scenarios from deploy/sipp/.
FROM ${DEBIAN_IMAGE} AS phones
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sip-tester \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10002 sipp \
 && useradd --uid 10002 --gid sipp --create-home --home-dir /home/sipp --shell /usr/sbin/nologin sipp
COPY deploy/sipp/ /opt/activecalls/deploy/sipp/
COPY deploy/docker/phones.sh deploy/docker/healthcheck.sh /opt/activecalls/deploy/docker/
RUN chmod -R u=rwX,go=rX /opt/activecalls \
 && chmod 0755 /opt/activecalls/deploy/docker/*.sh
USER sipp
WORKDIR /home/sipp
EXPOSE 15061/udp 15062/udp 15063/udp 15064/udp
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/opt/activecalls/deploy/docker/healthcheck.sh", "listening", "udp", "15061", "15062", "15063", "15064"]
ENTRYPOINT ["/opt/activecalls/deploy/docker/phones.sh"]

# --- the reference Active-Calls service ----------------------------------------------------------------------------
# Configured through the environment (ActiveCalls__*, Sip__*; see docker-compose.yml). Healthy once its three
# components hold their connections to the XMPP server's component port. /data holds its SQLite file (calls' SIP
# state, items, subscriptions, grants; ActiveCalls__Storage__DatabasePath), so a restarted container ends the calls a
# crash left up: mount a volume there.
FROM dotnet-base AS activecalls
COPY artifacts/publish/activecalls/ /app/
RUN install -d -o app -g app -m 0750 /data
USER app
EXPOSE 5060/udp
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD /usr/local/bin/healthcheck.sh connected "${ActiveCalls__ComponentPort:-5347}" 3
ENTRYPOINT ["/app/ActiveCalls.Service"]

# --- the gateway (default target) ----------------------------------------------------------------------------------
# Configured through the environment (Gateway__*; see README "Deploy"). /health/ready answers 503 while no XMPP
# connection is up and 200 once calls can be placed ("Degraded" in its body while the pool is partly connected or
# the call-events subscription is still being set up); /health/live answers whenever the process serves HTTP. /data
# holds what must outlive the container (the webhook queue's SQLite file): mount a volume there. One log line per
# entry, as log collectors expect (Logging__Console__FormatterName=json for structured logs).
FROM dotnet-base AS gateway
COPY artifacts/publish/gateway/ /app/
RUN install -d -o app -g app -m 0750 /data
USER app
ENV ASPNETCORE_HTTP_PORTS=8080 \
    Logging__Console__FormatterName=simple \
    Logging__Console__FormatterOptions__SingleLine=true
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/healthcheck.sh", "http", "8080", "/health/ready"]
ENTRYPOINT ["/app/Gateway.Api"]

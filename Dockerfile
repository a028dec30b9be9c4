# syntax=docker/dockerfile:1
# Switchyard container image. Build from the repository root:
#   docker build -t switchyard .
# Run (the embedded default: the mock provider's models plus a provider per API key in the
# environment; keys and usage in the /var/lib/switchyard volume):
#   docker run -p 8080:8080 -e SWITCHYARD_MASTER_KEY=change-me switchyard
# With a configuration file, mount it into the volume's directory (the database, its secret and
# the usage journal are written next to it):
#   docker run -p 8080:8080 -v ./switchyard.yaml:/var/lib/switchyard/switchyard.yaml:ro \
#     switchyard serve --config /var/lib/switchyard/switchyard.yaml
# The builder is the Swift 6.3 image on Ubuntu 24.04 and the runtime Ubuntu 24.04, so that the
# binary (static Swift standard library, dynamic glibc) finds the glibc it was linked against.

FROM swift:6.3-noble AS builder
# GRDB links the system SQLite.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN scripts/package --release --output /dist \
    && mkdir /opt/switchyard \
    && tar -xzf /dist/switchyard-*.tar.gz -C /opt/switchyard --strip-components=1

FROM ubuntu:24.04
# The runtime needs SQLite, the CA certificates for HTTPS providers, the time zone database and
# curl for the health check; versions follow the base image's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 switchyard \
    && useradd --system --uid 10001 --gid switchyard --home-dir /var/lib/switchyard --shell /usr/sbin/nologin switchyard \
    && mkdir -p /var/lib/switchyard \
    && chown switchyard:switchyard /var/lib/switchyard \
    && chmod 0700 /var/lib/switchyard
COPY --from=builder /opt/switchyard /opt/switchyard
RUN ln -s /opt/switchyard/switchyard /usr/local/bin/switchyard
USER 10001:10001
WORKDIR /var/lib/switchyard
VOLUME ["/var/lib/switchyard"]
EXPOSE 8080
# Liveness only: /health/ready may need the operational token, and says more than "alive".
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/live"]
# SIGTERM lets streams in flight finish for server.shutdown_grace_period (default 30 s): give
# `docker stop` at least that long (docker stop -t 35; compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

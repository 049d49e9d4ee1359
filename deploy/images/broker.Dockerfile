# syntax=docker/dockerfile:1
#
# brokkr-broker: the hub of a brokkr fleet.
#
# Built by the release pipeline (goreleaser dockers_v2) from the binaries it has
# already compiled; nothing is compiled here. The build context holds one
# binary per platform at <os>/<arch>/brokkr-broker, and buildx sets
# TARGETPLATFORM to pick the right one. See deploy/images/README.md.
#
# This image has no PostgreSQL: run it with database.url set
# (BROKKR__DATABASE__URL). For the embedded database, use broker-postgres.Dockerfile.
FROM gcr.io/distroless/static-debian12:nonroot

ARG TARGETPLATFORM
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z

LABEL org.opencontainers.image.title="brokkr-broker" \
      org.opencontainers.image.description="brokkr broker: REST hub of a multi-cluster Kubernetes control plane" \
      org.opencontainers.image.url="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.source="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.documentation="https://github.com/brokkr/brokkr/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

COPY --chmod=0555 ${TARGETPLATFORM}/brokkr-broker /brokkr-broker

# The distroless "nonroot" user; Kubernetes can check runAsNonRoot against the numeric id.
USER 65532:65532

# API, /healthz, /readyz and /metrics.
EXPOSE 3000

ENTRYPOINT ["/brokkr-broker", "serve"]

# syntax=docker/dockerfile:1
#
# brokkr-agent: applies a brokkr broker's deployments to the cluster it runs in.
#
# Built by the release pipeline (goreleaser dockers_v2) from the binaries it has
# already compiled; nothing is compiled here. The build context holds one
# binary per platform at <os>/<arch>/brokkr-agent, and buildx sets
# TARGETPLATFORM to pick the right one. See deploy/images/README.md.
FROM gcr.io/distroless/static-debian12:nonroot

ARG TARGETPLATFORM
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z

LABEL org.opencontainers.image.title="brokkr-agent" \
      org.opencontainers.image.description="brokkr agent: applies a brokkr broker's deployments to its Kubernetes cluster" \
      org.opencontainers.image.url="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.source="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.documentation="https://github.com/brokkr/brokkr/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

COPY --chmod=0555 ${TARGETPLATFORM}/brokkr-agent /brokkr-agent

# The distroless "nonroot" user; Kubernetes can check runAsNonRoot against the numeric id.
USER 65532:65532

# Health server: /healthz, /readyz, /health and /metrics (agent.health_port).
EXPOSE 8080

ENTRYPOINT ["/brokkr-agent", "start"]

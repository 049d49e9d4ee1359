# syntax=docker/dockerfile:1
#
# brokkr-broker with PostgreSQL server programs, for the embedded-database mode
# (no database.url: the broker runs initdb and postgres itself in
# database.data_dir). The Helm chart uses it for database.mode=embedded under the
# tag "<version>-postgres"; see deploy/images/README.md.
#
# Like broker.Dockerfile it only copies the binary the release pipeline built.
FROM postgres:15-bookworm

ARG TARGETPLATFORM
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z

LABEL org.opencontainers.image.title="brokkr-broker" \
      org.opencontainers.image.description="brokkr broker with an embedded PostgreSQL 15" \
      org.opencontainers.image.url="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.source="https://github.com/brokkr/brokkr" \
      org.opencontainers.image.documentation="https://github.com/brokkr/brokkr/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# initdb needs the running uid to have a passwd entry. Use the same numeric
# user as the distroless images so one securityContext fits both.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home --shell /usr/sbin/nologin nonroot \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/brokkr

COPY --chmod=0555 ${TARGETPLATFORM}/brokkr-broker /brokkr-broker

# The image's PATH already holds /usr/lib/postgresql/15/bin, where the broker
# finds initdb, pg_ctl and postgres.
ENV BROKKR__DATABASE__DATA_DIR=/var/lib/brokkr/postgres \
    HOME=/home/nonroot

USER 65532:65532
EXPOSE 3000
VOLUME ["/var/lib/brokkr"]

ENTRYPOINT ["/brokkr-broker", "serve"]

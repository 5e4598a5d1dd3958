# syntax=docker/dockerfile:1
#
# eventrouter: one static binary for every role (router, sender, api, all, topics, ...).
#
#   docker build --build-arg VERSION=v1.2.3 -t eventrouter:v1.2.3 .
#   docker run --rm eventrouter:v1.2.3 version
#
# Build stage: the official Go image. CGO is off, so the binary is static and runs on
# any base image.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/claimable/eventrouter/internal/version.Version=${VERSION}" \
      -o /out/eventrouter ./cmd/eventrouter

# Runtime stage: Alpine rather than distroless/scratch, deliberately: it brings the CA
# bundle the sender needs for customers' HTTPS endpoints, tzdata, and busybox wget, which
# the docker-compose healthchecks use to call /readyz on the ops listener (:9090). The
# image is about 20 MB.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 eventrouter \
 && adduser -S -D -H -u 10001 -G eventrouter -s /sbin/nologin eventrouter
COPY --from=build /out/eventrouter /usr/local/bin/eventrouter
# Non-root: nothing eventrouter does needs privileges (it listens on 8080 and 9090).
USER 10001:10001
# api.listen and ops.listen (/metrics, /healthz, /readyz).
EXPOSE 8080 9090
# Roles shut down gracefully on SIGTERM within ops.shutdown_timeout (30s by default):
# give the container runtime a longer stop timeout than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["eventrouter"]
CMD ["--help"]

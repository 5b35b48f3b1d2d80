# The Fleetscope agent image: one static binary, CA certificates and an empty
# state directory on scratch.
#
#   docker build -t fleetscope \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Without access to Docker Hub, make the build stage from a local Go with
# packaging/image/build-base.sh and pass it as GO_IMAGE. GOPROXY (and
# GOFLAGS, GONOSUMDB, GOPRIVATE) pass through to module downloads.
#
# Privileges. The agent only reads, but what it reads belongs to root and to
# other processes, so it runs as user 0 with every capability dropped except:
#   - none for the containerd socket: it is owned by root, mode 0660, so user
#     0 opens it by ownership. That is why the image runs as root; a non-root
#     user works only where the socket's group is granted to it.
#   - CAP_SYS_PTRACE, to open /proc/<pid>/ns/net of other containers' tasks
#     (the kernel checks ptrace read access; a task with capabilities the
#     agent lacks, or another user's task, is refused without it). Without
#     it, network counters are missing; everything else still works.
# It needs the host's view of three things, mounted read-only:
#   - the cgroup tree:  /sys/fs/cgroup -> /host/sys/fs/cgroup
#     (FLEETSCOPE_HOST_CGROUP_ROOT=/host/sys/fs/cgroup)
#   - the host's procfs: /proc -> /host/proc (FLEETSCOPE_HOST_PROC_ROOT=/host/proc);
#     task pids from containerd are host pids, so a host /proc is needed
#     rather than hostPID
#   - containerd's socket directory: /run/containerd -> /run/containerd
# and one writable directory, /var/lib/fleetscope, for the history
# checkpoint (a host path keeps history across restarts). The root
# filesystem can be read-only, with no-new-privileges and the runtime's
# default seccomp profile; host networking is only needed to read the host's
# own network counters.

ARG GO_IMAGE=docker.io/library/golang:1.27

# The build stage runs on the builder's platform and cross-compiles, which a
# static Go binary makes free.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=devel
ARG GOPROXY
ARG GOFLAGS
ARG GONOSUMDB
ARG GOPRIVATE
# The toolchain go.mod asks for; an older base fetches it from GOPROXY.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
# Modules first, so this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="${TARGETARCH:-$(go env GOARCH)}" \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/fleetscope ./cmd/fleetscope
# The runtime tree, owned by root: scratch has no shell to make it.
RUN mkdir -p /out/rootfs/etc/ssl/certs /out/rootfs/tmp /out/rootfs/var/lib/fleetscope && \
    cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ && \
    printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >/out/rootfs/etc/passwd && \
    printf 'root:x:0:\nnogroup:x:65534:\n' >/out/rootfs/etc/group && \
    chmod 1777 /out/rootfs/tmp && \
    chmod 0700 /out/rootfs/var/lib/fleetscope

FROM scratch
ARG VERSION=devel
ARG REVISION=unknown
ARG LICENSES=Apache-2.0
LABEL org.opencontainers.image.title="fleetscope" \
      org.opencontainers.image.description="Container-fleet monitoring agent: per-container usage from cgroups and /proc, idle cost and serverless candidates" \
      org.opencontainers.image.source="https://github.com/fleetscope/fleetscope" \
      org.opencontainers.image.url="https://github.com/fleetscope/fleetscope" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/rootfs/ /
COPY --from=build /out/fleetscope /fleetscope
# Root for the containerd socket; see the top of this file.
USER 0:0
EXPOSE 10076
ENTRYPOINT ["/fleetscope"]
CMD ["run"]

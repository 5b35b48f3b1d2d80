#!/bin/sh
# Makes the build-stage image of the Dockerfile from the Go installation of
# this machine, for builders that cannot pull docker.io/library/golang (an
# air-gapped CI runner, a mirror-less network):
#
#   packaging/image/build-base.sh [IMAGE]
#   podman build --build-arg GO_IMAGE=IMAGE -t fleetscope .
#
# IMAGE defaults to localhost/fleetscope-build-base:go<major.minor>. The image
# holds what the build stage uses and nothing else: Go at /usr/local/go, a
# static busybox for the shell and the few commands RUN needs, and a CA
# bundle; its environment matches the official golang image's (GOPATH=/go,
# GOTOOLCHAIN=local), so the Dockerfile works the same on either.
#
# Environment:
#   CONTAINER_TOOL  podman or buildah (default: podman if found, else buildah)
#   GO              the go command whose GOROOT is copied (default: go on PATH,
#                   else /usr/local/go/bin/go)
#   BUSYBOX         a statically linked busybox (default /bin/busybox, Debian's
#                   busybox-static)
#   CA_BUNDLE       PEM bundle of CA certificates
#                   (default /etc/ssl/certs/ca-certificates.crt)
# Storage and runtime settings come from the tool's usual configuration
# (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF).
set -eu

# The toolchain whose GOROOT is copied: the one go.mod asks for.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"

die() { echo "build-base.sh: $*" >&2; exit 1; }

tool=${CONTAINER_TOOL:-}
if [ -z "$tool" ]; then
	if command -v podman >/dev/null 2>&1; then
		tool=podman
	elif command -v buildah >/dev/null 2>&1; then
		tool=buildah
	else
		die "neither podman nor buildah found: apt-get install podman (or buildah)"
	fi
fi

go=${GO:-}
if [ -z "$go" ]; then
	go=$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)
fi
[ -x "$go" ] || die "no go command at $go; set GO"
goroot=$("$go" env GOROOT)
gover=$("$go" env GOVERSION) # go1.27.3
case $gover in
go[0-9]*.[0-9]*) ;;
*) die "unexpected Go version $gover from $go" ;;
esac
minor=$(echo "$gover" | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')
image=${1:-localhost/fleetscope-build-base:$minor}

busybox=${BUSYBOX:-/bin/busybox}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# It must be static: the image has no dynamic loader.
[ -x "$busybox" ] || die "$busybox not found: apt-get install busybox-static"
[ -r "$ca" ] || die "$ca not found: apt-get install ca-certificates"

stage=$(mktemp -d "${TMPDIR:-/tmp}/fleetscope-base.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir -p "$stage/usr/local" "$stage/bin" "$stage/etc/ssl/certs" "$stage/go" "$stage/root" "$stage/tmp"
chmod 1777 "$stage/tmp"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
cp "$ca" "$stage/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"

# One tar stream: the small tree above, then GOROOT renamed to /usr/local/go
# (copying GOROOT first would double the I/O of the slowest part).
rootfs() {
	tar -cf - --owner=0 --group=0 --numeric-owner \
		-C "$stage" usr bin etc go root tmp \
		-C "$goroot" --transform 'flags=rh;s,^\./,usr/local/go/,;s,^\.$,usr/local/go,' .
}

path=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
description="Go $gover, busybox and CA certificates: the build stage of the Fleetscope image, made locally"
case $tool in
*podman)
	rootfs | "$tool" import --quiet \
		--change "ENV PATH=$path" --change "ENV GOPATH=/go" \
		--change "ENV GOTOOLCHAIN=local" --change "ENV HOME=/root" \
		--change "WORKDIR /go" --change 'CMD ["/bin/sh"]' \
		--change "LABEL org.opencontainers.image.title=fleetscope-build-base" \
		--change "LABEL org.opencontainers.image.description=\"$description\"" \
		- "$image" >/dev/null
	;;
*buildah)
	rootfs >"$stage/rootfs.tar"
	ctr=$("$tool" from scratch)
	if ! { "$tool" add "$ctr" "$stage/rootfs.tar" / >/dev/null &&
		"$tool" config --env "PATH=$path" --env GOPATH=/go \
			--env GOTOOLCHAIN=local --env HOME=/root \
			--workingdir /go --cmd /bin/sh \
			--label org.opencontainers.image.title=fleetscope-build-base \
			--label "org.opencontainers.image.description=$description" "$ctr" &&
		"$tool" commit --quiet --rm "$ctr" "$image" >/dev/null; }; then
		"$tool" rm "$ctr" >/dev/null 2>&1 || true
		die "$tool failed to make $image"
	fi
	;;
*) die "CONTAINER_TOOL must be podman or buildah, got $tool" ;;
esac
echo "$image"

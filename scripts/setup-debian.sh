#!/usr/bin/env bash
# Installs what the test suite needs on Debian 12 (bookworm): containerd, runc
# and a static busybox for the integration tests. Safe to run again; it does
# nothing when everything is present. Needs root (re-runs itself with sudo).
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

# Packages the tests need. Add new ones here.
PACKAGES=(
	containerd     # the daemon the integration tests start on a private socket
	runc
	busybox-static # /bin/busybox, the only binary of the test image
	iproute2       # ip link: gives a test pod's network namespace a real interface
	util-linux     # unshare: the fake GPU device of a test container
	ca-certificates
)
# Packages that later test steps will need; kept apart so they are easy to
# find. (prometheus brings promtool for the alert rule tests.)
EXTRA_PACKAGES=(
	prometheus # promtool: checks and unit-tests the alert rules (the service is not started)
	podman     # builds the container image from the Dockerfile without a registry or Docker engine
	containernetworking-plugins # the loopback CNI plugin of the node test's pods
	qemu-system-x86 # the cgroup v2 guest (scripts/guest-cgroupv2.sh), software emulation
	cpio            # the guest's initramfs
	e2fsprogs       # mkfs.ext4 -d: the guest's root disk
)

MIN_GO_MAJOR=1
MIN_GO_MINOR=27

log() { printf 'setup-debian: %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}" "${EXTRA_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	if ((EUID != 0)); then
		if command -v sudo >/dev/null; then
			log "not root; re-running with sudo"
			exec sudo -- "$0" "$@"
		fi
		log "installing ${missing[*]} needs root"
		exit 1
	fi
	log "installing ${missing[*]}"
	# The tests start their own containerd, so the packaged services must not
	# start (and take the host's /run/containerd socket) during install: a
	# policy-rc.d that denies every action is Debian's way to say so, and
	# deb-systemd-invoke honours it too. An existing policy is left alone.
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	log "packages present: ${PACKAGES[*]} ${EXTRA_PACKAGES[*]}"
fi

# A containerd the distribution started anyway is harmless: ours uses its own
# socket, root and state.

if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null; then
	log "Go ${MIN_GO_MAJOR}.${MIN_GO_MINOR} or newer is not on PATH; install it from https://go.dev/dl/ (to /usr/local/go)"
	exit 1
fi
version=$(go env GOVERSION) # go1.27.3 (GOTOOLCHAIN)
if [[ ! $version =~ ^go([0-9]+)\.([0-9]+) ]] ||
	((BASH_REMATCH[1] < MIN_GO_MAJOR || (BASH_REMATCH[1] == MIN_GO_MAJOR && BASH_REMATCH[2] < MIN_GO_MINOR))); then
	log "found $version at $(command -v go); need Go ${MIN_GO_MAJOR}.${MIN_GO_MINOR} or newer (https://go.dev/dl/)"
	exit 1
fi
log "$version at $(command -v go)"

#!/usr/bin/env bash
# Measures the agent's overhead against real containers: CPU, memory,
# /metrics size and tick lag for each container count, next to the CPU of
# containerd and its shims and of a floor process that only reads the
# files the agent reads. Needs root (re-runs itself with sudo) and takes a
# few minutes per count; a thousand containers take about 5 GiB of memory
# and several minutes to start and to remove. Arguments go to the Go
# program, for example:
#
#   scripts/overhead.sh -containers 55,205,1000 -window 3m -out overhead.md
#   scripts/overhead.sh -containers 55,205 -window 3m -cadvisor ./cadvisor
#   scripts/overhead.sh -containers 55,205,1000 -pods -cadvisor ./cadvisor -cadvisor-config both
#   scripts/overhead.sh -containers 1000 -interval 1s -window 10m
#
# Run `go run ./tools/overhead -h` for every flag.
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

if ((EUID != 0)); then
	exec sudo -- "$0" "$@"
fi
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-debian.sh
exec go run ./tools/overhead "$@"

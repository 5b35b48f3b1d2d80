#!/usr/bin/env bash
# Runs Fleetscope's demo on this machine: a private containerd with idle,
# bursty and busy containers, the agent watching them, and what it found.
#
#   sudo ./scripts/demo.sh                 # observe for 30 s
#   sudo ./scripts/demo.sh -duration 2m    # longer
#   sudo ./scripts/demo.sh -keep           # leave it running until Ctrl-C
#
# Missing Debian packages are installed first (scripts/setup-debian.sh).
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ((EUID != 0)); then
	exec sudo -- env "PATH=$PATH" "$0" "$@"
fi

./scripts/setup-debian.sh
exec go run ./tools/demo "$@"

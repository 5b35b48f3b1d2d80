#!/usr/bin/env bash
# Runs golangci-lint with .golangci.yml: the import-direction rules
# (depguard) that keep the architecture readable from the folders, and a
# few cheap checks. First it proves the rules bite: a file with a wrong
# import (an exporter importing a collector) is written into a scratch copy
# of the package list and must be reported.
#
#   ./scripts/lint.sh
#
# golangci-lint is built from the Go module proxy once per version and kept
# under FLEETSCOPE_TOOLS (default /var/cache/fleetscope/tools), outside the
# clone, so later runs skip the build.
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

GOLANGCI_VERSION=v2.15.0
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
bin="$TOOLS/golangci-lint-$GOLANGCI_VERSION/golangci-lint"
if [[ ! -x $bin ]]; then
	echo "building golangci-lint $GOLANGCI_VERSION (once per machine) into $(dirname "$bin")"
	mkdir -p "$(dirname "$bin")"
	GOBIN="$(dirname "$bin")" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_VERSION"
fi

# Self-test: the rule must reject an exporter importing a collector.
probe=exporters/promtext/zz_lint_selftest.go
trap 'rm -f "$probe"' EXIT
cat >"$probe" <<'GO'
package promtext

import "github.com/fleetscope/fleetscope/collectors/cgroups"

var _ = cgroups.HaveCPU
GO
rc=0
out=$("$bin" run ./exporters/promtext/ 2>&1) || rc=$?
rm -f "$probe"
if ((rc == 0)) || ! grep -q "depguard" <<<"$out"; then
	printf '%s\n' "$out" >&2
	echo "lint.sh: self-test failed: an exporter importing a collector was not reported" >&2
	exit 1
fi
echo "lint self-test: a wrong import is reported"

"$bin" run ./...

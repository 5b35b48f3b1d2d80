#!/usr/bin/env bash
# Builds the etcd that the API server of internal/testenv stores in, once
# per version, into FLEETSCOPE_TOOLS (default /var/cache/fleetscope/tools),
# outside the clone, so later runs skip the build. Prints the binary's path
# on its last line.
#
#   ./scripts/etcd.sh
#
# The root package of go.etcd.io/etcd/server/v3 is etcd's main. Its go.mod
# replaces the other etcd modules with ../api, ../pkg and so on, which only
# works inside etcd's repository, so `go install ...@version` refuses it.
# A throw-away wrapper module in a temporary directory requires it instead:
# replace directives of a dependency are ignored, and its requirements name
# the published etcd modules of the same version.
#
# Cold, this takes a few minutes; a cached binary returns at once.
set -euo pipefail

export GOTOOLCHAIN=go1.27.3
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

# The 3.6 line is the one Kubernetes 1.34 runs on.
ETCD_VERSION=${FLEETSCOPE_ETCD_VERSION:-v3.6.17}
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
bin="$TOOLS/etcd-$ETCD_VERSION/etcd"
if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

work=$(mktemp -d)
tmp=
trap 'rm -rf "$work"; [[ -z $tmp ]] || rm -f "$tmp"' EXIT
echo "building etcd $ETCD_VERSION (once per machine) into $(dirname "$bin")" >&2
start=$SECONDS

cd "$work"
printf 'module fleetscope.test/etcdbuild\n\ngo 1.24\n' >go.mod
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
mkdir -p "$(dirname "$bin")"
# Built next to its final path and renamed into place, so that an
# interrupted build never leaves a binary that passes the -x test above.
tmp=$(mktemp "$bin.XXXXXX")
CGO_ENABLED=0 go build -trimpath -o "$tmp" go.etcd.io/etcd/server/v3
chmod 0755 "$tmp"
mv "$tmp" "$bin"
tmp=
echo "built etcd $ETCD_VERSION in $((SECONDS - start))s" >&2
echo "$bin"

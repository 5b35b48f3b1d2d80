#!/usr/bin/env bash
# Builds the Thanos binary the fleet test (cmd/fleetscope) runs as sidecars
# and a querier, once per version, into FLEETSCOPE_TOOLS (default
# /var/cache/fleetscope/tools), outside the clone, so later runs skip the
# build. Prints the binary's path on its last line.
#
#   ./scripts/thanos.sh
#
# Thanos' go.mod has replace directives, which only apply inside its own
# module, so `go install ...@version` refuses it. The module's source is
# downloaded from the proxy instead and built as the main module, in a
# temporary copy (the module cache is read-only), with the build tags of
# Thanos' own release builds (.promu.yml): slicelabels selects the label
# layout its gRPC codec expects, netgo a resolver without cgo.
#
# Cold, this takes minutes; a cached binary returns at once.
set -euo pipefail

export GOTOOLCHAIN=go1.27.3
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

THANOS_VERSION=${FLEETSCOPE_THANOS_VERSION:-v0.42.5}
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
bin="$TOOLS/thanos-$THANOS_VERSION/thanos"
if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

work=$(mktemp -d)
tmp=
trap 'rm -rf "$work"; [[ -z $tmp ]] || rm -f "$tmp"' EXIT
echo "building thanos $THANOS_VERSION (once per machine) into $(dirname "$bin")" >&2
start=$SECONDS

src=$(cd "$work" && go mod download -json "github.com/thanos-io/thanos@$THANOS_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z $src || ! -f $src/go.mod ]]; then
	echo "thanos.sh: no source for github.com/thanos-io/thanos@$THANOS_VERSION" >&2
	exit 1
fi
cp -R "$src" "$work/thanos"
chmod -R u+w "$work/thanos"

mkdir -p "$(dirname "$bin")"
# Built next to its final path and renamed into place, so that an
# interrupted build never leaves a binary that passes the -x test above.
tmp=$(mktemp "$bin.XXXXXX")
cd "$work/thanos"
CGO_ENABLED=0 go build -trimpath -tags netgo,slicelabels \
	-ldflags "-X github.com/prometheus/common/version.Version=${THANOS_VERSION#v} -X github.com/prometheus/common/version.Branch=release" \
	-o "$tmp" ./cmd/thanos
chmod 0755 "$tmp"
mv "$tmp" "$bin"
tmp=
echo "built thanos $THANOS_VERSION in $((SECONDS - start))s" >&2
echo "$bin"

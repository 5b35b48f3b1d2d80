#!/usr/bin/env bash
# Builds the kubelet the node test (packaging/kubelet) runs, once per
# version, into FLEETSCOPE_TOOLS (default /var/cache/fleetscope/tools),
# outside the clone, so later runs skip the build. Prints the binary's path.
#
#   ./scripts/kubelet.sh
#
# The kubelet comes from the k8s.io/kubernetes module on the Go module
# proxy. That module maps its k8s.io/* dependencies to ./staging/src/...
# with a replace block, which only works inside its own repository, so a
# throw-away wrapper module is generated in a temporary directory: it
# requires k8s.io/kubernetes and copies the replace block with every
# staging path mapped to the published k8s.io/X module of the same minor
# (v1.34.N -> v0.34.N). Nothing of it is kept but the binary.
#
# Cold, this takes minutes (about 1.5 GB of memory, 0.5 GB of module
# cache and 2 GB of build cache); a cached binary returns at once.
set -euo pipefail

export GOTOOLCHAIN=go1.27.3
if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

# v1.35 and later refuse cgroup v1 unless failCgroupV1 is false; the test
# machines are cgroup v1.
KUBERNETES_VERSION=${FLEETSCOPE_KUBELET_VERSION:-v1.34.4}
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
bin="$TOOLS/kubelet-$KUBERNETES_VERSION/kubelet"
if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

staging_version="v0.${KUBERNETES_VERSION#v1.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building kubelet $KUBERNETES_VERSION (once per machine) into $(dirname "$bin")" >&2
start=$SECONDS

cd "$work"
gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z $gomod || ! -f $gomod ]]; then
	echo "kubelet.sh: no go.mod for k8s.io/kubernetes@$KUBERNETES_VERSION" >&2
	exit 1
fi
{
	echo "module fleetscope.test/kubeletbuild"
	echo
	echo "go 1.24"
	echo
	echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
	echo
	echo "replace ("
	# "	k8s.io/api => ./staging/src/k8s.io/api" -> "	k8s.io/api => k8s.io/api v0.34.N"
	sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/\(k8s\.io/[^[:space:]]*\)[[:space:]]*$#\t\1 => \2 '"$staging_version"'#p' "$gomod"
	echo ")"
} >go.mod
if ! grep -q "k8s.io/api => k8s.io/api $staging_version" go.mod; then
	echo "kubelet.sh: the replace block of k8s.io/kubernetes@$KUBERNETES_VERSION did not map as expected:" >&2
	cat go.mod >&2
	exit 1
fi
go mod download k8s.io/kubernetes
go get "k8s.io/kubernetes/cmd/kubelet@$KUBERNETES_VERSION" >/dev/null
mkdir -p "$(dirname "$bin")"
# Stamp the version, as Kubernetes' own build does (the module alone says
# v0.0.0-master).
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitTreeState=clean" \
	-o "$bin.tmp" k8s.io/kubernetes/cmd/kubelet
mv "$bin.tmp" "$bin"
echo "built kubelet $KUBERNETES_VERSION in $((SECONDS - start))s" >&2
echo "$bin"

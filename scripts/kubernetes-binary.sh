#!/usr/bin/env bash
# Builds one Kubernetes binary the tests run, kubelet (the node test,
# packaging/kubelet) or kube-apiserver (the API server of
# internal/testenv), once per version, into FLEETSCOPE_TOOLS (default
# /var/cache/fleetscope/tools), outside the clone, so later runs skip the
# build. Prints the binary's path on its last line.
#
#   ./scripts/kubernetes-binary.sh kubelet|kube-apiserver
#
# scripts/kubelet.sh and scripts/kube-apiserver.sh call it. Both binaries
# are built from the same version, so the API server the tests run is the
# one the node test's kubelet would talk to.
#
# The binaries come from the k8s.io/kubernetes module on the Go module
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

name=${1:-}
case $name in
kubelet | kube-apiserver) ;;
*)
	echo "usage: $0 kubelet|kube-apiserver" >&2
	exit 2
	;;
esac

# v1.35 and later refuse cgroup v1 unless failCgroupV1 is false; the test
# machines are cgroup v1. FLEETSCOPE_KUBELET_VERSION is the older name.
KUBERNETES_VERSION=${FLEETSCOPE_KUBERNETES_VERSION:-${FLEETSCOPE_KUBELET_VERSION:-v1.34.4}}
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
bin="$TOOLS/$name-$KUBERNETES_VERSION/$name"
if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi
# One build of a version at a time: test.sh starts the kubelet's and the
# API server's together, and the second, waiting, then finds most of the
# packages they share in the build cache instead of compiling them again
# on the same cores.
mkdir -p "$TOOLS"
exec 9>"$TOOLS/kubernetes-$KUBERNETES_VERSION.lock"
flock 9
if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

staging_version="v0.${KUBERNETES_VERSION#v1.}"
work=$(mktemp -d)
tmp=
trap 'rm -rf "$work"; [[ -z $tmp ]] || rm -f "$tmp"' EXIT
echo "building $name $KUBERNETES_VERSION (once per machine) into $(dirname "$bin")" >&2
start=$SECONDS

cd "$work"
gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z $gomod || ! -f $gomod ]]; then
	echo "$0: no go.mod for k8s.io/kubernetes@$KUBERNETES_VERSION" >&2
	exit 1
fi
{
	echo "module fleetscope.test/kubernetesbuild"
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
	echo "$0: the replace block of k8s.io/kubernetes@$KUBERNETES_VERSION did not map as expected:" >&2
	cat go.mod >&2
	exit 1
fi
go mod download k8s.io/kubernetes
go get "k8s.io/kubernetes/cmd/$name@$KUBERNETES_VERSION" >/dev/null
mkdir -p "$(dirname "$bin")"
# Built next to its final path and renamed into place, so that an
# interrupted build never leaves a binary that passes the -x test above.
tmp=$(mktemp "$bin.XXXXXX")
# Stamp the version, as Kubernetes' own build does (the module alone says
# v0.0.0-master).
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitTreeState=clean" \
	-o "$tmp" "k8s.io/kubernetes/cmd/$name"
chmod 0755 "$tmp"
mv "$tmp" "$bin"
tmp=
echo "built $name $KUBERNETES_VERSION in $((SECONDS - start))s" >&2
echo "$bin"

#!/usr/bin/env bash
# Runs the whole test suite, the way CI does: formatting, vet, staticcheck,
# build, all tests including the integration tests against a real containerd
# (hence root), then a short fuzzing pass over every fuzz target.
#
#   sudo ./scripts/test.sh             # FUZZTIME=200000x for longer fuzzing
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
	if command -v sudo >/dev/null; then
		echo "test.sh: the integration tests need root; re-running with sudo" >&2
		# sudo resets PATH; keep ours so it finds the same Go.
		exec sudo -- env "PATH=$PATH" "$0" "$@"
	fi
	echo "test.sh: the integration tests need root: run it as root" >&2
	exit 1
fi

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
# A count, not a duration: with a duration, the fuzz coordinator can
# report "context deadline exceeded" at the end of the window on a loaded
# machine (golang/go#75804, fixed in 1.27), failing a target that found
# nothing.
FUZZTIME=${FUZZTIME:-20000x}
start=$SECONDS
current=setup

header() {
	current=$1
	printf '\n=== %s\n' "$1"
}
on_exit() {
	local rc=$?
	if ((rc != 0)); then
		printf '\nFAIL: %s (exit %d) after %ds\n' "$current" "$rc" $((SECONDS - start)) >&2
	fi
}
trap on_exit EXIT

header "setup"
./scripts/setup-debian.sh
gobin="$(go env GOPATH)/bin"
export PATH="$PATH:$gobin"

header "tools"
# helm renders and lints the chart in the packaging tests; it comes from the
# Go module proxy, built once per machine.
HELM=helm.sh/helm/v3/cmd/helm@v3.22.0
if ! command -v helm >/dev/null; then
	echo "go install $HELM"
	go install "$HELM"
fi

# The OTLP end-to-end test runs a real OpenTelemetry Collector, built with
# the official builder (a few minutes) once per builder version and
# configuration, and kept outside the clone so that later runs skip it.
TOOLS=${FLEETSCOPE_TOOLS:-/var/cache/fleetscope/tools}
OTELCOL_VERSION=v0.161.0
otelcol_key=$(sha256sum exporters/otlp/testdata/collector-builder.yaml | cut -c1-12)
OTELCOL_DIR="$TOOLS/otelcol-$OTELCOL_VERSION-$otelcol_key"
if [[ ! -x $OTELCOL_DIR/otelcol/otelcol-fleetscope-test ]]; then
	echo "building the OpenTelemetry Collector $OTELCOL_VERSION for the end-to-end test (once per machine)"
	build_dir=$(mktemp -d)
	(cd "$build_dir" && go run "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION" \
		--config "$OLDPWD/exporters/otlp/testdata/collector-builder.yaml" >builder.log 2>&1) || {
		tail -40 "$build_dir/builder.log" >&2
		rm -rf "$build_dir"
		exit 1
	}
	mkdir -p "$OTELCOL_DIR"
	rm -rf "$OTELCOL_DIR/otelcol"
	mv "$build_dir/otelcol" "$OTELCOL_DIR/otelcol"
	rm -rf "$build_dir"
fi
export FLEETSCOPE_OTELCOL="$OTELCOL_DIR/otelcol/otelcol-fleetscope-test"

# The node test (packaging/kubelet) runs a real kubelet, built from the
# Kubernetes module once per version into FLEETSCOPE_TOOLS (minutes cold,
# nothing warm). The build runs in the background while the checks below
# run, and is waited for before the tests.
builds=$(mktemp -d)
trap 'rc=$?; rm -rf "$builds"; (exit $rc); on_exit' EXIT
./scripts/kubelet.sh >"$builds/kubelet.path" 2>"$builds/kubelet.log" &
kubelet_build=$!
# The fleet test (cmd/fleetscope) reads the fleet through Thanos as well:
# sidecars and a querier, built from the Thanos module once per version
# (minutes cold), in the background alongside the kubelet.
./scripts/thanos.sh >"$builds/thanos.path" 2>"$builds/thanos.log" &
thanos_build=$!
# The API server test (internal/testenv) runs a real kube-apiserver of the
# kubelet's version on a real etcd, both built from their modules once per
# version, in the background as well. The two Kubernetes builds take turns,
# and the second reuses the packages the first compiled.
./scripts/kube-apiserver.sh >"$builds/kube-apiserver.path" 2>"$builds/kube-apiserver.log" &
apiserver_build=$!
./scripts/etcd.sh >"$builds/etcd.path" 2>"$builds/etcd.log" &
etcd_build=$!

# await NAME PID VAR: waits for a background build (in this shell: a
# subshell cannot wait for it) and exports VAR, the path its script
# printed last.
await() {
	if ! wait "$2"; then
		tail -40 "$builds/$1.log" >&2
		exit 1
	fi
	grep -v '^go: ' "$builds/$1.log" || true
	printf -v "$3" '%s' "$(tail -1 "$builds/$1.path")"
	export "${3?}"
	echo "${!3}"
}

header "gofmt"
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	printf 'not gofmt-ed (run gofmt -w):\n%s\n' "$unformatted" >&2
	exit 1
fi

header "go vet"
go vet ./...

header "staticcheck"
go run "$STATICCHECK" ./...

header "golangci-lint (import direction, .golangci.yml)"
./scripts/lint.sh

header "govulncheck (offline database)"
./scripts/vulncheck.sh

header "go build"
go build ./...

header "kubelet for the node test"
await kubelet "$kubelet_build" FLEETSCOPE_KUBELET

header "thanos for the fleet test"
await thanos "$thanos_build" FLEETSCOPE_THANOS

header "kube-apiserver and etcd for the API server tests"
await kube-apiserver "$apiserver_build" FLEETSCOPE_KUBE_APISERVER
await etcd "$etcd_build" FLEETSCOPE_ETCD

header "go test (race, integration)"
# FLEETSCOPE_INTEGRATION=1 turns a skipped integration test into a failure.
# cmd/fleetscope is the long package: its churn test alone runs 10 minutes.
FLEETSCOPE_INTEGRATION=1 go test -race -count=1 -timeout 40m ./...

header "cgroup v2 guest (QEMU)"
# This machine boots cgroup v1; a QEMU guest booted with cgroup v1 off runs
# the agent against a real containerd with Debian's runc and a current one.
./scripts/guest-cgroupv2.sh

header "fuzz (${FUZZTIME} per target)"
# Packages whose tests define fuzz targets; go test -list names them.
mapfile -t fuzzdirs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . | xargs -r -n1 dirname | sort -u)
targets=0
for dir in "${fuzzdirs[@]}"; do
	list=$(go test -list '^Fuzz' "$dir") # fails loudly if the package doesn't build
	mapfile -t names < <(grep -E '^Fuzz' <<<"$list")
	for name in "${names[@]}"; do
		echo "--- $dir $name"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir"
		targets=$((targets + 1))
	done
done
echo "fuzzed $targets targets"

current="summary"
printf '\n=== PASS in %dm%02ds\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))

#!/usr/bin/env bash
# Checks the module for known vulnerabilities with govulncheck, without
# reaching the vulnerability database's web service: the database comes from
# the golang.org/x/vulndb module through the Go module proxy, at the version
# pinned below, and tools/vulndb turns its OSV entries into the layout that
# `govulncheck -db file://DIR` reads. Fails when this module's code calls a
# vulnerable function, in a dependency or in the standard library of the Go
# in use (GOTOOLCHAIN pins it); vulnerabilities in code it never calls are
# only summed up.
#
#   ./scripts/vulncheck.sh              # self-test, then scan ./...
#   ./scripts/vulncheck.sh --self-test  # only prove the database finds a known vulnerability
#
# Newer data: VULNDB_VERSION=$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
# for one run, or change the pin below. Built databases and the govulncheck
# binary are cached under VULNCHECK_CACHE.
set -euo pipefail

# The Go toolchain the project builds with (go.mod says go 1.27); the go
# command fetches it from the module proxy once per machine.
export GOTOOLCHAIN=go1.27.3

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNCHECK_CACHE=${VULNCHECK_CACHE:-$PWD/.work/vulncheck}

# The self-test scans a fixture that calls golang.org/x/text v0.3.6's
# language.Parse, listed by this entry; the database must report it.
SELFTEST_DIR=tools/vulndb/testdata/vulnerable
SELFTEST_ID=GO-2021-0113

if [[ -x /usr/local/go/bin/go && ":$PATH:" != *":/usr/local/go/bin:"* ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

mode=scan
case ${1:-} in
"") ;;
--self-test) mode=self-test ;;
*)
	echo "usage: $0 [--self-test]" >&2
	exit 2
	;;
esac

mkdir -p "$VULNCHECK_CACHE"
VULNCHECK_CACHE=$(cd "$VULNCHECK_CACHE" && pwd) # GOBIN must be absolute

# govulncheck is installed rather than run with `go run`, which turns every
# failure into exit 1 and so hides the difference between "vulnerable"
# (3) and "could not scan" (1) that the self-test relies on.
bin="$VULNCHECK_CACHE/govulncheck-$GOVULNCHECK_VERSION"
GOBIN="$bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
govulncheck="$bin/govulncheck"

# `go mod download` leaves go.mod and go.sum alone when given a version.
if ! json=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION"); then
	printf '%s\n' "$json" >&2
	echo "vulncheck.sh: cannot download golang.org/x/vulndb@$VULNDB_VERSION" >&2
	exit 1
fi
field() { sed -n 's/^[[:space:]]*"'"$1"'": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"; }
src="$(field Dir)/data/osv"
# The entries' own modified times are zero; the commit time of the pinned
# version tells how fresh the data is (govulncheck prints it).
modified=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(field Info)")

# The database depends on the data and on the converter; rebuilding it
# takes seconds, so a stale one is never worth the doubt.
toolsum=$(cat tools/vulndb/*.go | sha256sum | cut -c1-12)
db="$VULNCHECK_CACHE/db-$VULNDB_VERSION-$toolsum"
if [[ ! -d $db ]]; then
	find "$VULNCHECK_CACHE" -mindepth 1 -maxdepth 1 -name 'db-*' -exec rm -rf {} +
	go run ./tools/vulndb -osv "$src" -modified "$modified" -o "$db"
fi

echo "self-test: $SELFTEST_DIR must be reported for $SELFTEST_ID"
rc=0
out=$("$govulncheck" -db "file://$db" -C "$SELFTEST_DIR" ./... 2>&1) || rc=$?
if ((rc != 3)) || ! grep -q "^Vulnerability #[0-9]*: $SELFTEST_ID\$" <<<"$out"; then
	printf '%s\n' "$out" >&2
	echo "vulncheck.sh: self-test failed: govulncheck exited $rc without reporting $SELFTEST_ID as called" >&2
	exit 1
fi
echo "self-test: ok"
if [[ $mode == self-test ]]; then
	exit 0
fi

# Any finding fails: vulnerable code that is called is fixed (a newer
# dependency or toolchain), never accepted.
rc=0
out=$("$govulncheck" -db "file://$db" ./... 2>&1) || rc=$?
printf '%s\n' "$out"
case $rc in
0) exit 0 ;;
3)
	found=$(sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9-]*\)$/\1/p' <<<"$out" | sort -u | tr '\n' ' ')
	echo "vulncheck.sh: vulnerable code is called: $found" >&2
	exit 3
	;;
*)
	echo "vulncheck.sh: govulncheck could not scan (exit $rc)" >&2
	exit "$rc"
	;;
esac

#!/usr/bin/env bash
# Prints the path of a Prometheus 3 binary, for the integration test that sends OTLP to a real
# backend (Prometheus 3's OTLP receiver, `--web.enable-otlp-receiver`). Uses $PROMETHEUS3_BIN;
# otherwise builds the pinned Prometheus from its Go module (`go install`; no web UI assets, no
# service discovery) into .cache/prometheus3/bin/ (minutes on 2 cores the first time, cached
# after). Debian's
# `prometheus` package (scripts/ensure-prometheus.sh) is 2.x, without the OTLP receiver.
# Safe to run from several test processes at once.
# Needs Go >= 1.26 (the `go` directive of Prometheus v0.316.0's go.mod is 1.26.7).
set -euo pipefail

# Go module v0.316.0 is Prometheus 3.16.0 (the module's versions are v0.<3 minor><2 digit minor>).
VERSION=v0.316.0
GO_MIN_MINOR=26

if [ -n "${PROMETHEUS3_BIN:-}" ]; then
  [ -x "$PROMETHEUS3_BIN" ] || {
    echo "PROMETHEUS3_BIN=$PROMETHEUS3_BIN is not an executable file" >&2
    exit 1
  }
  echo "$PROMETHEUS3_BIN"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/prometheus3"
bin="$cache/bin/prometheus"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# Test files run in parallel processes: one builds, the others wait for it.
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

# The machines of this project carry Go in /usr/local/go, which a non-login shell may not have
# on PATH.
go=$(command -v go 2>/dev/null || true)
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
if [ -z "$go" ]; then
  echo "cannot build Prometheus $VERSION: no 'go' on PATH or in /usr/local/go/bin." >&2
  echo "It needs Go >= 1.$GO_MIN_MINOR; install it, or set PROMETHEUS3_BIN to a Prometheus 3 binary." >&2
  exit 1
fi
go_version=$("$go" env GOVERSION) # e.g. go1.26.8
minor=$(echo "$go_version" | sed -nE 's/^go1\.([0-9]+).*/\1/p')
if [ -z "$minor" ] || [ "$minor" -lt "$GO_MIN_MINOR" ]; then
  echo "cannot build Prometheus $VERSION with $go ($go_version): it needs Go >= 1.$GO_MIN_MINOR." >&2
  echo "Install Go 1.$GO_MIN_MINOR+, or set PROMETHEUS3_BIN." >&2
  exit 1
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building Prometheus $VERSION with $go_version (one time, several minutes)" >&2
started=$(date +%s)
# -mod=mod: build the module as its go.mod pins it, whatever GOFLAGS the caller has;
# -buildvcs=false: no VCS stamping (the module cache has no .git). GOTOOLCHAIN stays local so a
# too-old Go fails above instead of fetching another toolchain. -tags remove_all_sd leaves out the
# service discovery plugins (Kubernetes, AWS, Azure, GCE, …: most of the build): the tests send
# OTLP and scrape static targets only. nice: the build is heavy and the machines are shared.
if ! GOBIN="$work" GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local \
  nice -n 10 "$go" install -tags remove_all_sd \
  "github.com/prometheus/prometheus/cmd/prometheus@$VERSION" \
  >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "building Prometheus $VERSION failed (log above)" >&2
  exit 1
fi
"$work/prometheus" --version >/dev/null
echo "$VERSION" >"$work/VERSION"
mkdir -p "$cache/bin"
mv "$work/VERSION" "$cache/bin/VERSION"
# the rename makes the cache appear whole or not at all
mv "$work/prometheus" "$bin"
echo "built Prometheus $VERSION into $bin in $(($(date +%s) - started)) s" >&2
echo "$bin"

#!/usr/bin/env bash
# Prints the path of the `manifest-check` binary (tools/manifest-check: decodes the Kubernetes
# manifests in examples/kubernetes strictly into the Prometheus Operator's API types). Builds it
# with Go into .cache/manifest-check/ from the module proxy (go.mod and go.sum pin every module),
# and again whenever its sources change. Safe to run from several test processes at once.
# Needs Go >= 1.26 (the `go` directive of the operator's pkg/apis/monitoring module).
set -euo pipefail

GO_MIN_MINOR=26

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tools/manifest-check"
cache="$root/.cache/manifest-check"
bin="$cache/bin/manifest-check"

# The binary is current when it was built from these exact sources.
stamp=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)
current() { [ -x "$bin" ] && [ "$(cat "$cache/bin/SOURCES" 2>/dev/null)" = "$stamp" ]; }

if current; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# Test files run in parallel processes: one builds, the others wait for it.
exec 9>"$cache/.lock"
flock 9
if current; then
  echo "$bin"
  exit 0
fi

# The machines of this project carry Go in /usr/local/go, which a non-login shell may not have
# on PATH.
go=$(command -v go 2>/dev/null || true)
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
if [ -z "$go" ]; then
  echo "cannot build tools/manifest-check: no 'go' on PATH or in /usr/local/go/bin;" \
    "install Go 1.$GO_MIN_MINOR+" >&2
  exit 1
fi
go_version=$("$go" env GOVERSION) # e.g. go1.26.8
minor=$(echo "$go_version" | sed -nE 's/^go1\.([0-9]+).*/\1/p')
if [ -z "$minor" ] || [ "$minor" -lt "$GO_MIN_MINOR" ]; then
  echo "cannot build tools/manifest-check with $go ($go_version): it needs Go >= 1.$GO_MIN_MINOR" >&2
  exit 1
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
# -mod=mod: build as go.mod and go.sum pin it, whatever GOFLAGS the caller has; GOTOOLCHAIN
# stays local so a too-old Go fails above instead of fetching another toolchain. No VCS stamp:
# a clean clone's tarball or a git worktree builds alike.
if ! (cd "$src" && GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  "$go" build -buildvcs=false -trimpath -o "$work/manifest-check" .) >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "building tools/manifest-check failed (log above)" >&2
  exit 1
fi
echo "$stamp" >"$work/SOURCES"
mkdir -p "$work/bin"
mv "$work/manifest-check" "$work/SOURCES" "$work/bin/"
# the rename makes the cache appear whole or not at all
rm -rf "$cache/bin"
mv "$work/bin" "$cache/bin"
echo "built tools/manifest-check with $go_version into $bin in $(($(date +%s) - started)) s" >&2
echo "$bin"

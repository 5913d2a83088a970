#!/usr/bin/env bash
# Prints the path of a `livekit-server` binary, for the end-to-end tests that run agents in a real
# LiveKit room. Uses $LIVEKIT_SERVER_BIN, or `livekit-server` from PATH; otherwise builds the
# pinned release from the Go module proxy into .cache/livekit/bin/ (about 5 minutes on 2 cores
# the first time, cached after). Safe to run from several test processes at once.
# Needs Go >= 1.26 (the `go` directive of livekit-server's go.mod); Debian's golang-go is older.
set -euo pipefail

VERSION=v1.13.5
# livekit-server v1.13.5's go.mod says `go 1.26`.
GO_MIN_MINOR=26

if [ -n "${LIVEKIT_SERVER_BIN:-}" ]; then
  [ -x "$LIVEKIT_SERVER_BIN" ] || {
    echo "LIVEKIT_SERVER_BIN=$LIVEKIT_SERVER_BIN is not an executable file" >&2
    exit 1
  }
  echo "$LIVEKIT_SERVER_BIN"
  exit 0
fi
if on_path=$(command -v livekit-server 2>/dev/null); then
  echo "$on_path"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/livekit"
bin="$cache/bin/livekit-server"

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
  echo "cannot build livekit-server $VERSION: no 'go' on PATH or in /usr/local/go/bin." >&2
  echo "It needs Go >= 1.$GO_MIN_MINOR (Debian's golang-go is too old); install Go 1.$GO_MIN_MINOR+" \
    "or set LIVEKIT_SERVER_BIN to a livekit-server binary." >&2
  exit 1
fi
go_version=$("$go" env GOVERSION) # e.g. go1.26.8
minor=$(echo "$go_version" | sed -nE 's/^go1\.([0-9]+).*/\1/p')
if [ -z "$minor" ] || [ "$minor" -lt "$GO_MIN_MINOR" ]; then
  echo "cannot build livekit-server $VERSION with $go ($go_version): it needs Go >= 1.$GO_MIN_MINOR." >&2
  echo "Install Go 1.$GO_MIN_MINOR+ (Debian's golang-go is too old), or set LIVEKIT_SERVER_BIN." >&2
  exit 1
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building livekit-server $VERSION with $go_version (one time, about 5 minutes)" >&2
started=$(date +%s)
# -mod=mod: build the module as its go.mod pins it, whatever GOFLAGS the caller has. GOTOOLCHAIN
# stays local so a too-old Go fails above instead of fetching another toolchain.
if ! GOBIN="$work" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  "$go" install "github.com/livekit/livekit-server/cmd/server@$VERSION" >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "building livekit-server $VERSION failed (log above)" >&2
  exit 1
fi
"$work/server" --version >/dev/null
mkdir -p "$cache/bin"
# the rename makes the cache appear whole or not at all
mv "$work/server" "$bin"
echo "built livekit-server $VERSION into $bin in $(($(date +%s) - started)) s" >&2
echo "$bin"

#!/usr/bin/env bash
# Prints a directory holding `promtool` and `prometheus`, for the tests that check the generated
# rules and dashboards. Uses them from PATH when both are there; otherwise unpacks Debian's
# `prometheus` package into .cache/prometheus/ (no install, no service started) and uses that.
# Cached after the first run; safe to run from several test processes at once.
# Needs apt-get (and root the first time, if the package lists are missing).
set -euo pipefail

if on_path=$(command -v promtool 2>/dev/null) && command -v prometheus >/dev/null 2>&1; then
  dir=$(dirname "$on_path")
  if [ -x "$dir/prometheus" ]; then
    echo "$dir"
    exit 0
  fi
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/prometheus"
bin="$cache/bin"
ready() { [ -x "$bin/promtool" ] && [ -x "$bin/prometheus" ]; }

if ready; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# Test files run in parallel processes: one unpacks, the others wait for it.
exec 9>"$cache/.lock"
flock 9
if ready; then
  echo "$bin"
  exit 0
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/apt.log"
download() {
  # The sandbox user cannot write into the work directory; the download is a plain file fetch.
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root prometheus) >>"$log" 2>&1
}
if ! download; then
  if [ "$(id -u)" -ne 0 ]; then
    cat "$log" >&2
    echo "cannot download Debian's prometheus package; run 'sudo apt-get update' and retry," \
      "or put promtool and prometheus on PATH" >&2
    exit 1
  fi
  echo "apt-get update (to find Debian's prometheus package)" >&2
  apt-get update -qq >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  download || { cat "$log" >&2; exit 1; }
fi

deb=$(ls "$work"/prometheus_*.deb)
dpkg-deb -x "$deb" "$work/root"
mkdir -p "$work/bin"
for tool in promtool prometheus; do
  [ -x "$work/root/usr/bin/$tool" ] || {
    echo "$(basename "$deb") has no usr/bin/$tool" >&2
    exit 1
  }
  mv "$work/root/usr/bin/$tool" "$work/bin/$tool"
done
"$work/bin/promtool" --version >/dev/null
basename "$deb" >"$work/bin/DEB"
# Only the two binaries are kept (the package also ships web assets and docs we do not use);
# the rename makes the cache appear whole or not at all.
rm -rf "$bin"
mv "$work/bin" "$bin"
echo "unpacked $(basename "$deb") into $bin" >&2
echo "$bin"

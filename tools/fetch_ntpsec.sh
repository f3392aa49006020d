#!/usr/bin/env bash
# Extracts Debian's ntpsec (ntptime, ntpd, ntpq, ...) and python3-ntp (the module ntpq needs)
# into .tmp/peers/ntpsec without installing them: ntpsec conflicts with the installed chrony.
# Only `apt-get download` and `dpkg-deb -x` are used, so no maintainer script or service runs.
# Usage: tools/fetch_ntpsec.sh [cache-dir]   (idempotent; needs `apt-get update` done once)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${1:-$repo/.tmp/peers/ntpsec}"

if [[ -x "$cache/usr/sbin/ntptime" && -d "$cache/usr/lib/python3/dist-packages/ntp" ]]; then
  echo "ntpsec already extracted in $cache"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # apt drops to the _apt user for downloads; let it write here to avoid a warning.
  chmod 0777 "$work"
  (cd "$work" && apt-get download -q ntpsec python3-ntp)
  mkdir -p "$cache"
  for deb in "$work"/*.deb; do
    dpkg-deb -x "$deb" "$cache"
  done
  echo "extracted $(cd "$work" && ls -- *.deb | tr '\n' ' ')into $cache"
fi

# ntptime and ntpd are C programs: make sure their shared libraries are present.
missing="$(ldd "$cache/usr/sbin/ntptime" "$cache/usr/sbin/ntpd" | awk '/not found/ {print $1}' | sort -u)"
if [[ -n "$missing" ]]; then
  echo "missing libraries: $missing" >&2
  if [[ "$(id -u)" == 0 ]]; then
    # The ntpsec package's own library dependencies (apt-cache depends ntpsec).
    apt-get install -y -q libbsd0 libmd0 libcap2 libssl3
  else
    echo "run as root, or: apt-get install libbsd0 libmd0 libcap2 libssl3" >&2
    exit 1
  fi
fi
echo "ntptime: $cache/usr/sbin/ntptime"
echo "ntpq:    PYTHONPATH=$cache/usr/lib/python3/dist-packages $cache/usr/bin/ntpq"

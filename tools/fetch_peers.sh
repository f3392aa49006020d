#!/usr/bin/env bash
# Unpacks the real NTP peers of the interop tests into .tmp/peers/ without installing them:
#   .tmp/peers/chrony  chrony (chronyd, chronyc)
#   .tmp/peers/ntpsec  ntpsec (ntpd, ntptime, ntpq, ...), ntpsec-ntpdig, python3-ntp
#   .tmp/peers/prometheus  prometheus (promtool only is used)
#   .tmp/peers/collectd  collectd-core (collectd and its ntpd/csv plugins, run in the foreground
#                        by the mode 7 test; the package's service files are never installed)
# chrony and ntpsec conflict as Debian packages (installing one removes the other) and the machine
# may run either: only `apt-get download` and `dpkg-deb -x` are used, so no package is installed
# or removed, no maintainer script runs and no service starts. Library dependencies of the
# unpacked programs that the machine lacks are installed with apt (libraries start nothing).
# tests/support/peers.ts looks in these folders first.
# Usage: tools/fetch_peers.sh [peers-dir]   (idempotent)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="${1:-$here/../.tmp/peers}"
mkdir -p "$peers"
peers="$(cd "$peers" && pwd)"
# shellcheck source=tools/_apt_install.sh
source "$here/_apt_install.sh"
# One set-up at a time: two test runs starting together must not unpack over each other.
exec 9>"$peers/.lock"
flock 9

# Group name, then its packages.
groups=(
  "chrony chrony"
  "ntpsec ntpsec ntpsec-ntpdig python3-ntp"
  # promtool (checks the metrics endpoint's exposition); the package's server is never run.
  "prometheus prometheus"
  # collectd's ntpd plugin speaks mode 7; collectd runs only as `collectd -f -C conf` in a test.
  "collectd collectd-core"
)

updated=0
download() { # packages... into the current folder
  if apt-get download -q "$@" >/dev/null 2>&1; then return 0; fi
  if [[ "$updated" == 0 && "$(id -u)" == 0 ]]; then
    # The package lists may be missing on a fresh machine: fetch them once and retry.
    apt-get update -qq >/dev/null 2>&1 || true
    updated=1
    apt-get download -q "$@" >/dev/null 2>&1 && return 0
  fi
  echo "fetch_peers: apt-get download $* failed" >&2
  return 1
}

status=0
for g in "${groups[@]}"; do
  read -r name pkgs <<<"$g"
  dest="$peers/$name"
  # The marker names the packages unpacked, so adding one to a group unpacks the group again.
  if [[ -f "$dest/.unpacked" && "$(cat "$dest/.unpacked")" == "$pkgs" ]]; then
    continue
  fi
  work="$(mktemp -d)"
  # apt drops to the _apt user for downloads: let it write there (no warning).
  chmod 0777 "$work"
  # shellcheck disable=SC2086 # the package list splits on purpose
  if ! (cd "$work" && download $pkgs); then
    rm -rf "$work"
    status=1
    continue
  fi
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.new"; done
  echo "$pkgs" >"$dest.new/.unpacked"
  rm -rf "$dest" "$work"
  mv "$dest.new" "$dest"
  echo "fetch_peers: unpacked $pkgs into $dest"
done

# NTPsec's Python module loads libntpc beside itself first: point it at the unpacked library,
# so ntpq and ntpdig work from the cache on a machine without the installed module.
pydir="$peers/ntpsec/usr/lib/python3/dist-packages/ntp"
if [[ -d "$pydir" && ! -e "$pydir/libntpc.so" ]]; then
  ln -s ../../../x86_64-linux-gnu/ntp/libntpc.so.1 "$pydir/libntpc.so"
fi

# The unpacked C programs' shared libraries, and Python for ntpq/ntpdig.
bins=()
for b in chrony/usr/sbin/chronyd chrony/usr/bin/chronyc ntpsec/usr/sbin/ntpd \
  ntpsec/usr/sbin/ntptime collectd/usr/sbin/collectd; do
  [[ -x "$peers/$b" ]] && bins+=("$peers/$b")
done
missing=""
if [[ ${#bins[@]} -gt 0 ]]; then
  missing="$(ldd "${bins[@]}" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')"
fi
need_python=0
command -v python3 >/dev/null 2>&1 || need_python=1
if [[ -n "$missing" || "$need_python" == 1 ]]; then
  echo "fetch_peers: missing libraries: ${missing:-none}; python3: $([[ $need_python == 1 ]] && echo missing || echo present)" >&2
  # The library packages the unpacked packages depend on (libc6 is always there).
  libs="$(apt-cache depends --no-recommends --no-suggests chrony ntpsec collectd-core 2>/dev/null |
    awk '/^  (Pre)?Depends: lib/ {print $2}' | grep -v '^libc6$' | sort -u | tr '\n' ' ')"
  [[ "$need_python" == 1 ]] && libs="$libs python3"
  if [[ "$(id -u)" == 0 ]]; then
    # shellcheck disable=SC2086
    apt_install $libs || status=1
  else
    echo "fetch_peers: run as root, or: apt-get install $libs" >&2
    status=1
  fi
fi
exit "$status"

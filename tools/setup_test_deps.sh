#!/usr/bin/env bash
# The interop tests' set-up, run by `deno task test` and .ci/run. It changes nothing it did not
# install itself:
# - chrony and NTPsec (which conflict as packages, and one of which the machine may run) are
#   unpacked into .tmp/peers/ by tools/fetch_peers.sh, never installed or removed;
# - the other peers (tshark, faketime, socat, iproute2, setpriv, dnsmasq's binary,
#   check_ntp_peer, chromium) are installed
#   with apt when missing; none of them is a time service, and a policy-rc.d veto keeps apt from
#   starting any service while it runs;
# - no service is stopped and no process is signalled: tests end only what they started, by pid.
# Without root or apt it says what is missing, and the tests needing it skip visibly (CI fails a
# run with skips).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/_apt_install.sh
source "$here/_apt_install.sh"
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v socat >/dev/null 2>&1 || need+=(socat)
# The NTS tests make their certificates with the openssl CLI (libssl3 comes with it).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# dnsmasq-base: the binary only (the `dnsmasq` package would add a system DNS service).
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
# check_ntp_peer (Nagios/Icinga plugins; plain programs, no service).
[ -x /usr/lib/nagios/plugins/check_ntp_peer ] || need+=(monitoring-plugins-basic)
# gpsd writes the NTP SHM segments Horae's SHM driver reads (tests/interop/shm_gpsd_test.ts);
# apt_install's policy-rc.d veto keeps its service from starting.
command -v gpsd >/dev/null 2>&1 || [ -x /usr/sbin/gpsd ] || need+=(gpsd)
# gpsfake replays sentence logs into a gpsd of its own (tests/interop/gpsd_gpsfake_test.ts).
command -v gpsfake >/dev/null 2>&1 || need+=(gpsd-clients)
# man(1) and groff check the manual pages (man --warnings, tools/gen_man_pages_test.ts).
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v groff >/dev/null 2>&1 || need+=(groff-base)
# Headless Chromium lays out `horae report`'s page (tests/interop/report_test.ts).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
      debconf-set-selections 2>/dev/null || true
    (apt-get update -qq || true) >/dev/null 2>&1
    apt_install "${need[@]}" || true
  else
    echo "setup: not root or no apt: missing ${need[*]} (interop tests that need them will skip)"
  fi
fi
if command -v apt-get >/dev/null 2>&1; then
  bash "$here/fetch_peers.sh" ||
    echo "setup: could not unpack every peer into .tmp/peers (tests that need them will skip)"
else
  echo "setup: no apt-get: chrony and NTPsec are not unpacked (tests that need them will skip)"
fi
exit 0

#!/usr/bin/env bash
# Installs the real peers the interop tests talk to (chrony, NTPsec tools, tshark, faketime, socat,
# iproute2, dnsmasq). Needs root and apt; otherwise it says what is missing and the tests that need
# those peers skip visibly (CI treats any skip as a failure).
set -u
need=()
command -v chronyd >/dev/null 2>&1 || need+=(chrony)
command -v ntpdig >/dev/null 2>&1 || need+=(ntpsec-ntpdate)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# dnsmasq-base: the binary only. The `dnsmasq` package would also install and start a system DNS
# service (the policy-rc.d veto below would stop that too, but there is nothing to veto here).
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    # Packages must not start services on this machine (a chronyd started by apt would discipline
    # the host clock): the standard Debian policy-rc.d veto, only while we install.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    (apt-get update -qq || true) >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/horae-apt.log 2>&1 ||
      echo "setup: apt-get install failed, see /tmp/horae-apt.log"
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    # Belt and braces: stop any time daemon a package may have started anyway.
    for s in chrony chronyd ntpsec ntp; do
      command -v systemctl >/dev/null 2>&1 && systemctl stop "$s" >/dev/null 2>&1 || true
    done
    pkill -x chronyd >/dev/null 2>&1 || true
  else
    echo "setup: not root or no apt: missing ${need[*]} (interop tests that need them will skip)"
  fi
fi
# NTPsec's ntpq/ntptime conflict with the chrony package: extract them into a cache instead.
here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/fetch_ntpsec.sh" ]; then bash "$here/fetch_ntpsec.sh" || true; fi
exit 0

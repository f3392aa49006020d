# Sourced by tools/setup_test_deps.sh and tools/fetch_peers.sh: installs Debian packages without
# letting any of them start a service (the standard policy-rc.d veto, only while apt runs and only
# when the machine has no policy of its own). Needs root. Output goes to /tmp/horae-apt.log.
apt_install() {
  local made_policy=0 rc=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d &&
      made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>/tmp/horae-apt.log 2>&1 || rc=$?
  if [[ "$made_policy" == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
  if [[ "$rc" != 0 ]]; then echo "setup: apt-get install $* failed, see /tmp/horae-apt.log" >&2; fi
  return "$rc"
}

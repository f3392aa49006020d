#!/usr/bin/env bash
# Recaptures the golden NTP packets in tests/fixtures/golden/ from real traffic between chronyd 4.3,
# NTPsec's ntpdig and (optionally) NTPsec's ntpd, inside private network namespaces.
#
# Safety: every daemon and client runs under setpriv with CAP_SYS_TIME dropped, chronyd always with
# -x, and chronyd as a client only with -Q (measure and print, never correct). Traffic stays on the
# loopback interface of a namespace this script creates and deletes.
#
# Usage: sudo tools/capture_golden.sh [output-dir]      (needs root for `ip netns`)
# Env:   NTPSEC_NTPD=/path/to/ntpd  use this NTPsec ntpd for the INIT kiss capture; when unset the
#        script extracts one with `apt-get download ntpsec` + `dpkg-deb -x` (no maintainer scripts)
#        and skips that capture if it cannot.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/fixtures/golden}
NS=hgold
WORK=$(mktemp -d /tmp/horae_golden.XXXXXX)
GUARD=(setpriv --bounding-set=-sys_time --inh-caps=-sys_time --)
PIDS=()

for tool in chronyd ntpdig tshark jq ip setpriv; do
  command -v "$tool" >/dev/null || { echo "capture_golden: $tool is not installed" >&2; exit 1; }
done

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

nsx() { ip netns exec "$NS" "${GUARD[@]}" "$@"; }

# Starts a background process and remembers its pid for cleanup (and for stop_bg).
start_bg() {
  "$@" &
  PIDS+=("$!")
  LAST_PID=$!
}

stop_bg() {
  kill -INT "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Captures UDP port 123 on the namespace's loopback into $WORK/$1.pcap while "$2..." runs.
capture() {
  local name=$1
  shift
  start_bg ip netns exec "$NS" tshark -q -i lo -f 'udp port 123' -w "$WORK/$name.pcap" \
    2>"$WORK/$name.tshark.log"
  local tpid=$LAST_PID
  for _ in $(seq 1 50); do # up to 5 s for tshark to start capturing
    grep -q 'Capture started\|Capturing on' "$WORK/$name.tshark.log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  "$@" || echo "capture_golden: '$*' exited with $?" >&2
  sleep 0.5
  stop_bg "$tpid"
}

# Writes $OUT/$2.json from the first frame of $WORK/$1.pcap matching display filter $3.
# $4 = source (the program that sent the packet), $5 = description.
extract() {
  local pcap=$WORK/$1.pcap name=$2 filter=$3 source=$4 description=$5
  local frame
  frame=$(tshark -r "$pcap" -Y "$filter" -T fields -e frame.number 2>/dev/null | head -n 1)
  if [[ -z "$frame" ]]; then
    echo "capture_golden: no frame matches '$filter' in $1.pcap: $name not written" >&2
    return 0
  fi
  local sel="frame.number==$frame"
  # Hex payload, capture time and every leaf field of the NTP layer as tshark reports it.
  tshark -r "$pcap" -Y "$sel" -T json -x -J ntp 2>/dev/null >"$WORK/$name.fields.json"
  # The human-readable lines of tshark's NTP tree (first level), e.g. "Reference ID: 127.0.0.1".
  tshark -r "$pcap" -Y "$sel" -V -O ntp 2>/dev/null |
    awk '/^Network Time Protocol/ {on = 1; next} on && /^    [^ ]/ {
           line = substr($0, 5); i = index(line, ": ");
           if (i > 0) printf "%s\t%s\n", substr(line, 1, i - 1), substr(line, i + 2) }' \
      >"$WORK/$name.text.tsv"
  jq -n \
    --arg source "$source" \
    --arg description "$description" \
    --arg tshark "$(tshark -v 2>/dev/null | head -n 1)" \
    --arg epoch "$(tshark -r "$pcap" -Y "$sel" -T fields -e frame.time_epoch 2>/dev/null)" \
    --slurpfile f "$WORK/$name.fields.json" \
    --rawfile text "$WORK/$name.text.tsv" '
      ($f[0][0]._source.layers) as $l
      | {
          source: $source,
          description: $description,
          captured: ($epoch | tonumber | floor | todate),
          hex: $l.ntp_raw[0],
          tshark: {
            version: $tshark,
            fields: ($l.ntp
              | [paths(scalars) as $p
                 | select(($p | last | type) == "string")
                 | select($p | last | endswith("_raw") | not)
                 | {key: ($p | last), value: getpath($p)}]
              | from_entries),
            text: ($text | split("\n") | map(select(length > 0) | split("\t")
              | {key: .[0], value: .[1]}) | from_entries)
          }
        }' >"$OUT/$name.json"
  echo "capture_golden: wrote $OUT/$name.json ($(jq -r '.hex | length / 2' "$OUT/$name.json") bytes)"
}

mkdir -p "$OUT"
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up

# Symmetric keys shared by the chronyd server and client (random-looking test keys, not secrets).
cat >"$WORK/keys" <<'EOF'
1 MD5 HEX:7A3F9C2E11B04D5687A1C3E5F7092B4D
2 SHA1 HEX:0F1E2D3C4B5A69788796A5B4C3D2E1F00112233445566778
EOF

# Server A: chronyd as a stratum 8 local-clock server on 127.0.0.1:123.
cat >"$WORK/a.conf" <<EOF
port 123
bindaddress 127.0.0.1
allow 127.0.0.0/8
local stratum 8
cmdport 0
keyfile $WORK/keys
pidfile $WORK/a.pid
EOF
# Server B: chronyd on 127.0.0.2:123 synchronised to A, so its replies carry stratum 9, an IPv4
# refid and non-zero root delay and dispersion.
cat >"$WORK/b.conf" <<EOF
port 123
bindaddress 127.0.0.2
allow 127.0.0.0/8
server 127.0.0.1 iburst minpoll -2 maxpoll -2
cmdport 0
pidfile $WORK/b.pid
EOF

start_bg ip netns exec "$NS" "${GUARD[@]}" chronyd -x -d -u root -f "$WORK/a.conf" \
  >"$WORK/a.log" 2>&1
sleep 1

# chronyd -Q: measure against the given server line and print the offset; never corrects the clock.
chrony_client() {
  timeout 30 ip netns exec "$NS" "${GUARD[@]}" chronyd -Q -x -u root -f /dev/null \
    "keyfile $WORK/keys" "server $1" 'cmdport 0' "pidfile $WORK/q.pid"
}

capture ntpdig nsx timeout 10 ntpdig 127.0.0.1
capture chronyc chrony_client '127.0.0.1 iburst maxsamples 2'
capture md5 chrony_client '127.0.0.1 iburst maxsamples 1 key 1'
capture sha1 chrony_client '127.0.0.1 iburst maxsamples 1 key 2'

start_bg ip netns exec "$NS" "${GUARD[@]}" chronyd -x -d -u root -f "$WORK/b.conf" \
  >"$WORK/b.log" 2>&1
sleep 8 # B needs a few samples of A (4 per second) before it serves as stratum 9
capture chain nsx timeout 10 ntpdig 127.0.0.2

CH="chronyd 4.3"
DIG="NTPsec 1.2.2 ntpdig"
REQ='ntp.flags.mode==3'
REP='ntp.flags.mode==4'
extract ntpdig ntpdig_request "$REQ" "$DIG" \
  "ntpdig client request (v4, mode 3, LI 3, only the transmit timestamp set)"
extract ntpdig chronyd_reply_to_ntpdig "$REP" "$CH" \
  "chronyd server reply (local stratum 8, refid 127.127.1.1) to ntpdig"
extract chronyc chronyd_client_request "$REQ" "$CH" \
  "chronyd client request (chronyd -Q): zero origin/receive, random transmit timestamp, precision 32"
extract chronyc chronyd_server_reply "$REP" "$CH" \
  "chronyd server reply to a chronyd client (origin echoes the random transmit timestamp)"
extract md5 chronyd_md5_request "$REQ" "$CH" "chronyd client request with an MD5 MAC (key 1)"
extract md5 chronyd_md5_reply "$REP" "$CH" "chronyd server reply with an MD5 MAC (key 1)"
extract sha1 chronyd_sha1_request "$REQ" "$CH" "chronyd client request with a SHA1 MAC (key 2)"
extract sha1 chronyd_sha1_reply "$REP" "$CH" "chronyd server reply with a SHA1 MAC (key 2)"
extract chain chronyd_stratum9_reply "$REP && ip.src==127.0.0.2" "$CH" \
  "reply of a chronyd server synchronised to another (stratum 9, IPv4 refid, non-zero root delay)"

for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
sleep 1

# NTPsec ntpd without sources answers with stratum 0 and the kiss code INIT.
ntpd_bin=${NTPSEC_NTPD:-}
if [[ -z "$ntpd_bin" ]]; then
  if (cd "$WORK" && timeout 60 apt-get download ntpsec >/dev/null 2>&1) &&
    dpkg-deb -x "$WORK"/ntpsec_*.deb "$WORK/ntpsec"; then
    ntpd_bin=$WORK/ntpsec/usr/sbin/ntpd
  fi
fi
if [[ -n "$ntpd_bin" && -x "$ntpd_bin" ]]; then
  cat >"$WORK/ntp.conf" <<EOF
disable ntp
disable kernel
EOF
  start_bg ip netns exec "$NS" "${GUARD[@]}" "$ntpd_bin" -n -c "$WORK/ntp.conf" \
    -l "$WORK/ntpd.log"
  sleep 2
  capture ntpsec nsx timeout 10 ntpdig 127.0.0.1
  extract ntpsec ntpsec_init_kiss "$REP" "NTPsec 1.2.2 ntpd" \
    "unsynchronised NTPsec ntpd reply: LI 3, stratum 0, kiss code INIT"
else
  echo "capture_golden: NTPsec ntpd not available: skipping the INIT kiss capture" >&2
fi
echo "capture_golden: done"

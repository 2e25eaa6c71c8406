#!/usr/bin/env bash
# bench-live.sh: the highest MQTT message rate that mqtap sniff decodes live, losing nothing.
#
#   scripts/bench-live.sh [MQTAP]     MQTAP: the mqtap binary (default $MQTAP, else ./mqtap)
#
# Environment:
#   MQTAP_LIVE_RATES    message rates to try, in msg/s
#                       (default "50000 100000 200000 300000 400000 600000 800000")
#   MQTAP_LIVE_SECONDS  seconds of traffic per rate (default 5)
#   MQTAP_LIVE_CONNS    publishing connections (default 4)
#   MQTAP_LIVE_SIZE     payload bytes per message (default 32; 1400 puts one
#                       message in each 1500-byte frame, to measure frames/s)
#   GO                  the go command that builds the load generator (default go)
#
# For each rate, in a private network namespace, `mqtap sniff -i lo -f 1883`
# captures while cmd/mqtap-loadgen (built once, here) sends exactly
# rate x seconds MQTT 3.1.1 PUBLISH QoS 0 packets (32-byte payloads, MQTAP_LIVE_SIZE) over 4 (MQTAP_LIVE_CONNS)
# connections to its own minimal broker on 127.0.0.1:1883, paced every
# millisecond. Then mqtap gets SIGINT and prints its summary line:
#   mqtap: N packets captured, D dropped by the kernel, M MQTT packets decoded
# The MQTT packets on the wire are known exactly: the PUBLISH packets sent,
# plus one CONNECT and one CONNACK per connection (no DISCONNECT). A rate is
# clean when the kernel dropped nothing and mqtap decoded exactly that many;
# a rate the load generator could not sustain (under 98% of it) does not
# count. mqtap's CPU (%P: share of one CPU over its whole run, which includes
# about 2 s of idle start and settle time; and user+system seconds) and peak
# RSS come from /usr/bin/time when it is installed.
#
# Why a private namespace whose loopback has MTU 1500 and gso_max_segs 1: the
# host's lo has a 64 KB MTU and hands the capture socket TCP segments of up
# to 64 KB, so a capture there sees a few big frames where a network link
# carries dozens. Here TCP segments are at most 1448 bytes, as on Ethernet,
# so mqtap handles the frame rate and the reassembly work of a real link. The
# namespace also keeps other host traffic out of the capture and frees port
# 1883 from any broker running on the host.
#
# Needs root (network namespace, packet capture) and Go. Exit status 1 only
# on setup errors; a rate that loses packets is a result, not an error.
set -euo pipefail

RATES=${MQTAP_LIVE_RATES:-50000 100000 200000 300000 400000 600000 800000}
SECS=${MQTAP_LIVE_SECONDS:-5}
CONNS=${MQTAP_LIVE_CONNS:-4}
SIZE=${MQTAP_LIVE_SIZE:-32}
GO=${GO:-go}
MQTAP=${1:-${MQTAP:-./mqtap}}
PORT=1883
TARGET=200000
MIN_ACHIEVED=98 # % of the asked rate the load generator must reach

die() { echo "bench-live: $*" >&2; exit 1; }
note() { echo "bench-live: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespace and packet capture): run as root or with sudo $0${1:+ $1}"
case $SECS in '' | *[!0-9]* | 0) die "MQTAP_LIVE_SECONDS must be a positive integer, not '$SECS'" ;; esac
case $CONNS in '' | *[!0-9]* | 0) die "MQTAP_LIVE_CONNS must be a positive integer, not '$CONNS'" ;; esac
case $SIZE in '' | *[!0-9]*) die "MQTAP_LIVE_SIZE must be a number of bytes, not '$SIZE'" ;; esac
for r in $RATES; do
	case $r in *[!0-9]* | 0) die "MQTAP_LIVE_RATES must list positive integers, not '$r'" ;; esac
done
[ -n "${RATES// /}" ] || die "MQTAP_LIVE_RATES is empty"
for t in ip awk sed "$GO"; do
	command -v "$t" >/dev/null || die "$t is missing"
done
TIME=
if [ -x /usr/bin/time ]; then
	command -v pgrep >/dev/null || die "pgrep is missing (apt-get install procps)"
	TIME=/usr/bin/time
else
	note "/usr/bin/time is missing (apt-get install time): no CPU or memory figures"
fi
if [ "${MQTAP#*/}" = "$MQTAP" ] && command -v "$MQTAP" >/dev/null; then MQTAP=$(command -v "$MQTAP"); fi
if [ ! -x "$MQTAP" ] || [ -d "$MQTAP" ]; then die "mqtap binary '$MQTAP' not found or not executable (run make build, or pass its path as the first argument or in MQTAP)"; fi
MQTAP=$(cd "$(dirname "$MQTAP")" && pwd)/$(basename "$MQTAP")
"$MQTAP" sniff --help >/dev/null 2>&1 || die "'$MQTAP' has no sniff command (rebuild it: make build)"

# ------------------------------------------------------------------ setup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqtap-live.XXXXXX")
NS=mqtap-live-$$
PIDS=()
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOADGEN=$WORK/mqtap-loadgen
note "building cmd/mqtap-loadgen"
(cd "$(dirname "$0")/.." && CGO_ENABLED=0 "$GO" build -o "$LOADGEN" ./cmd/mqtap-loadgen) || die "could not build cmd/mqtap-loadgen"

ip netns add "$NS"
ip -n "$NS" link set lo up mtu 1500
ip -n "$NS" link set lo gso_max_segs 1

# ------------------------------------------------------------------ one rate
# run_rate RATE: one capture at RATE msg/s; prints a row of the table and, when
# the run is clean, adds RATE to CLEAN.
CLEAN=()
run_rate() {
	local rate=$1
	local err=$WORK/sniff-$rate.err tf=$WORK/time-$rate gen=$WORK/loadgen-$rate
	local job pid i
	local sniff=("$MQTAP" sniff -i lo -f "$PORT" -T fields -e frame.number)
	rm -f "$tf"
	: >"$err"
	if [ -n "$TIME" ]; then
		ip netns exec "$NS" "$TIME" -f '%P %M %U %S' -o "$tf" "${sniff[@]}" >/dev/null 2>"$err" &
	else
		ip netns exec "$NS" "${sniff[@]}" >/dev/null 2>"$err" &
	fi
	job=$! # ip netns exec execs its command: this is time's pid, or mqtap's
	PIDS+=("$job")

	# capturing once it says so (like tshark: "Capturing on 'lo'")
	for ((i = 0; i < 200; i++)); do
		grep -q "^Capturing on" "$err" && break
		kill -0 "$job" 2>/dev/null || break
		sleep 0.05
	done
	if ! kill -0 "$job" 2>/dev/null; then
		cat "$err" >&2
		die "mqtap sniff exited before capturing"
	fi
	grep -q "^Capturing on" "$err" || note "mqtap sniff did not say 'Capturing on' within 10 s; going on"
	pid=$job
	if [ -n "$TIME" ]; then # signals go to mqtap itself: time ignores SIGINT
		pid=$(pgrep -P "$job" | head -1)
		[ -n "$pid" ] || die "cannot find the mqtap process under /usr/bin/time (pid $job)"
	fi
	sleep 0.2

	if ! ip netns exec "$NS" "$LOADGEN" -port "$PORT" -rate "$rate" -conns "$CONNS" -size "$SIZE" -duration "${SECS}s" >"$gen.out" 2>"$gen.err"; then
		cat "$gen.err" >&2
		die "the load generator failed at $rate msg/s"
	fi
	# loadgen: sent N PUBLISH in D.DDDs (R msg/s)
	local sent achieved
	read -r sent achieved < <(sed -nE 's/^loadgen: sent ([0-9]+) PUBLISH in [0-9.]+s \(([0-9]+) msg\/s\)$/\1 \2/p' "$gen.out") || true
	[ -n "${achieved:-}" ] || { cat "$gen.out" "$gen.err" >&2; die "cannot read the load generator's result"; }

	# mqtap may still be decoding what the kernel queued for it
	sleep 1
	kill -INT "$pid" 2>/dev/null || true
	local waited=0 rc=0 how=
	while kill -0 "$job" 2>/dev/null; do
		sleep 0.1
		waited=$((waited + 1))
		if [ $waited = 150 ]; then
			note "mqtap sniff still running 15 s after SIGINT; sending SIGTERM"
			how=" (SIGTERM)"
			kill -TERM "$pid" 2>/dev/null || true
		elif [ $waited = 200 ]; then
			note "mqtap sniff still running; killing it"
			how=" (killed)"
			kill -KILL "$pid" "$job" 2>/dev/null || true
		fi
	done
	wait "$job" || rc=$?
	PIDS=()

	# mqtap: N packets captured, D dropped by the kernel, M MQTT packets decoded
	local frames='' drops='' decoded=''
	read -r frames drops decoded < <(sed -nE \
		's/^mqtap: ([0-9,]+) packets captured, ([^ ]+) dropped by the kernel.*, ([0-9,]+) MQTT packets decoded.*$/\1 \2 \3/p' \
		"$err" | tail -1 | tr -d ,) || true
	local status=yes
	if [ -z "$decoded" ]; then
		status="no stats$how"
		frames=- drops=- decoded=-
		note "rate $rate: no summary line from mqtap sniff (exit $rc); its stderr ends with:"
		tail -3 "$err" >&2
	elif [ "$rc" != 0 ]; then
		status="exit $rc$how"
	elif [ "$drops" != 0 ] || [ "$decoded" != $((sent + 2 * CONNS)) ]; then
		status=no
	elif [ $((achieved * 100)) -lt $((rate * MIN_ACHIEVED)) ]; then
		status="gen slow" # clean, but not at the rate asked for
	fi
	[ "$status" = yes ] && CLEAN+=("$rate")

	local cpu=- cpus=- kb=-
	if [ -s "$tf" ]; then
		local u s
		read -r cpu kb u s < <(tail -1 "$tf") || true
		cpus=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
		cpu=${cpu%\%}
	fi
	awk -v rate="$rate" -v sent="$sent" -v ach="$achieved" -v frames="$frames" -v drops="$drops" \
		-v dec="$decoded" -v want=$((sent + 2 * CONNS)) -v cpu="$cpu" -v cpus="$cpus" -v kb="$kb" -v st="$status" 'BEGIN {
		ratio = dec ~ /^[0-9]+$/ ? sprintf("%.3f%%", 100 * dec / want) : "-"
		mb = kb ~ /^[0-9]+$/ ? sprintf("%.1f", kb / 1024) : "-"
		printf "%8s %9s %9s %9s %7s %9s %9s %9s %5s %6s %7s  %s\n", rate, sent, ach, frames, drops, dec, want, ratio, cpu, cpus, mb, st
	}'
}

# ------------------------------------------------------------------ all rates
note "mqtap sniff on lo (MTU 1500, gso_max_segs 1) of namespace $NS; $SECS s per rate, $CONNS connections"
printf "%8s %9s %9s %9s %7s %9s %9s %9s %5s %6s %7s  %s\n" \
	"msg/s" "sent" "achieved" "frames" "drops" "decoded" "expected" "dec/exp" "cpu%" "cpu s" "RSS MB" "clean"
for rate in $RATES; do
	run_rate "$rate"
done

best=0
for r in "${CLEAN[@]}"; do
	[ "$r" -gt "$best" ] && best=$r
done
[ "$best" -gt 0 ] || note "no rate was clean"
echo "bench-live: highest clean rate: $best msg/s (target $TARGET)"

# lib.sh: what the make-*samples.sh scripts share (sourced, not run).
#
# The sourcing script sets PROG (its name, for messages) and SAMPLES (the
# samples it makes), and optionally PORT (the MQTT port of its captures) and
# a cleanup_hook function run first at exit. It gets:
#   die, log                 messages
#   parse_args "$@"          --check, -o DIR, -h, sample names: CHECK_ONLY, OUT, WANT
#   samples_work             WORK (temporary directory), PIDS, the exit trap
#   samples_netns            NS: a private network namespace whose loopback has
#                            MTU 1500 and gso_max_segs 1 (segments as on Ethernet)
#   nsx CMD...               CMD inside the namespace (never background nsx
#                            itself: $! would be a subshell, not the program)
#   wait_for FILE PATTERN [SECONDS], forget_pid PID
#   build_mqtap              MQTAP: $MQTAP_BIN, or mqtap built from the checkout
#   tshark_q ARGS...         tshark -n (with TSHARK_DA, the script's -d options) without its root warning
#   count_line FILE [TSHARK-OPTION]...   "frames N, MQTT messages M: CONNECT a, ..." (tshark's view)
#   expect_keys DIR N        DIR holds N *.pem files
#   go_request, py_request, go_respond_bg, py_respond_bg, resp_wait, resp_stop:
#                            the lab peers (mqtap lab, scripts/labpeer.py as $PEER with $PY)
#                            inside the namespace, on the broker options in the array H
#   run_broker NAME CONF PORT [VAR=VALUE]...   mosquitto -c CONF until it listens: BROKER_PID
#   stop_broker
#   start_capture FILE [FILTER] [pcapng|sll|sll2], stop_capture: CAP_PID
#   check_all, check_mode    run the script's check_sample NAME on every wanted
#                            sample; check_mode exits after that with --check
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the sourcing script

[ -v TSHARK_DA ] || TSHARK_DA=()

die() { echo "$PROG: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# parse_args: the command line every sample script takes.
parse_args() {
	CHECK_ONLY=0
	WANT=()
	OUT=${OUT:-$HERE}
	while [ $# -gt 0 ]; do
		case $1 in
		--check) CHECK_ONLY=1 ;;
		-o) shift; OUT=${1:?-o needs a directory} ;;
		-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
		-*) die "unknown option $1 (try --help)" ;;
		*) WANT+=("$1") ;;
		esac
		shift
	done
	if [ ${#WANT[@]} -eq 0 ]; then WANT=("${SAMPLES[@]}"); fi
	local w
	for w in "${WANT[@]}"; do
		case " ${SAMPLES[*]} " in *" $w "*) ;; *) die "unknown sample '$w' (one of: ${SAMPLES[*]})" ;; esac
	done
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
}

# samples_work: the work directory and the exit trap that stops every
# process started (PIDS) and removes the namespace and the directory.
samples_work() {
	WORK=$(mktemp -d "/tmp/mqtap-$PROG.XXXXXX")
	PIDS=()
	NS=
	trap samples_cleanup EXIT
	trap 'exit 130' INT TERM
}

samples_cleanup() {
	local p
	if declare -F cleanup_hook >/dev/null; then cleanup_hook; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$NS" ]; then
		# anything still running inside our private namespace
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$NS" 2>/dev/null || true
	fi
	if [ -n "${MQTAP_SAMPLES_KEEP:-}" ]; then echo "$PROG: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}

samples_netns() {
	NS=mqtap-$PROG-$$
	ip netns add "$NS"
	ip -n "$NS" link set lo up mtu 1500
	ip -n "$NS" link set lo gso_max_segs 1
}

nsx() { ip netns exec "$NS" "$@"; }

# wait_for FILE PATTERN [SECONDS]: until grep -F finds PATTERN in FILE
wait_for() {
	local f=$1 pat=$2 t=${3:-10} i
	for ((i = 0; i < t * 20; i++)); do
		grep -qF -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$PROG: timed out waiting for '$pat' in $f:" >&2
	tail -5 "$f" >&2 || true
	return 1
}

forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }

build_mqtap() {
	MQTAP=${MQTAP_BIN:-}
	if [ -z "$MQTAP" ]; then
		command -v go >/dev/null || die "go is missing (or set MQTAP_BIN to an mqtap binary)"
		log "building mqtap"
		(cd "$HERE/../.." && CGO_ENABLED=0 go build -o "$WORK/mqtap" ./cmd/mqtap)
		MQTAP=$WORK/mqtap
	fi
}

# run_broker NAME CONF PORT [VAR=VALUE]...: mosquitto -c CONF in the
# namespace, with the environment given, until it listens on PORT.
BROKER_PID=
run_broker() {
	local name=$1 conf=$2 port=$3 i
	shift 3
	ip netns exec "$NS" env "$@" mosquitto -c "$conf" >>"$WORK/$name-broker.out" 2>&1 &
	BROKER_PID=$!
	PIDS+=("$BROKER_PID")
	for ((i = 0; i < 100; i++)); do
		[ -n "$(nsx ss -Hltn "sport = :$port")" ] && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$WORK/$name-broker.out" >&2
	die "mosquitto for $name did not start"
}

stop_broker() {
	kill "$BROKER_PID" 2>/dev/null || true
	wait "$BROKER_PID" 2>/dev/null || true
	forget_pid "$BROKER_PID"
}

# start_capture FILE [FILTER] [MODE]: MODE pcapng (dumpcap on lo, the
# default) | sll | sll2 (tcpdump -i any); FILTER defaults to "tcp port $PORT".
CAP_PID=
start_capture() {
	local file=$1 filter=${2:-tcp port $PORT} mode=${3:-pcapng} clog=$WORK/capture.log
	: >"$clog"
	case $mode in
	pcapng) ip netns exec "$NS" dumpcap -q -i lo -s 0 -f "$filter" -w "$file" >"$clog" 2>&1 & ;;
	sll) ip netns exec "$NS" tcpdump -Z root -i any -y LINUX_SLL -s 0 --immediate-mode -w "$file" "$filter" >"$clog" 2>&1 & ;;
	sll2) ip netns exec "$NS" tcpdump -Z root -i any -y LINUX_SLL2 -s 0 --immediate-mode -w "$file" "$filter" >"$clog" 2>&1 & ;;
	*) die "start_capture: unknown mode $mode" ;;
	esac
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	case $mode in pcapng) wait_for "$clog" "Capturing on" ;; *) wait_for "$clog" "listening on" ;; esac
	sleep 0.5
}

stop_capture() {
	sleep 1 # last FIN/ACKs, and the capture ring buffer
	kill -INT "$CAP_PID" 2>/dev/null || true
	wait "$CAP_PID" 2>/dev/null || true
	forget_pid "$CAP_PID"
}

tshark_q() { tshark -n "${TSHARK_DA[@]}" "$@" 2> >(grep -v '^Running as user' >&2); }

MSGNAMES=(RESERVED CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE UNSUBACK PINGREQ PINGRESP DISCONNECT AUTH)

# count_line FILE [TSHARK-OPTION]...: "frames N, MQTT messages M: CONNECT a, ..."
count_line() {
	local f=$1 frames
	shift
	frames=$(capinfos -c -M "$f" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
	tshark_q -r "$f" "$@" -Y mqtt -T fields -e mqtt.msgtype | tr ',' '\n' | awk -v frames="$frames" -v names="${MSGNAMES[*]}" '
		BEGIN { split(names, n, " ") }
		NF { c[$1]++; t++ }
		END {
			s = ""
			for (i = 1; i <= 15; i++) if (c[i]) s = s sprintf("%s%s %d", (s == "" ? "" : ", "), n[i + 1], c[i])
			printf "frames %d, MQTT messages %d%s%s\n", frames, t, (s == "" ? "" : ": "), s
		}'
}

# expect_keys DIR N: DIR holds N PEM files
expect_keys() {
	local n
	n=$(find "$1" -name '*.pem' 2>/dev/null | wc -l)
	if [ "$n" -ne "$2" ]; then
		echo "$PROG: $1: $n keys, want $2" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- lab peers
# go_request ARGS...: mqtap lab request, stdout+stderr appended to $WORK/requests.log
go_request() { echo "+ mqtap lab request $*" >>"$WORK/requests.log"; nsx "$MQTAP" lab request "${H[@]}" "$@" >>"$WORK/requests.log" 2>&1; }
py_request() { echo "+ labpeer.py request $*" >>"$WORK/requests.log"; nsx "$PY" "$PEER" request "${H[@]}" "$@" >>"$WORK/requests.log" 2>&1; }
# responders in the background: RESP_PID, log in $WORK/<log>
RESP_PID=
go_respond_bg() {
	local logf=$WORK/$1
	shift
	ip netns exec "$NS" "$MQTAP" lab respond "${H[@]}" "$@" >"$logf" 2>&1 &
	RESP_PID=$!
	PIDS+=("$RESP_PID")
	wait_for "$logf" "ready:"
}
py_respond_bg() {
	local logf=$WORK/$1
	shift
	ip netns exec "$NS" "$PY" "$PEER" respond "${H[@]}" "$@" >"$logf" 2>&1 &
	RESP_PID=$!
	PIDS+=("$RESP_PID")
	wait_for "$logf" "ready:"
}
# resp_wait PID: a responder with --count exits by itself
resp_wait() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && die "responder $1 did not exit after its --count"
	wait "$1" || die "responder $1 failed"
	forget_pid "$1"
}
resp_stop() {
	kill -INT "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# check_all: check_sample NAME (the sourcing script's) for every wanted
# sample; fails when one does.
check_all() {
	local rc=0 n
	for n in "${WANT[@]}"; do check_sample "$n" || rc=1; done
	return $rc
}

# check_mode: tshark and capinfos are needed; with --check, the committed
# samples are checked and the script exits.
check_mode() {
	command -v tshark >/dev/null || die "tshark is missing (apt-get install tshark)"
	command -v capinfos >/dev/null || die "capinfos is missing (apt-get install tshark)"
	if [ "$CHECK_ONLY" = 1 ]; then
		check_all
		exit
	fi
}

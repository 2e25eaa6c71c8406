#!/usr/bin/env bash
# make-lab-samples.sh: regenerate the secure MQTT lab sample captures of
# pcaps/samples/ (lab-*.pcapng) and the private keys that decrypt them
# (pcaps/samples/keys/lab-*/), from real mosquitto traffic between the
# project's Go lab peer (mqtap lab request|respond) and the Python one
# (scripts/labpeer.py); see README.md in this directory.
#
#   sudo pcaps/samples/make-lab-samples.sh                     # every lab sample
#   sudo pcaps/samples/make-lab-samples.sh lab-session lab-mitm  # only these
#   pcaps/samples/make-lab-samples.sh --check                  # verify + count, no capture
#   sudo pcaps/samples/make-lab-samples.sh -o /tmp/out         # write somewhere else
#
# As make-samples.sh: everything runs inside a private network namespace
# (created and deleted here) whose loopback has MTU 1500 and gso_max_segs 1,
# so segments are at most 1448 bytes as on Ethernet (a 4096-bit DH public key
# in PEM, about 1.5 KB, spans two segments); each sample gets its own
# mosquitto on the lab's port 1884 and is captured with dumpcap (pcapng).
# The Go peer is built from this checkout (go build ./cmd/mqtap) unless
# MQTAP_BIN names a binary. Keys are whatever the peers generated and saved
# with --save-keys (PKCS#8 PEM), so every run produces new keys and new
# ciphertexts. Needs root, Go, mosquitto, tshark (dumpcap, capinfos),
# iproute2, and /usr/bin/python3 with python3-cryptography and
# python3-paho-mqtt. Idempotent: existing lab samples and their keys are
# replaced.
set -euo pipefail

SAMPLES=(lab-session lab-info-none lab-mitm lab-unanswered)
TSHARK_DA=(-d "tcp.port==1884,mqtt")
PORT=1884

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PEER=$ROOT/scripts/labpeer.py
PROG=make-lab-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"


# ---------------------------------------------------------------- checking


# publishes FILE TOPIC-REGEX: number of PUBLISH packets on matching topics (both directions)
publishes() {
	tshark_q -r "$1" -Y 'mqtt.msgtype == 3' -T fields -e mqtt.topic | tr ',' '\n' | grep -cE "$2" || true
}

# expect_pub FILE TOPIC-REGEX N: exactly N PUBLISH packets on matching topics
expect_pub() {
	local n
	n=$(publishes "$1" "$2")
	if [ "$n" -ne "$3" ]; then
		echo "make-lab-samples: $(basename "$1"): $n PUBLISH on $2, want $3" >&2
		return 1
	fi
}


check_sample() {
	local name=$1 f bad=0 m k=$OUT/keys/$1
	f=$OUT/$name.pcapng
	[ -s "$f" ] || { echo "make-lab-samples: $f missing" >&2; return 1; }
	m=$(tshark_q -r "$f" -Y '_ws.malformed' -T fields -e frame.number | wc -l)
	if [ "$m" -ne 0 ]; then echo "make-lab-samples: $f: $m malformed frames (tshark)" >&2; bad=1; fi
	if [ "$(tshark_q -r "$f" -Y 'mqtt.msgtype == 3 && mqtt.qos != 1' | wc -l)" -ne 0 ]; then
		echo "make-lab-samples: $f: a PUBLISH that is not QoS 1" >&2
		bad=1
	fi
	# every PUBLISH is seen twice: client -> broker, broker -> subscriber
	case $name in
	lab-session)
		expect_pub "$f" '^le0nh4rt/key-exchange/(request|response)$' 12 || bad=1
		expect_pub "$f" '^le0nh4rt/[a-z-]+/(request|response)$' 24 || bad=1
		expect_pub "$f" '^cosmo42/key-exchange/(request|response)$' 8 || bad=1
		expect_pub "$f" '^cosmo42/[a-z-]+/(request|response)$' 16 || bad=1
		expect_keys "$k/requester" 5 || bad=1
		expect_keys "$k/responder" 5 || bad=1
		;;
	lab-info-none)
		expect_pub "$f" '^le0nh4rt/key-exchange/' 8 || bad=1
		expect_pub "$f" '^le0nh4rt/' 16 || bad=1
		expect_keys "$k/requester" 2 || bad=1
		expect_keys "$k/responder" 2 || bad=1
		;;
	lab-mitm)
		# one request, two key-exchange responses, one action request (delivered
		# to both responders), one action response
		expect_pub "$f" '^le0nh4rt/key-exchange/request$' 3 || bad=1
		expect_pub "$f" '^le0nh4rt/key-exchange/response$' 4 || bad=1
		expect_pub "$f" '^le0nh4rt/uppercase/request$' 3 || bad=1
		expect_pub "$f" '^le0nh4rt/uppercase/response$' 2 || bad=1
		expect_keys "$k/requester" 1 || bad=1
		expect_keys "$k/responder-go" 1 || bad=1
		expect_keys "$k/responder-py" 1 || bad=1
		;;
	lab-unanswered)
		expect_pub "$f" '^le0nh4rt/key-exchange/request$' 1 || bad=1
		expect_pub "$f" 'response$' 0 || bad=1
		;;
	esac
	printf '%-22s %s\n' "$name.pcapng" "$(count_line "$f")"
	return $bad
}

check_mode

# ---------------------------------------------------------------- setup
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for t in mosquitto dumpcap ip ss; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto tshark iproute2)"
done
"$PY" -c 'import paho.mqtt.client, cryptography' 2>/dev/null ||
	die "$PY cannot import paho.mqtt and cryptography (apt-get install python3-paho-mqtt python3-cryptography, or set MQTAP_PYTHON)"

samples_work

build_mqtap

samples_netns



start_broker() {
	local name=$1 conf=$WORK/$1.conf
	cat >"$conf" <<-EOF
		listener $PORT 127.0.0.1
		allow_anonymous true
		persistence false
		user root
		log_dest file $WORK/$name-broker.log
		log_type all
	EOF
	run_broker "$name" "$conf" "$PORT"
}


# Peers: the lab peers of lib.sh, on 127.0.0.1:$PORT (not localhost: no ::1 attempt in the capture).
H=(--host 127.0.0.1 --port "$PORT")

# install_sample NAME: the capture and its key directories into $OUT
install_sample() {
	local name=$1
	install -m 0644 "$WORK/$name.pcapng" "$OUT/$name.pcapng"
	rm -rf "$OUT/keys/$name"
	if [ -d "$WORK/keys/$name" ]; then
		mkdir -p "$OUT/keys"
		cp -r "$WORK/keys/$name" "$OUT/keys/$name"
		find "$OUT/keys/$name" -type d -exec chmod 0755 {} +
		find "$OUT/keys/$name" -type f -exec chmod 0644 {} +
	fi
}

# ---------------------------------------------------------------- samples
# lab-session: le0nh4rt (Go requester, Python responder, MQTT 3.1.1 on the
# Python side) re-keys three times; meanwhile cosmo42 (Python requester on
# MQTT 5, Go responder) runs two exchanges.
sample_session() {
	local k=$WORK/keys/lab-session a b
	: >"$WORK/requests.log"
	start_broker session
	start_capture "$WORK/lab-session.pcapng"
	py_respond_bg session-py.log le0nh4rt --client-id responder-py --protocol 3.1.1 --count 3 --save-keys "$k/responder"
	local rpy=$RESP_PID
	go_respond_bg session-go.log cosmo42 --client-id responder-go --count 2 --save-keys "$k/responder"
	local rgo=$RESP_PID
	(
		go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester"
		sleep 0.3
		go_request le0nh4rt reverse "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester"
		sleep 0.3
		go_request le0nh4rt title-case "end-to-end encryption over MQTT" --client-id le0nh4rt --save-keys "$k/requester"
	) &
	a=$!
	(
		sleep 0.2
		py_request cosmo42 lowercase "Diffie-Hellman over MQTT 5" --protocol 5 --client-id cosmo42 --save-keys "$k/requester"
		sleep 0.2
		py_request cosmo42 shuffle "cosmo42" --protocol 5 --client-id cosmo42 --save-keys "$k/requester"
	) &
	b=$!
	wait "$a" || die "lab-session: a le0nh4rt request failed: $(cat "$WORK/requests.log")"
	wait "$b" || die "lab-session: a cosmo42 request failed: $(cat "$WORK/requests.log")"
	resp_wait "$rpy"
	resp_wait "$rgo"
	stop_capture
	stop_broker
	install_sample lab-session
}

# lab-info-none: the earlier template's HKDF (info=None) on both sides: a Go
# and a Python requester (MQTT 3.1.1) against a Python responder.
sample_info_none() {
	local k=$WORK/keys/lab-info-none
	: >"$WORK/requests.log"
	start_broker info-none
	start_capture "$WORK/lab-info-none.pcapng"
	py_respond_bg info-none-py.log le0nh4rt --client-id responder-py --hkdf-info none --count 2 --save-keys "$k/responder"
	local r=$RESP_PID
	go_request le0nh4rt uppercase "Networking is the best!" --hkdf-info none --client-id le0nh4rt-go --save-keys "$k/requester" ||
		die "lab-info-none: request failed: $(cat "$WORK/requests.log")"
	py_request le0nh4rt lowercase "Info=None, the earlier template" --hkdf-info none --client-id le0nh4rt-py --save-keys "$k/requester" ||
		die "lab-info-none: request failed: $(cat "$WORK/requests.log")"
	resp_wait "$r"
	stop_capture
	stop_broker
	install_sample lab-info-none
}

# lab-mitm: two responders for any netid (Go and Python) on one broker both
# answer le0nh4rt's key exchange; the requester takes the first answer, so
# only that responder can decrypt the request (the other logs why not).
sample_mitm() {
	local k=$WORK/keys/lab-mitm
	: >"$WORK/requests.log"
	start_broker mitm
	start_capture "$WORK/lab-mitm.pcapng"
	go_respond_bg mitm-go.log --client-id responder-go --save-keys "$k/responder-go"
	local rgo=$RESP_PID
	py_respond_bg mitm-py.log --client-id responder-py --protocol 3.1.1 --save-keys "$k/responder-py"
	local rpy=$RESP_PID
	go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" -v ||
		die "lab-mitm: request failed: $(cat "$WORK/requests.log")"
	wait_for "$WORK/mitm-go.log" "le0nh4rt uppercase:"
	wait_for "$WORK/mitm-py.log" "le0nh4rt uppercase:"
	sleep 0.3
	resp_stop "$rgo"
	resp_stop "$rpy"
	stop_capture
	stop_broker
	log "lab-mitm: Go responder: $(grep 'uppercase:' "$WORK/mitm-go.log")"
	log "lab-mitm: Python responder: $(grep 'uppercase:' "$WORK/mitm-py.log")"
	install_sample lab-mitm
}

# lab-unanswered: nobody answers the key exchange; the requester times out.
sample_unanswered() {
	: >"$WORK/requests.log"
	start_broker unanswered
	start_capture "$WORK/lab-unanswered.pcapng"
	if go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --timeout 3s; then
		die "lab-unanswered: the request was answered"
	fi
	grep -q "no responder answered on le0nh4rt/key-exchange/response within 3s" "$WORK/requests.log" ||
		die "lab-unanswered: unexpected error: $(cat "$WORK/requests.log")"
	stop_capture
	stop_broker
	install_sample lab-unanswered
}

for n in "${WANT[@]}"; do
	log "$n"
	case $n in
	lab-session) sample_session ;;
	lab-info-none) sample_info_none ;;
	lab-mitm) sample_mitm ;;
	lab-unanswered) sample_unanswered ;;
	esac
	log "$n: requests:"
	sed 's/^/   /' "$WORK/requests.log" >&2
done
log "checking with tshark"
check_all

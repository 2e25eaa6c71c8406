#!/usr/bin/env bash
# make-ws-samples.sh: MQTT over WebSocket samples (ws-*.pcapng, wss-*.pcapng),
# made by real clients through the project's WebSocket bridge
# (session/brokertest, run as cmd/mqtap-wsbridge) in front of a
# real mosquitto, and the ground truth of each: how many MQTT packets of
# each type each client sent and received, as counted by the bridge that
# relayed them (and, for ws-midstream, by the client itself). See README.md
# in this directory.
#
#   sudo pcaps/samples/make-ws-samples.sh                      # every WebSocket sample
#   sudo pcaps/samples/make-ws-samples.sh ws-plain ws-deflate  # only these
#   pcaps/samples/make-ws-samples.sh --check                   # verify with tshark, no capture
#   sudo pcaps/samples/make-ws-samples.sh -o /tmp/out          # write somewhere else
#
# Debian's mosquitto 2.0.11 has no WebSocket listener, so each sample runs
# mosquitto on 127.0.0.1:1883 (plain MQTT) and the bridge on the sample's
# port; dumpcap captures only the WebSocket port, in a private network
# namespace (mqtap-ws-samples-PID, created and deleted here) whose loopback
# has MTU 1500 and gso_max_segs 1 (segments of at most 1448 bytes, as on
# Ethernet). The clients: the Go lab peer (mqtap lab --url), the Python lab
# peer (scripts/labpeer.py --transport websockets, paho-mqtt's own WebSocket
# transport) and scripts/wsmqtt.py (python3-websockets, permessage-deflate by
# default, MQTT bytes written by the script). mqtap and the bridge are built
# from this checkout (MQTAP_BIN names another mqtap). The ground truth goes
# to ws-ground-truth.tsv and to the table of README.md between its
# ws-ground-truth markers; --check checks every sample against it with
# tshark. Needs root, Go, mosquitto, mosquitto-clients, openssl, tshark
# (dumpcap, capinfos), iproute2 and /usr/bin/python3 with
# python3-paho-mqtt, python3-cryptography and python3-websockets.
# Idempotent: existing WebSocket samples and their keys are replaced.
set -euo pipefail

SAMPLES=(ws-plain ws-deflate wss-lab ws-midstream ws-subprotocol)
BROKER=1883 # mosquitto's plain listener, behind the bridge (not captured)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PEER=$ROOT/scripts/labpeer.py
WSC=$ROOT/scripts/wsmqtt.py
CHECKER=$HERE/wscheck.py
PROG=ws-samples # the namespace is mqtap-ws-samples-PID
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"

TRUTH=$OUT/ws-ground-truth.tsv

# port NAME: the WebSocket port of a sample
port() {
	case $1 in
	ws-deflate) echo 9001 ;;
	wss-lab) echo 8081 ;;
	*) echo 8080 ;;
	esac
}

# ---------------------------------------------------------------- checking

# tsk NAME ARGS...: tshark on a sample, with its key log and, midstream, WebSocket forced on its port
tsk() {
	local name=$1 k=$OUT/keys/$1/tls.keylog
	shift
	local -a o=()
	[ -f "$k" ] && o+=("-otls.keylog_file:$k")
	[ "$name" = ws-midstream ] && o+=(-d "tcp.port==$(port "$name"),websocket")
	tshark_q -r "$OUT/$name.pcapng" "${o[@]}" "$@"
}

# expect NAME FILTER OP N: the number of frames matching FILTER compares to N (eq, ge)
expect() {
	local n
	n=$(tsk "$1" -Y "$2" -T fields -e frame.number | wc -l)
	if ! [ "$n" -"$3" "$4" ]; then
		echo "$PROG: $1.pcapng: $n frames match '$2', want -$3 $4" >&2
		return 1
	fi
}

# streams NAME: every connection of the capture decoded again by wscheck.py
# (HTTP upgrade, frames, permessage-deflate, MQTT) holds exactly the packets
# of the ground truth, and the lab's messages decrypt with the sample's keys
streams() {
	local k=$OUT/keys/$1
	local -a o=()
	[ -f "$k/tls.keylog" ] && o+=(--keylog "$k/tls.keylog")
	[ -d "$k/requester" ] && o+=(--lab "$k")
	"$PY" "$CHECKER" streams "$OUT/$1.pcapng" "$(port "$1")" "$TRUTH" "${o[@]}"
}

# ws_checks NAME CLIENTS: CLIENTS upgrades (request and 101), client frames
# all masked, server frames never, binary messages, and the ground truth
ws_checks() {
	local name=$1 p bad=0
	p=$(port "$1")
	expect "$name" 'http.request.method == "GET"' eq "$2" || bad=1
	expect "$name" 'http.response.code == 101' eq "$2" || bad=1
	expect "$name" "websocket && tcp.dstport == $p && websocket.mask == 0" eq 0 || bad=1
	expect "$name" "websocket && tcp.srcport == $p && websocket.mask == 1" eq 0 || bad=1
	expect "$name" "websocket.opcode == 1" eq 0 || bad=1
	streams "$name" || bad=1
	return $bad
}

# wsframes NAME FILTER: one line per WebSocket frame in the TCP frames
# matching FILTER (several may share a segment): OPCODE FIN LENGTH RSV
wsframes() {
	tsk "$1" -Y "websocket && $2" -T fields -E occurrence=a -e websocket.opcode -e websocket.fin -e websocket.payload_length -e websocket.rsv |
		awk -F'\t' '{ n = split($1, o, ","); split($2, f, ","); split($3, l, ","); split($4, r, ","); for (i = 1; i <= n; i++) print o[i], f[i], l[i], r[i] }'
}

# frames_like NAME FILTER AWK-CONDITION OP N: the WebSocket frames of the TCP
# frames matching FILTER for which AWK-CONDITION holds ($1 opcode, $2 FIN,
# $3 length, $4 the RSV bits: 0x04 is RSV1, compressed), counted
frames_like() {
	local n
	n=$(wsframes "$1" "$2" | awk "$3" | wc -l)
	if ! [ "$n" -"$4" "$5" ]; then
		echo "$PROG: $1.pcapng: $n WebSocket frames in '$2' with $3, want -$4 $5" >&2
		return 1
	fi
}

# received NAME TYPE...: the packets of these types the clients of a sample
# received, by the ground truth
received() {
	local name=$1
	shift
	awk -F'\t' -v s="$name" -v types="$*" '
		BEGIN { split(types, t, " ") }
		$1 == s { n = split($5, parts, ", "); for (i = 1; i <= n; i++) { split(parts[i], kv, " "); for (j in t) if (kv[1] == t[j]) sum += kv[2] } }
		END { print sum + 0 }' "$TRUTH"
}

check_sample() {
	local name=$1 f bad=0 m p n
	f=$OUT/$name.pcapng
	p=$(port "$name")
	[ -s "$f" ] || { echo "$PROG: $f missing" >&2; return 1; }
	grep -q "^$name	" "$TRUTH" 2>/dev/null || { echo "$PROG: no ground truth for $name in $TRUTH" >&2; return 1; }
	m=$(tsk "$name" -Y '_ws.malformed' -T fields -e frame.number | wc -l)
	if [ "$m" -ne 0 ]; then echo "$PROG: $f: $m malformed frames (tshark)" >&2; bad=1; fi
	case $name in
	ws-plain)
		ws_checks "$name" 4 || bad=1
		# each CONNACK and PUBLISH a client received is a Binary frame of 1 byte
		# without FIN, a Ping, Continuation frames of 2 bytes and of the rest, an
		# empty Continuation with FIN; each Ping gets its Pong
		n=$(received "$name" CONNACK PUBLISH)
		frames_like "$name" "tcp.srcport == $p" '$1 == 2 && $2 == 0 && $3 == 1' eq "$n" || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 0' eq $((3 * n)) || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 0 && $2 == 1 && $3 == 0' eq "$n" || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 9' eq "$n" || bad=1
		frames_like "$name" "tcp.dstport == $p" '$1 == 10' eq "$n" || bad=1
		# the CONNECT in two frames (1 byte, then the rest), and wsmqtt.py's wsping
		frames_like "$name" "tcp.dstport == $p" '$1 == 2 && $2 == 0' eq 1 || bad=1
		frames_like "$name" "tcp.dstport == $p" '$1 == 9' eq 1 || bad=1
		# every connection closed with Close frames both ways
		frames_like "$name" "tcp.dstport == $p" '$1 == 8' eq 4 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 8' eq 4 || bad=1
		;;
	ws-deflate)
		ws_checks "$name" 2 || bad=1
		# every message of the clients compressed, and the broker's PUBLISH of
		# the JSON readings (the bridge compresses from 128 bytes, 512 without
		# context takeover)
		frames_like "$name" "tcp.dstport == $p" '$1 == 2 && $4 != "0x04"' eq 0 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 2 && $4 == "0x04"' eq 6 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 2 && $4 == "0x00"' ge 10 || bad=1
		# the CONNECT in two compressed frames
		expect "$name" "tcp.dstport == $p && websocket.opcode == 2 && websocket.fin == 0 && websocket.pmc == 1" eq 1 || bad=1
		expect "$name" 'http.response.code == 101 && http.sec_websocket_extensions == "permessage-deflate"' eq 1 || bad=1
		expect "$name" 'http.response.code == 101 && http.sec_websocket_extensions contains "client_no_context_takeover; server_no_context_takeover"' eq 1 || bad=1
		expect "$name" 'websocket.decompression.failed.expert' eq 0 || bad=1
		;;
	wss-lab)
		ws_checks "$name" 3 || bad=1
		n=$(received "$name" PUBLISH)
		frames_like "$name" "tcp.srcport == $p" '$1 == 2 && $2 == 0 && $3 == 1' eq "$n" || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 0' eq $((3 * n)) || bad=1
		# the Go requester closes with a Close frame, paho-mqtt closes the TCP
		# connection without one; the bridge answers the first and, for the
		# second, sends one only if it hears from the broker (which closes
		# after DISCONNECT) before the client's FIN
		frames_like "$name" "tcp.dstport == $p" '$1 == 8' eq 2 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 8' ge 2 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 8' le 3 || bad=1
		# nothing in clear without the key log
		if [ "$(tshark_q -r "$f" -otls.keylog_file: -Y 'http || websocket' -T fields -e frame.number | wc -l)" -ne 0 ]; then
			echo "$PROG: $f: HTTP or WebSocket visible without the key log" >&2
			bad=1
		fi
		expect "$name" 'tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304' eq 3 || bad=1
		expect_keys "$OUT/keys/$name/requester" 2 || bad=1
		;;
	ws-midstream)
		expect "$name" 'http' eq 0 || bad=1
		expect "$name" "websocket && tcp.dstport == $p && websocket.mask == 0" eq 0 || bad=1
		expect "$name" "websocket && tcp.srcport == $p && websocket.mask == 1" eq 0 || bad=1
		frames_like "$name" "tcp.dstport == $p" '$1 == 8' eq 1 || bad=1
		frames_like "$name" "tcp.srcport == $p" '$1 == 8' eq 1 || bad=1
		streams "$name" || bad=1
		;;
	ws-subprotocol)
		ws_checks "$name" 2 || bad=1
		expect "$name" 'http.request.method == "GET" && http.sec_websocket_protocol == "chat"' eq 1 || bad=1
		expect "$name" 'http.response.code == 101 && http.sec_websocket_protocol == "chat"' eq 1 || bad=1
		expect "$name" 'http.sec_websocket_protocol' eq 2 || bad=1
		;;
	esac
	printf '%-22s %s\n' "$name.pcapng" "$(tsk "$name" -Y websocket -T fields -e websocket.opcode | tr ',' '\n' |
		awk -v frames="$(capinfos -c -M "$f" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')" '
		{ c[$1]++; t++ }
		END { printf "frames %d, WebSocket frames %d: Continuation %d, Binary %d, Close %d, Ping %d, Pong %d\n", frames, t, c[0], c[2], c[8], c[9], c[10] }')"
	return $bad
}

check_all() {
	local rc=0 n
	for n in "${WANT[@]}"; do check_sample "$n" || rc=1; done
	"$PY" "$CHECKER" --readme "$TRUTH" "$OUT/README.md" || rc=1
	return $rc
}

check_mode

# ---------------------------------------------------------------- setup
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for t in mosquitto mosquitto_pub openssl dumpcap ip ss; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto mosquitto-clients openssl tshark iproute2)"
done
"$PY" -c 'import paho.mqtt.client, cryptography, websockets.client' 2>/dev/null ||
	die "$PY cannot import paho.mqtt, cryptography and websockets (apt-get install python3-paho-mqtt python3-cryptography python3-websockets)"

samples_work
build_mqtap
log "building mqtap-wsbridge"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/mqtap-wsbridge" ./cmd/mqtap-wsbridge)
BRIDGE=$WORK/mqtap-wsbridge
samples_netns

# ---------------------------------------------------------------- parts
start_broker() {
	local name=$1 conf=$WORK/$1.conf
	cat >"$conf" <<-EOF
		listener $BROKER 127.0.0.1
		allow_anonymous true
		persistence false
		user root
		log_dest file $WORK/$name-broker.log
		log_type all
	EOF
	run_broker "$name" "$conf" "$BROKER"
}

# start_bridge NAME ARGS...: the bridge on the sample's port, in front of the broker
BRIDGE_PID=
start_bridge() {
	local name=$1 logf=$WORK/$1-bridge.log
	shift
	ip netns exec "$NS" "$BRIDGE" --broker "127.0.0.1:$BROKER" --listen "127.0.0.1:$(port "$name")" \
		--counts "$WORK/$name-counts.tsv" "$@" >"$logf" 2>&1 &
	BRIDGE_PID=$!
	PIDS+=("$BRIDGE_PID")
	wait_for "$logf" "listening on"
}

# stop_bridge: SIGINT; it writes its counts
stop_bridge() {
	kill -INT "$BRIDGE_PID" 2>/dev/null || true
	wait "$BRIDGE_PID" || die "the bridge failed: $(tail -3 "$WORK"/*-bridge.log)"
	forget_pid "$BRIDGE_PID"
}

# wsc NAME ARGS...: scripts/wsmqtt.py in the namespace, its log appended to $WORK/NAME-wsc.log
wsc() {
	local name=$1
	shift
	echo "+ wsmqtt.py $*" >>"$WORK/$name-wsc.log"
	nsx "$PY" "$WSC" "$@" 2>>"$WORK/$name-wsc.log" || die "$name: wsmqtt.py $* failed: $(tail -3 "$WORK/$name-wsc.log")"
}

# what NAME CLIENT-ID TEXT: describes a client in the ground truth
what() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/what.tsv"; }

# truth NAME: the bridge's counts of the sample's connections into the ground truth
truth() {
	local name=$1
	awk -F'\t' -v s="$name" -v wf="$WORK/what.tsv" '
		BEGIN { while ((getline l < wf) > 0) { split(l, f, "\t"); if (f[1] == s) w[f[2]] = f[3] } }
		{ printf "%s\t%s\t%s\t%s\t%s\n", s, $3, ($3 in w ? w[$3] : "?"), $6, $7 }' "$WORK/$name-counts.tsv" >>"$WORK/truth.tsv"
}

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
WS=ws://127.0.0.1:8080/mqtt

# ws-plain: port 8080; the bridge cuts every CONNACK and PUBLISH of the broker
# after its first byte and two more (Binary without FIN, Continuation frames,
# an empty Continuation with FIN), with a Ping between the first two
# fragments, and joins the other packets mosquitto sends together. The Go lab
# peers (MQTT 5) run one key exchange (keys/ws-plain); wsmqtt.py clients
# without compression, MQTT 5 (its CONNECT in two frames, the first of one
# byte) and MQTT 3.1.1, subscribe, publish at QoS 0 and 1, ping, pipeline
# three PINGREQs in one message (their PINGRESPs come joined).
sample_plain() {
	local name=ws-plain k=$WORK/keys/ws-plain r
	: >"$WORK/requests.log"
	start_broker "$name"
	start_bridge "$name" --split CONNACK,PUBLISH --cuts 1,2 --ping --join
	start_capture "$WORK/$name.pcapng" "tcp port 8080"
	H=(--url "$WS")
	go_respond_bg "$name-go.log" le0nh4rt --client-id responder-go --count 1 --save-keys "$k/responder"
	r=$RESP_PID
	go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" -v ||
		die "$name: request failed: $(cat "$WORK/requests.log")"
	resp_wait "$r"
	what "$name" responder-go "mqtap lab respond (paho.golang, MQTT 5)"
	what "$name" le0nh4rt "mqtap lab request (paho.golang, MQTT 5)"
	wsc "$name" "$WS" --compression none --split-connect 1 --client-id ws-client-5 \
		sub:capteurs/#:1 pub:capteurs/salle-1:0:21.5 "pub:capteurs/salle-2:1:22.0 °C" recv:2 ping pings:3 wsping
	what "$name" ws-client-5 "wsmqtt.py, MQTT 5, no compression, CONNECT in two frames"
	wsc "$name" "$WS" --compression none --protocol 3.1.1 --client-id ws-client-311 \
		sub:capteurs/#:0 "pub:capteurs/salle-3:1:23.0 °C" recv:1 ping pings:3
	what "$name" ws-client-311 "wsmqtt.py, MQTT 3.1.1, no compression"
	stop_capture
	stop_bridge
	stop_broker
	truth "$name"
	install_sample "$name"
}

# ws-deflate: port 9001, the bridge accepts permessage-deflate (coder/websocket
# compresses its messages of 128 bytes and more, 512 without context
# takeover); wsmqtt.py compresses everything it sends: MQTT 5 with context
# takeover (and its CONNECT in two compressed frames), MQTT 3.1.1 with
# client_no_context_takeover and server_no_context_takeover. Both publish the
# same JSON readings three times (later messages compress against earlier
# ones when the context is kept) and get them back.
sample_deflate() {
	local name=ws-deflate url=ws://127.0.0.1:9001/mqtt
	start_broker "$name"
	start_bridge "$name" --compression context-takeover
	start_capture "$WORK/$name.pcapng" "tcp port 9001"
	wsc "$name" "$url" --client-id deflate-ctx --split-connect 4 \
		sub:capteurs/#:1 json:capteurs/salle-1:1:20 json:capteurs/salle-1:1:20 json:capteurs/salle-1:1:20 \
		"pub:capteurs/salle-2:0:22.0 °C" recv:4 ping
	what "$name" deflate-ctx "wsmqtt.py, MQTT 5, permessage-deflate with context takeover, CONNECT in two frames"
	wsc "$name" "$url" --client-id deflate-noctx --protocol 3.1.1 --compression no-context-takeover \
		sub:capteurs/#:1 json:capteurs/salle-3:1:20 json:capteurs/salle-3:1:20 json:capteurs/salle-3:1:20 recv:3 ping
	what "$name" deflate-noctx "wsmqtt.py, MQTT 3.1.1, permessage-deflate without context takeover"
	stop_capture
	stop_bridge
	stop_broker
	truth "$name"
	install_sample "$name"
}

# wss-lab: port 8081, TLS 1.3 with a certificate of a fresh CA (ECDSA P-256);
# the bridge cuts the broker's PUBLISH after its first byte and two more. The
# Python responder (paho-mqtt, MQTT 3.1.1) and two runs of the Go requester
# (MQTT 5) write their key logs (merged into keys/wss-lab/tls.keylog) and
# their DH keys, so TLS, WebSocket, MQTT and the lab's Fernet layer all
# decrypt.
sample_wss() {
	local name=wss-lab k=$WORK/keys/wss-lab r url=wss://127.0.0.1:8081/mqtt
	: >"$WORK/requests.log"
	mkdir -p "$k"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k/ca-key.pem" 2>/dev/null
	openssl req -x509 -new -key "$k/ca-key.pem" -sha256 -days 3650 -subj "/O=mqtap samples/CN=mqtap sample CA wss-lab" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$k/ca.pem" 2>/dev/null
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/server-key.pem" 2>/dev/null
	openssl req -new -key "$WORK/server-key.pem" -subj "/O=mqtap samples/CN=localhost" -out "$WORK/server.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/server.ext"
	openssl x509 -req -in "$WORK/server.csr" -CA "$k/ca.pem" -CAkey "$k/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
		-sha256 -days 3650 -extfile "$WORK/server.ext" -out "$k/server.pem" 2>/dev/null
	rm -f "$k/ca-key.pem"
	start_broker "$name"
	start_bridge "$name" --cert "$k/server.pem" --key "$WORK/server-key.pem" --split PUBLISH --cuts 1,2
	start_capture "$WORK/$name.pcapng" "tcp port 8081"
	H=(--host 127.0.0.1 --port 8081 --transport websockets --tls --cafile "$k/ca.pem")
	py_respond_bg "$name-py.log" le0nh4rt --client-id responder-py --count 2 --keylog "$k/responder.keylog"
	r=$RESP_PID
	H=(--url "$url" --cafile "$k/ca.pem")
	go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" \
		--keylog "$k/requester.keylog" -v || die "$name: request failed: $(cat "$WORK/requests.log")"
	sleep 0.3
	go_request le0nh4rt reverse "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" \
		--keylog "$k/requester.keylog" -v || die "$name: request failed: $(cat "$WORK/requests.log")"
	resp_wait "$r"
	log "$name: responder: $(head -1 "$WORK/$name-py.log")"
	what "$name" responder-py "labpeer.py respond (paho-mqtt 1.6 WebSocket transport, MQTT 3.1.1)"
	what "$name" le0nh4rt "mqtap lab request (paho.golang, MQTT 5), two runs"
	stop_capture
	stop_bridge
	stop_broker
	{
		echo "# wss-lab: the key logs of the Python responder (labpeer.py --keylog, 1 connection) and the Go requester (mqtap lab request --keylog, 2 connections)"
		grep -hv '^#' "$k/responder.keylog" "$k/requester.keylog"
	} >"$k/tls.keylog"
	rm -f "$k/responder.keylog" "$k/requester.keylog"
	{
		echo "# mqtap keyring (see ../../README.md): the lab's DH keys and the TLS secrets"
		echo "[[dh]]"
		echo 'private_keys = ["requester/*.pem"]'
		echo
		echo "[tls]"
		echo 'keylog = ["tls.keylog"]'
		echo 'cafile = "ca.pem"'
	} >"$k/keyring.toml"
	truth "$name"
	install_sample "$name"
}

# ws-midstream: port 8080, no compression; a wsmqtt.py subscriber (MQTT 5)
# connects and subscribes before the capture starts (no HTTP upgrade, no
# CONNECT in the capture), then receives six messages that mosquitto_pub
# publishes on the broker's plain port (QoS 0 and 1: it acknowledges the
# QoS 1 ones), pings, and disconnects. The ground truth is what the client
# counted after the capture started.
sample_midstream() {
	local name=ws-midstream go=$WORK/midstream.go sub i
	: >"$WORK/$name-wsc.log"
	start_broker "$name"
	start_bridge "$name"
	ip netns exec "$NS" "$PY" "$WSC" "$WS" --compression none --client-id abonne-ws --keepalive 30 \
		sub:capteurs/#:1 "wait-file:$go" recv:6 ping pings:2 2>>"$WORK/$name-wsc.log" &
	sub=$!
	PIDS+=("$sub")
	wait_for "$WORK/$name-wsc.log" "waiting for"
	start_capture "$WORK/$name.pcapng" "tcp port 8080"
	touch "$go"
	wait_for "$WORK/$name-wsc.log" "go: $go appeared"
	for i in 1 2 3 4 5 6; do
		nsx mosquitto_pub -h 127.0.0.1 -p "$BROKER" -i "capteur-$i" -t "capteurs/salle-$i" -m "$((19 + i)).5 °C" -q $((i % 2)) ||
			die "$name: mosquitto_pub failed"
	done
	wait "$sub" || die "$name: the subscriber failed: $(tail -3 "$WORK/$name-wsc.log")"
	forget_pid "$sub"
	stop_capture
	stop_bridge
	stop_broker
	sed -n 's/^summary after [^:]*: sent \(.*\); received \(.*\)$/\1\t\2/p' "$WORK/$name-wsc.log" |
		awk -F'\t' -v s="$name" '{ printf "%s\tabonne-ws\twsmqtt.py, MQTT 5, no compression, subscribed before the capture\t%s\t%s\n", s, $1, $2 }' >>"$WORK/truth.tsv"
	install_sample "$name"
}

# ws-subprotocol: port 8080, the bridge chooses "chat" when it is offered and
# no subprotocol otherwise: wsmqtt.py offering only "chat" (MQTT 5) and
# offering none (MQTT 3.1.1) both carry MQTT anyway.
sample_subprotocol() {
	local name=ws-subprotocol
	start_broker "$name"
	start_bridge "$name" --subprotocols chat
	start_capture "$WORK/$name.pcapng" "tcp port 8080"
	wsc "$name" "$WS" --compression none --subprotocol chat --client-id chat-5 \
		sub:capteurs/#:1 "pub:capteurs/salle-1:1:21.5 °C" recv:1 ping
	what "$name" chat-5 "wsmqtt.py, MQTT 5, subprotocol chat offered and chosen"
	wsc "$name" "$WS" --compression none --no-subprotocol --protocol 3.1.1 --client-id none-311 \
		sub:capteurs/#:0 "pub:capteurs/salle-2:0:22.0 °C" recv:1 ping
	what "$name" none-311 "wsmqtt.py, MQTT 3.1.1, no subprotocol offered nor chosen"
	stop_capture
	stop_bridge
	stop_broker
	truth "$name"
	install_sample "$name"
}

: >"$WORK/what.tsv"
: >"$WORK/truth.tsv"
for n in "${WANT[@]}"; do
	log "$n"
	case $n in
	ws-plain) sample_plain ;;
	ws-deflate) sample_deflate ;;
	wss-lab) sample_wss ;;
	ws-midstream) sample_midstream ;;
	ws-subprotocol) sample_subprotocol ;;
	esac
	log "$n: bridge:"
	sed 's/^/   /' "$WORK/$n-bridge.log" >&2
done

# the ground truth: the samples made now replace their lines, the others stay,
# in the order of SAMPLES
{
	if [ -f "$TRUTH" ]; then
		grep -v '^#' "$TRUTH" | awk -F'\t' -v made="${WANT[*]}" 'BEGIN { split(made, m, " "); for (i in m) skip[m[i]] = 1 } !($1 in skip)'
	fi
	cat "$WORK/truth.tsv"
} | awk -v order="${SAMPLES[*]}" -F'\t' '
	BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i }
	{ printf "%d\t%d\t%s\n", rank[$1], NR, $0 }' | sort -t'	' -k1,1n -k2,2n | cut -f3- >"$WORK/truth.sorted"
{
	printf '# sample\tclient\twhat\tsent\treceived (MQTT packets by type, counted by the bridge that relayed them; see README.md)\n'
	cat "$WORK/truth.sorted"
} >"$TRUTH"
"$PY" "$CHECKER" --write-readme "$TRUTH" "$OUT/README.md"
log "checking with tshark"
check_all

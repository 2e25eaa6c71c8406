#!/usr/bin/env bash
# make-tls-samples.sh: MQTT over TLS samples (the TLS lab: mosquitto's 8883
# listener, certificate verification, and clients that skip it) with the
# secure MQTT lab's traffic inside, made by the project's own lab peers (the
# Go one, `mqtap lab request|respond`, and scripts/labpeer.py) and by
# mosquitto_pub/mosquitto_sub; see README.md in this directory.
#
#   sudo pcaps/samples/make-tls-samples.sh                      # every TLS sample
#   sudo pcaps/samples/make-tls-samples.sh tls12-lab tls13-lab  # only these
#   pcaps/samples/make-tls-samples.sh --check                   # verify + count, no capture
#   sudo pcaps/samples/make-tls-samples.sh -o /tmp/out          # write somewhere else
#
# As make-lab-samples.sh: everything runs inside a private network namespace
# (created and deleted here) whose loopback has MTU 1500 and gso_max_segs 1
# (segments of at most 1448 bytes, as on Ethernet); each sample gets its own
# mosquitto with a TLS listener on 127.0.0.1:8883 and a certificate made here
# with openssl (a fresh test CA per sample, or a self-signed certificate),
# and is captured on lo with dumpcap (pcapng; tcpdump cannot write pcapng).
# The Go peer is built from this checkout unless MQTAP_BIN names a binary.
# The peers write their TLS secrets with --keylog (NSS key log format); the
# two key logs of a sample are merged into keys/<sample>/tls.keylog. Every
# run makes new certificates, keys and ciphertexts: regenerate a capture and
# its keys/ directory together (the script does). Needs root, Go, mosquitto
# and mosquitto-clients, openssl, tshark (dumpcap, capinfos), iproute2, and
# /usr/bin/python3 with python3-cryptography and python3-paho-mqtt.
# Idempotent: existing TLS samples and their keys are replaced.
set -euo pipefail

SAMPLES=(tls12-lab tls13-lab tls12-cbc tls-selfsigned)
PORT=8883 # tshark dissects tls.port 8883 as MQTT over TLS by default

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PEER=$ROOT/scripts/labpeer.py
PROG=make-tls-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"


# ---------------------------------------------------------------- checking

# keyopt NAME: tshark's key log option for a sample (none for tls-selfsigned)
keyopt() {
	local k=$OUT/keys/$1/tls.keylog
	if [ -f "$k" ]; then echo "-otls.keylog_file:$k"; else echo "-otls.keylog_file:"; fi
}


# tls_line FILE: per TCP stream, the negotiated version and suite (ServerHello), "+etm" when the
# server accepted encrypt_then_mac, and the alerts seen in clear (TLS 1.2 handshakes)
tls_line() {
	tshark_q -r "$1" -otls.keylog_file: -Y 'tls.handshake.type == 2 || tls.alert_message.desc' -T fields \
		-e tcp.stream -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite \
		-e tls.handshake.extension.type -e tls.alert_message.desc -e tcp.srcport |
		awk -F'\t' -v port=$PORT '
		BEGIN {
			cs["0xc02b"] = "ECDHE-ECDSA-AES128-GCM-SHA256"; cs["0xc02c"] = "ECDHE-ECDSA-AES256-GCM-SHA384"
			cs["0x1303"] = "TLS_CHACHA20_POLY1305_SHA256"; cs["0x1301"] = "TLS_AES_128_GCM_SHA256"
			cs["0x002f"] = "AES128-SHA (RSA key exchange)"; cs["0xc028"] = "ECDHE-RSA-AES256-SHA384"
			cs["0xc013"] = "ECDHE-RSA-AES128-SHA"
			al["42"] = "bad_certificate"; al["48"] = "unknown_ca"; al["80"] = "internal_error"; al["46"] = "certificate_unknown"
		}
		$3 != "" {
			v = ($2 == "0x0304") ? "TLS 1.3" : "TLS 1.2"
			n = ($3 in cs) ? cs[$3] : $3
			etm = ($4 ~ /(^|,)22(,|$)/) ? ", encrypt-then-MAC" : ""
			s[$1] = s[$1] sprintf(" %s %s (%s)%s", v, n, $3, etm)
		}
		$5 != "" { s[$1] = s[$1] sprintf("; %s alert %s (%s)", ($6 == port ? "server" : "client"), ($5 in al) ? al[$5] : "?", $5) }
		END { for (k in s) printf "stream %s:%s\n", k, s[k] }' | sort -n -k2 >"$WORK_CHECK/tls"
	# records of (outer) type application_data sent by the client; in TLS 1.3 the client's
	# encrypted Finished is one of them
	tshark_q -r "$1" -otls.keylog_file: -Y 'tls.record.content_type == 23 || tls.record.opaque_type == 23' -T fields \
		-e tcp.stream -e tcp.srcport -e tls.record.content_type -e tls.record.opaque_type |
		awk -F'\t' -v port=$PORT '$2 != port { n[$1] += gsub(/23/, "", $3) + gsub(/23/, "", $4) } END { for (k in n) printf "%s %d\n", k, n[k] }' >"$WORK_CHECK/app"
	awk -v appf="$WORK_CHECK/app" '
		BEGIN { while ((getline l < appf) > 0) { split(l, f, " "); app[f[1]] = f[2] } }
		{ k = $2; sub(/:$/, "", k); print $0 "; client application data records: " (k in app ? app[k] : 0) }' "$WORK_CHECK/tls"
}

# publishes FILE NAME TOPIC-REGEX: number of decrypted PUBLISH packets on matching topics
publishes() {
	tshark_q -r "$1" "$(keyopt "$2")" -Y 'mqtt.msgtype == 3' -T fields -e mqtt.topic | tr ',' '\n' | grep -cE "$3" || true
}

# expect_pub FILE NAME TOPIC-REGEX N
expect_pub() {
	local n
	n=$(publishes "$1" "$2" "$3")
	if [ "$n" -ne "$4" ]; then
		echo "make-tls-samples: $(basename "$1"): $n PUBLISH on $3, want $4" >&2
		return 1
	fi
}

# expect_count FILE NAME FILTER N: N frames match the display filter
expect_count() {
	local n
	n=$(tshark_q -r "$1" "$(keyopt "$2")" -Y "$3" -T fields -e frame.number | wc -l)
	if [ "$n" -ne "$4" ]; then
		echo "make-tls-samples: $(basename "$1"): $n frames match '$3', want $4" >&2
		return 1
	fi
}

# expect_msgs FILE NAME N: N MQTT control packets decrypted (several may share a frame)
expect_msgs() {
	local n
	n=$(tshark_q -r "$1" "$(keyopt "$2")" -Y mqtt -T fields -e mqtt.msgtype | tr ',' '\n' | grep -c . || true)
	if [ "$n" -ne "$3" ]; then
		echo "make-tls-samples: $(basename "$1"): $n MQTT messages, want $3" >&2
		return 1
	fi
}

# expect_keylog NAME LABEL N: N lines of LABEL in keys/NAME/tls.keylog
expect_keylog() {
	local n
	n=$(grep -c "^$2 " "$OUT/keys/$1/tls.keylog" || true)
	if [ "$n" -ne "$3" ]; then
		echo "make-tls-samples: keys/$1/tls.keylog: $n $2 lines, want $3" >&2
		return 1
	fi
}


# lab_checks FILE NAME: the 47 MQTT messages of two lab exchanges (one responder connection,
# two requester connections), all decrypted
lab_checks() {
	local f=$1 name=$2 bad=0
	expect_pub "$f" "$name" '^le0nh4rt/key-exchange/(request|response)$' 8 || bad=1
	expect_pub "$f" "$name" '^le0nh4rt/[a-z-]+/(request|response)$' 16 || bad=1
	expect_count "$f" "$name" 'mqtt.msgtype == 1' 3 || bad=1
	expect_count "$f" "$name" 'mqtt.msgtype == 14' 3 || bad=1
	# 47 MQTT messages with the key log (all of them: a record that does not decrypt would
	# lose some), none without it (the traffic really is encrypted)
	expect_msgs "$f" "$name" 47 || bad=1
	if [ "$(tshark_q -r "$f" -otls.keylog_file: -Y mqtt -T fields -e frame.number | wc -l)" -ne 0 ]; then
		echo "make-tls-samples: $(basename "$f"): MQTT visible without the key log" >&2
		bad=1
	fi
	expect_keys "$OUT/keys/$name/requester" 2 || bad=1
	return $bad
}

check_sample() {
	local name=$1 f bad=0 m
	f=$OUT/$name.pcapng
	[ -s "$f" ] || { echo "make-tls-samples: $f missing" >&2; return 1; }
	m=$(tshark_q -r "$f" "$(keyopt "$name")" -Y '_ws.malformed || _ws.expert.severity >= "error"' -T fields -e frame.number | wc -l)
	if [ "$m" -ne 0 ]; then echo "make-tls-samples: $f: $m malformed or erroneous frames (tshark)" >&2; bad=1; fi
	case $name in
	tls12-lab)
		lab_checks "$f" "$name" || bad=1
		expect_count "$f" "$name" 'tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc02b' 3 || bad=1
		expect_keylog "$name" CLIENT_RANDOM 3 || bad=1
		;;
	tls13-lab)
		lab_checks "$f" "$name" || bad=1
		expect_count "$f" "$name" 'tls.handshake.type == 2 && tls.handshake.ciphersuite == 0x1303' 3 || bad=1
		expect_keylog "$name" CLIENT_TRAFFIC_SECRET_0 3 || bad=1
		expect_keylog "$name" SERVER_HANDSHAKE_TRAFFIC_SECRET 3 || bad=1
		;;
	tls12-cbc)
		lab_checks "$f" "$name" || bad=1
		# ECDHE-RSA-AES256-SHA384 and AES128-SHA with encrypt-then-MAC (OpenSSL clients),
		# TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA with MAC-then-encrypt (Go offers no EtM)
		expect_count "$f" "$name" 'tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc028 && tls.handshake.extension.type == 22' 1 || bad=1
		expect_count "$f" "$name" 'tls.handshake.type == 2 && tls.handshake.ciphersuite == 0x002f && tls.handshake.extension.type == 22' 1 || bad=1
		expect_count "$f" "$name" 'tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc013 && !(tls.handshake.extension.type == 22)' 1 || bad=1
		expect_keylog "$name" CLIENT_RANDOM 3 || bad=1
		;;
	tls-selfsigned)
		# nothing decrypts; the certificate and the alerts are in clear (TLS 1.2)
		expect_count "$f" "$name" 'mqtt' 0 || bad=1
		expect_count "$f" "$name" 'tls.handshake.type == 11' 5 || bad=1
		expect_count "$f" "$name" 'tls.alert_message.desc == 42' 1 || bad=1 # Go: bad_certificate
		expect_count "$f" "$name" 'tls.alert_message.desc == 48' 1 || bad=1 # Python: unknown_ca
		expect_count "$f" "$name" 'tls.alert_message.desc == 80' 1 || bad=1 # mosquitto_pub, name check: internal_error
		;;
	esac
	printf '%-22s %s\n' "$name.pcapng" "$(count_line "$f" "$(keyopt "$name")")"
	tls_line "$f" | sed 's/^/    /'
	return $bad
}

check_all() {
	local rc=0 n
	WORK_CHECK=$(mktemp -d /tmp/mqtap-tls-check.XXXXXX)
	for n in "${WANT[@]}"; do check_sample "$n" || rc=1; done
	rm -rf "$WORK_CHECK"
	return $rc
}

command -v tshark >/dev/null || die "tshark is missing (apt-get install tshark)"
command -v capinfos >/dev/null || die "capinfos is missing (apt-get install tshark)"
if [ $CHECK_ONLY = 1 ]; then
	check_all
	exit
fi

# ---------------------------------------------------------------- setup
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for t in mosquitto mosquitto_pub mosquitto_sub openssl dumpcap ip ss; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto mosquitto-clients openssl tshark iproute2)"
done
"$PY" -c 'import paho.mqtt.client, cryptography' 2>/dev/null ||
	die "$PY cannot import paho.mqtt and cryptography (apt-get install python3-paho-mqtt python3-cryptography, or set MQTAP_PYTHON)"

samples_work

build_mqtap

samples_netns



# ---------------------------------------------------------------- certificates
# Long validity (10 years) so that the samples' certificates stay valid.
DAYS=3650
SUBJ_O="/O=mqtap samples"

# newkey TYPE FILE: ecdsa (P-256) or rsa (2048 bits), PKCS#8 PEM
newkey() {
	case $1 in
	ecdsa) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" 2>/dev/null ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" 2>/dev/null ;;
	esac
}

# make_ca DIR TYPE CN: DIR/ca.pem, DIR/ca-key.pem
make_ca() {
	local d=$1
	mkdir -p "$d"
	newkey "$2" "$d/ca-key.pem"
	openssl req -x509 -new -key "$d/ca-key.pem" -sha256 -days $DAYS -subj "$SUBJ_O/CN=$3" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$d/ca.pem" 2>/dev/null
}

# make_server DIR TYPE: DIR/server.pem (CN localhost, SAN localhost, 127.0.0.1) signed by DIR/ca.pem
make_server() {
	local d=$1 ku=digitalSignature
	[ "$2" = rsa ] && ku=digitalSignature,keyEncipherment # RSA key exchange (AES128-SHA)
	newkey "$2" "$d/server-key.pem"
	openssl req -new -key "$d/server-key.pem" -subj "$SUBJ_O/CN=localhost" -out "$d/server.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' "$ku" >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
		-sha256 -days $DAYS -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
	rm -f "$d/server.csr" "$d/server.ext"
}

# make_selfsigned DIR TYPE NAME: DIR/server.pem self-signed for NAME only (as `openssl req -x509` does: CA:TRUE)
make_selfsigned() {
	local d=$1
	mkdir -p "$d"
	newkey "$2" "$d/server-key.pem"
	openssl req -x509 -new -key "$d/server-key.pem" -sha256 -days $DAYS -subj "$SUBJ_O/CN=$3" \
		-addext "subjectAltName=DNS:$3" -out "$d/server.pem" 2>/dev/null
}

# ---------------------------------------------------------------- broker and capture
# start_broker NAME CERTDIR EXTRA-CONFIG [OPENSSL_CONF]
start_broker() {
	local name=$1 d=$2 conf=$WORK/$1.conf
	{
		echo "listener $PORT 127.0.0.1"
		echo "certfile $d/server.pem"
		echo "keyfile $d/server-key.pem"
		printf '%s' "$3"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "user root"
		echo "log_dest file $WORK/$name-broker.log"
		echo "log_type all"
	} >"$conf"
	if [ -n "${4:-}" ]; then
		run_broker "$name" "$conf" "$PORT" OPENSSL_CONF="$4"
	else
		run_broker "$name" "$conf" "$PORT"
	fi
}

# ---------------------------------------------------------------- peers
# Every one talks to 127.0.0.1:8883 (not localhost: no ::1 attempt in the capture);
# the certificates carry IP:127.0.0.1.
H=(--host 127.0.0.1 --port "$PORT")

# merge_keylogs OUT COMMENT FILE...: the peers' key logs in one NSS key log file
merge_keylogs() {
	local out=$1 comment=$2
	shift 2
	{
		echo "# $comment"
		grep -hv '^#' "$@"
	} >"$out"
	rm -f "$@"
}

# keyring DIR WITH-DH: keyring.toml for mqtap --keys
keyring() {
	{
		echo "# mqtap keyring (see ../../README.md): the lab's DH keys and the TLS secrets"
		if [ "$2" = dh ]; then
			echo "[[dh]]"
			echo 'private_keys = ["requester/*.pem"]'
			echo
		fi
		echo "[tls]"
		echo 'keylog = ["tls.keylog"]'
		echo 'cafile = "ca.pem"'
	} >"$1/keyring.toml"
}

install_sample() {
	local name=$1
	install -m 0644 "$WORK/$name.pcapng" "$OUT/$name.pcapng"
	rm -rf "$OUT/keys/$name"
	mkdir -p "$OUT/keys"
	cp -r "$WORK/keys/$name" "$OUT/keys/$name"
	find "$OUT/keys/$name" -type d -exec chmod 0755 {} +
	find "$OUT/keys/$name" -type f -exec chmod 0644 {} +
}

# lab_session NAME CERTDIR 'REQUESTER-ARGS' 'RESPONDER-ARGS': the Python responder and two Go requester
# runs (uppercase, then reverse: two connections, two key exchanges), each peer with its key log
lab_session() {
	local name=$1 k=$WORK/keys/$1 r
	local -a rq rs
	read -r -a rq <<<"$3"
	read -r -a rs <<<"$4"
	py_respond_bg "$name-py.log" le0nh4rt --client-id responder-py --count 2 \
		--tls --cafile "$k/ca.pem" --keylog "$k/responder.keylog" "${rs[@]}"
	r=$RESP_PID
	go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" \
		--tls --cafile "$k/ca.pem" --keylog "$k/requester.keylog" -v "${rq[@]}" ||
		die "$name: request failed: $(cat "$WORK/requests.log")"
	sleep 0.3
	go_request le0nh4rt reverse "Networking is the best!" --client-id le0nh4rt --save-keys "$k/requester" \
		--tls --cafile "$k/ca.pem" --keylog "$k/requester.keylog" -v "${rq[@]}" ||
		die "$name: request failed: $(cat "$WORK/requests.log")"
	resp_wait "$r"
	log "$name: responder: $(head -1 "$WORK/$name-py.log")"
}

# ---------------------------------------------------------------- samples
# tls12-lab: TLS 1.2, ECDSA P-256 server certificate signed by the sample's CA,
# ECDHE-ECDSA-AES128-GCM-SHA256 (the broker allows no other TLS 1.2 suite; the
# peers pin TLS 1.2).
sample_tls12_lab() {
	local k=$WORK/keys/tls12-lab
	: >"$WORK/requests.log"
	make_ca "$k" ecdsa "mqtap sample CA tls12-lab"
	make_server "$k" ecdsa
	start_broker tls12-lab "$k" $'tls_version tlsv1.2\nciphers ECDHE-ECDSA-AES128-GCM-SHA256\n'
	start_capture "$WORK/tls12-lab.pcapng"
	lab_session tls12-lab "$k" "--tls-version 1.2" "--tls-version 1.2"
	stop_capture
	stop_broker
	merge_keylogs "$k/tls.keylog" "tls12-lab: the Go requester's key log (mqtap lab request --keylog, 2 connections) and the Python responder's (labpeer.py respond --keylog, 1 connection)" \
		"$k/requester.keylog" "$k/responder.keylog"
	rm -f "$k/ca-key.pem" "$k/server-key.pem" # ECDHE: the server's key decrypts nothing
	keyring "$k" dh
	install_sample tls12-lab
}

# tls13-lab: TLS 1.3, RSA-2048 server certificate signed by the sample's CA,
# TLS_CHACHA20_POLY1305_SHA256 forced by the broker (ciphers_tls1.3): neither
# Go nor Python can choose a TLS 1.3 suite.
sample_tls13_lab() {
	local k=$WORK/keys/tls13-lab
	: >"$WORK/requests.log"
	make_ca "$k" rsa "mqtap sample CA tls13-lab"
	make_server "$k" rsa
	start_broker tls13-lab "$k" $'tls_version tlsv1.3\nciphers_tls1.3 TLS_CHACHA20_POLY1305_SHA256\n'
	start_capture "$WORK/tls13-lab.pcapng"
	lab_session tls13-lab "$k" "--tls-version 1.3" "--tls-version 1.3"
	stop_capture
	stop_broker
	merge_keylogs "$k/tls.keylog" "tls13-lab: the Go requester's key log (mqtap lab request --keylog, 2 connections) and the Python responder's (labpeer.py respond --keylog, 1 connection)" \
		"$k/requester.keylog" "$k/responder.keylog"
	rm -f "$k/ca-key.pem" "$k/server-key.pem"
	keyring "$k" dh
	install_sample tls13-lab
}

# tls12-cbc: TLS 1.2 CBC suites, RSA-2048 server certificate: the Python
# responder with AES128-SHA (RSA key exchange), a Python requester with
# ECDHE-RSA-AES256-SHA384 (both: OpenSSL offers encrypt_then_mac and mosquitto
# accepts it) and a Go requester with TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (Go
# does not offer encrypt_then_mac: MAC-then-encrypt).
sample_tls12_cbc() {
	local k=$WORK/keys/tls12-cbc r
	: >"$WORK/requests.log"
	make_ca "$k" rsa "mqtap sample CA tls12-cbc"
	make_server "$k" rsa
	start_broker tls12-cbc "$k" ""
	start_capture "$WORK/tls12-cbc.pcapng"
	py_respond_bg tls12-cbc-py.log le0nh4rt --client-id responder-py --count 2 \
		--tls --cafile "$k/ca.pem" --keylog "$k/responder.keylog" --tls-version 1.2 --ciphers AES128-SHA
	r=$RESP_PID
	py_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt-py --save-keys "$k/requester" \
		--tls --cafile "$k/ca.pem" --keylog "$k/requester-py.keylog" --tls-version 1.2 --ciphers ECDHE-RSA-AES256-SHA384 -v ||
		die "tls12-cbc: request failed: $(cat "$WORK/requests.log")"
	sleep 0.3
	go_request le0nh4rt reverse "Networking is the best!" --client-id le0nh4rt-go --save-keys "$k/requester" \
		--tls --cafile "$k/ca.pem" --keylog "$k/requester-go.keylog" --tls-version 1.2 --ciphers TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA -v ||
		die "tls12-cbc: request failed: $(cat "$WORK/requests.log")"
	resp_wait "$r"
	log "tls12-cbc: responder: $(head -1 "$WORK/tls12-cbc-py.log")"
	stop_capture
	stop_broker
	merge_keylogs "$k/tls.keylog" "tls12-cbc: the key logs of the Python responder (AES128-SHA), the Python requester (ECDHE-RSA-AES256-SHA384) and the Go requester (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)" \
		"$k/responder.keylog" "$k/requester-py.keylog" "$k/requester-go.keylog"
	# server-key.pem stays: the AES128-SHA connection (RSA key exchange) also decrypts with it
	rm -f "$k/ca-key.pem"
	keyring "$k" dh
	install_sample tls12-cbc
}

# tls-selfsigned: a broker with a self-signed certificate for
# broker.lab.invalid (as in the TLS lab: the clients connect by address), held to
# TLS 1.2 through OpenSSL's configuration (MaxProtocol; mosquitto 2.0 has no
# maximum and mosquitto_pub's --tls-version is a minimum too) so that the
# certificate and the alerts are visible without keys. Accepting clients:
# mosquitto_sub and mosquitto_pub with --insecure --cafile server.pem (the
# certificate itself as CA, --insecure to skip the name). Rejecting clients: the
# Go peer (bad_certificate), the Python peer (unknown_ca), mosquitto_pub with
# --cafile server.pem but no --insecure (its name check fails: internal_error).
sample_selfsigned() {
	local k=$WORK/keys/tls-selfsigned sub sublog=$WORK/selfsigned-sub.log
	: >"$WORK/requests.log"
	make_selfsigned "$k" ecdsa broker.lab.invalid
	# the CA the deployment should be using, which did not sign the broker's certificate
	make_ca "$k/deployment-ca" ecdsa "mqtap sample deployment CA"
	mv "$k/deployment-ca/ca.pem" "$k/ca.pem"
	rm -rf "$k/deployment-ca"
	cat >"$WORK/openssl-tls12.cnf" <<-EOF
		openssl_conf = mqtap_conf
		[mqtap_conf]
		ssl_conf = mqtap_ssl
		[mqtap_ssl]
		system_default = mqtap_tls12
		[mqtap_tls12]
		MaxProtocol = TLSv1.2
		CipherString = DEFAULT:@SECLEVEL=2
	EOF
	start_broker tls-selfsigned "$k" "" "$WORK/openssl-tls12.cnf"
	start_capture "$WORK/tls-selfsigned.pcapng"
	local -a tlsok=(--cafile "$k/server.pem" --insecure)
	ip netns exec "$NS" mosquitto_sub -h 127.0.0.1 -p $PORT "${tlsok[@]}" -i abonne-tls -t 'capteurs/#' -q 1 -C 3 -v >"$sublog" 2>&1 &
	sub=$!
	PIDS+=("$sub")
	sleep 0.5
	printf '%s\n' "21.5 °C" "22.0 °C" "22.5 °C" |
		nsx mosquitto_pub -h 127.0.0.1 -p $PORT "${tlsok[@]}" -i capteur-tls -t capteurs/température/salle-1 -q 1 -l ||
		die "tls-selfsigned: mosquitto_pub --insecure failed"
	for ((i = 0; i < 100; i++)); do kill -0 "$sub" 2>/dev/null || break; sleep 0.05; done
	wait "$sub" || die "tls-selfsigned: mosquitto_sub failed: $(cat "$sublog")"
	forget_pid "$sub"
	[ "$(wc -l <"$sublog")" -eq 3 ] || die "tls-selfsigned: mosquitto_sub got: $(cat "$sublog")"
	sleep 0.3
	if go_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt-go --tls; then
		die "tls-selfsigned: the Go peer accepted the certificate"
	fi
	sleep 0.3
	if py_request le0nh4rt uppercase "Networking is the best!" --client-id le0nh4rt-py --tls; then
		die "tls-selfsigned: the Python peer accepted the certificate"
	fi
	sleep 0.3
	echo "+ mosquitto_pub --cafile server.pem (no --insecure)" >>"$WORK/requests.log"
	if nsx mosquitto_pub -h 127.0.0.1 -p $PORT --cafile "$k/server.pem" -d -i capteur-strict -t capteurs/température/salle-2 -m "23.0 °C" -q 1 >>"$WORK/requests.log" 2>&1; then
		die "tls-selfsigned: mosquitto_pub without --insecure connected"
	fi
	stop_capture
	stop_broker
	rm -f "$k/server-key.pem"
	{
		echo "# mqtap keyring (see ../../README.md): the CA this deployment should trust; the broker's"
		echo "# self-signed certificate (server.pem) does not chain to it. No key logs: nothing decrypts."
		echo "[tls]"
		echo 'cafile = "ca.pem"'
	} >"$k/keyring.toml"
	install_sample tls-selfsigned
}

for n in "${WANT[@]}"; do
	log "$n"
	case $n in
	tls12-lab) sample_tls12_lab ;;
	tls13-lab) sample_tls13_lab ;;
	tls12-cbc) sample_tls12_cbc ;;
	tls-selfsigned) sample_selfsigned ;;
	esac
	log "$n: requests:"
	sed 's/^/   /' "$WORK/requests.log" >&2
done
log "checking with tshark"
check_all

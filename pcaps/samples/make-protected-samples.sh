#!/usr/bin/env bash
# make-protected-samples.sh: regenerate the payload-protection and broker-audit
# sample captures of pcaps/samples/ (protected-*.pcapng, audit-*.pcapng) and
# their keys, keyrings, ACL and password files (pcaps/samples/keys/<sample>/),
# from real mosquitto traffic driven by mosquitto_pub/mosquitto_sub, paho and
# the project's Python senders (scripts/signed_sender.py: the ECDSA lab's ECDSA
# signatures; scripts/sealed_sender.py: the RSA-OAEP + HMAC lab's RSA-OAEP + per-client HMAC);
# see README.md in this directory.
#
#   sudo pcaps/samples/make-protected-samples.sh                  # every sample
#   sudo pcaps/samples/make-protected-samples.sh protected-ecdsa  # only these
#   pcaps/samples/make-protected-samples.sh --check               # verify + list, no capture
#   sudo pcaps/samples/make-protected-samples.sh -o /tmp/out      # write somewhere else
#
# As make-samples.sh: everything runs inside a private network namespace
# (created and deleted here) whose loopback has MTU 1500 and gso_max_segs 1;
# each sample gets its own mosquitto on port 1883 and is captured with dumpcap
# (pcapng). Keys are new on every run (openssl), so are ciphertexts and
# signatures: regenerate a capture and its keys/ directory together (the
# script does). --check needs no root: it checks each file with tshark (no
# malformed frame, the expected MQTT messages), recomputes every verdict from
# the capture with the Python senders' own verify mode and the keys, and
# prints the list of MQTT messages with their frame numbers, which the README
# quotes. Needs root, mosquitto, mosquitto-clients, tshark (dumpcap,
# capinfos), openssl, iproute2, and /usr/bin/python3 with python3-paho-mqtt,
# python3-cryptography and python3-ecdsa. Idempotent.
set -euo pipefail

SAMPLES=(protected-ecdsa protected-rsa-hmac audit-broker)
PORT=1883

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
SIGNED=$ROOT/scripts/signed_sender.py
SEALED=$ROOT/scripts/sealed_sender.py
PROG=make-protected-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"

STOPPED= # a broker stopped with SIGSTOP, to resume at exit
cleanup_hook() { if [ -n "$STOPPED" ]; then kill -CONT "$STOPPED" 2>/dev/null || true; fi; }
samples_work


# ---------------------------------------------------------------- checking
# mqtt-list.py: every MQTT control packet of a capture (tshark -T json on
# stdin), one line each: frame, tcp stream, direction (c2b: client to broker,
# b2c: broker to client), the stream's client id, type and details; then the
# QoS 1/2 flows that never complete. With --fields: one line per PUBLISH,
# "frame<TAB>srcport<TAB>topic<TAB>hex" for the senders' verify mode.
cat >"$WORK/mqtt-list.py" <<'EOF'
import json, sys

NAMES = "RESERVED CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE UNSUBACK PINGREQ PINGRESP DISCONNECT AUTH".split()
port = int(sys.argv[1])
fields = "--fields" in sys.argv

def leaves(d, out):
    for k, v in d.items():
        if isinstance(v, dict):
            leaves(v, out)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for x in v:
                leaves(x, out)
        elif isinstance(v, list):
            out.setdefault(k, []).extend(v)
        else:
            out.setdefault(k, []).append(v)
    return out

def one(f, k, default=""):
    v = f.get(k)
    return v[0] if v else default

rows, clients, flows = [], {}, {}
for p in json.load(sys.stdin):
    l = p["_source"]["layers"]
    frame = int(l["frame"]["frame.number"])
    stream = int(l["tcp"]["tcp.stream"])
    c2b = int(l["tcp"]["tcp.srcport"]) != port
    d = "c2b" if c2b else "b2c"
    ms = l["mqtt"] if isinstance(l["mqtt"], list) else [l["mqtt"]]
    for m in ms:
        f = leaves(m, {})
        t = int(one(f, "mqtt.msgtype", 0))
        name = NAMES[t]
        det = ""
        if t == 1:
            clients[stream] = one(f, "mqtt.clientid")
            det = "v%s id=%s" % (one(f, "mqtt.ver"), one(f, "mqtt.clientid"))
            if "mqtt.username" in f:
                det += " user=%s" % one(f, "mqtt.username")
            if "mqtt.passwd" in f:
                det += " password=%s" % one(f, "mqtt.passwd")
        elif t == 2:
            rc = one(f, "mqtt.conack.val", None)
            if rc is None:
                rc = one(f, "mqtt.connack.reason_code", "?")
            det = "rc=%s" % rc
        elif t == 3:
            qos = int(one(f, "mqtt.qos", 0))
            det = "%s q%d" % (one(f, "mqtt.topic"), qos)
            if qos:
                det += " id=%s" % one(f, "mqtt.msgid")
                flows[(stream, d, one(f, "mqtt.msgid"))] = [frame, qos, "PUBLISH"]
            hexmsg = one(f, "mqtt.msg").replace(":", "")
            det += " %dB" % (len(hexmsg) // 2)
            if fields:
                print(frame, 1883 if not c2b else 0, one(f, "mqtt.topic"), hexmsg, sep="\t")
        elif t in (4, 5, 6, 7):
            mid = one(f, "mqtt.msgid")
            det = "id=%s" % mid
            for k in ("mqtt.puback.reason_code", "mqtt.pubrec.reason_code", "mqtt.pubrel.reason_code", "mqtt.pubcomp.reason_code"):
                if k in f:
                    det += " rc=%s" % one(f, k)
            # acks of a publisher's flow go the other way, PUBREL the same way
            pd = d if t == 6 else ("b2c" if c2b else "c2b")
            fl = flows.get((stream, pd, mid))
            if fl:
                if t == 4 or t == 7:
                    del flows[(stream, pd, mid)]
                else:
                    fl[2] = name
        elif t == 8:
            det = " ".join("%s q%s" % tq for tq in zip(f.get("mqtt.topic", []), f.get("mqtt.sub.qos", f.get("mqtt.subscription_options_qos", []))))
        elif t == 9:
            det = "rc=" + ",".join(f.get("mqtt.suback.qos", []) + f.get("mqtt.suback.reason_code", []))
        elif t == 14:
            if "mqtt.disconnect.reason_code" in f:
                det = "rc=%s" % one(f, "mqtt.disconnect.reason_code")
        rows.append((frame, stream, d, name, det))

if not fields:
    for frame, stream, d, name, det in rows:
        print("%5d  s%-3d %s  %-16s %-11s %s" % (frame, stream, d, clients.get(stream, "?"), name, det))
    for (stream, d, mid), (frame, qos, last) in sorted(flows.items(), key=lambda x: x[1][0]):
        print("unacknowledged: frame %d, stream %d (%s), %s, QoS %d PUBLISH id %s, last packet of the flow: %s" % (
            frame, stream, clients.get(stream, "?"), d, qos, mid, last))
EOF

mqtt_list() { tshark_q -r "$1" -Y mqtt -T json --no-duplicate-keys -J "frame tcp mqtt" | "$PY" "$WORK/mqtt-list.py" "$PORT" "${@:2}"; }


# want NAME GOT EXPECTED
want() {
	if [ "$2" != "$3" ]; then
		printf 'make-protected-samples: %s:\n  got:  %s\n  want: %s\n' "$1" "$2" "$3" >&2
		return 1
	fi
}
nmatch() { tshark_q -r "$1" -Y "$2" -T fields -e frame.number | wc -l; }

check_sample() {
	local name=$1 f bad=0 m k=$OUT/keys/$1 v
	f=$OUT/$name.pcapng
	[ -s "$f" ] || { echo "make-protected-samples: $f missing" >&2; return 1; }
	m=$(nmatch "$f" '_ws.malformed')
	want "$name: malformed frames (tshark)" "$m" 0 || bad=1
	echo "## $name.pcapng: $(count_line "$f")"
	mqtt_list "$f" >"$WORK/$name.list"
	case $name in
	protected-ecdsa)
		for x in ecdsa-public.pem ecdsa-private.pem forger-private.pem keyring.toml; do
			[ -s "$k/$x" ] || { echo "make-protected-samples: $k/$x missing" >&2; bad=1; }
		done
		mqtt_list "$f" --fields | "$PY" "$SIGNED" verify --public-key "$k/ecdsa-public.pem" >"$WORK/v" || bad=1
		# columns: frame dir topic signature timestamp dup s-form message
		v=$(awk -F'\t' '$2 == "c2b" {printf "%s/%s/%s ", $4, $5, $6}' "$WORK/v")
		want "$name: client->broker verdicts" "$v" "ok/fresh/- ok/fresh/- ok/fresh/- ok/replay/dup bad/-/- bad/-/- ok/replay/- ok/fresh/- " || bad=1
		v=$(awk -F'\t' '$2 == "b2c" {printf "%s/%s ", $4, $5}' "$WORK/v")
		want "$name: broker->receiver verdicts" "$v" "ok/fresh ok/fresh ok/fresh ok/replay bad/- bad/- ok/replay ok/fresh " || bad=1
		want "$name: every PUBLISH QoS 1" "$(nmatch "$f" 'mqtt.msgtype == 3 && mqtt.qos != 1')" 0 || bad=1
		v=$(awk -F'\t' '$4 == "ok" {print $7}' "$WORK/v" | sort -u | tr '\n' ' ')
		want "$name: forms of the valid signatures" "$v" "high-s low-s " || bad=1
		;;
	protected-rsa-hmac)
		for x in rsa-public.pem rsa-private.pem keyring.toml; do
			[ -s "$k/$x" ] || { echo "make-protected-samples: $k/$x missing" >&2; bad=1; }
		done
		mqtt_list "$f" --fields | "$PY" "$SEALED" verify --keyring "$k/keyring.toml" >"$WORK/v" || bad=1
		# columns: frame dir topic verdict dup plaintext
		v=$(awk -F'\t' '$2 == "c2b" {printf "%s:%s/%s ", $3, $4, $5}' "$WORK/v")
		want "$name: client->broker verdicts" "$v" "clientAAA:ok/- clientAAA:ok/- clientBBB:ok/- clientBBB:ok/- clientAAA:bad-mac/- clientAAA:ok/dup clientBBB:bad-mac/- clientBBB:ok/- " || bad=1
		v=$(awk -F'\t' '$2 == "b2c" {printf "%s:%s ", $3, $4}' "$WORK/v")
		want "$name: broker->listener verdicts" "$v" "clientAAA:ok clientAAA:ok clientBBB:ok clientBBB:ok clientAAA:bad-mac clientAAA:ok clientBBB:bad-mac clientBBB:ok " || bad=1
		want "$name: every PUBLISH QoS 1" "$(nmatch "$f" 'mqtt.msgtype == 3 && mqtt.qos != 1')" 0 || bad=1
		;;
	audit-broker)
		for x in acl acl-strict passwd passwd-plain.txt; do
			[ -s "$k/$x" ] || { echo "make-protected-samples: $k/$x missing" >&2; bad=1; }
		done
		want "$name: CONNECTs with a password" "$(nmatch "$f" 'mqtt.msgtype == 1 && mqtt.passwd')" 12 || bad=1
		want "$name: CONNACK 5 (3.1.1 refused)" "$(nmatch "$f" 'mqtt.msgtype == 2 && mqtt.conack.val == 5')" 2 || bad=1
		want "$name: CONNACK 0x87 (5 refused)" "$(nmatch "$f" 'mqtt.msgtype == 2 && mqtt.connack.reason_code == 0x87')" 1 || bad=1
		want "$name: PUBACK 0x87" "$(nmatch "$f" 'mqtt.puback.reason_code == 0x87')" 1 || bad=1
		want "$name: anonymous SUBSCRIBEs to # and \$SYS/#" "$(nmatch "$f" 'mqtt.msgtype == 8 && (mqtt.topic == "#" || mqtt.topic == "$SYS/#")')" 2 || bad=1
		want "$name: \$SYS messages delivered" "$(nmatch "$f" 'mqtt.msgtype == 3 && mqtt.topic contains "$SYS"')" 0 || bad=1
		v=$(grep -c '^unacknowledged:' "$WORK/$name.list" || true)
		want "$name: unacknowledged flows" "$v" 3 || bad=1
		v=$(grep '^unacknowledged:' "$WORK/$name.list" | sed 's/^unacknowledged: frame [0-9]*, stream [0-9]* //; s/ id [0-9]*//' | tr '\n' ';')
		want "$name: unacknowledged flows" "$v" "(lazy-sub), b2c, QoS 1 PUBLISH, last packet of the flow: PUBLISH;(crash-q1), c2b, QoS 1 PUBLISH, last packet of the flow: PUBLISH;(crash-q2), c2b, QoS 2 PUBLISH, last packet of the flow: PUBREC;" || bad=1
		# the anonymous '#' subscriber got exactly the allowed publishes
		v=$(awk '$3 == "b2c" && $4 == "anon-all" && $5 == "PUBLISH" {printf "%s ", $6}' "$WORK/$name.list")
		want "$name: copies to anon-all" "$v" "sensors/sensor1/temperature commands/sensor1/reboot sensors/sensor1/humidity sensors/sensor1/alarm " || bad=1
		v=$(awk '$3 == "b2c" && $4 == "sensor1-snoop" && $5 == "PUBLISH"' "$WORK/$name.list" | wc -l)
		want "$name: copies to sensor1-snoop" "$v" 0 || bad=1
		;;
	esac
	cat "$WORK/$name.list"
	if [ -s "$WORK/v" ]; then
		echo "# verdicts (frame, direction, topic, verdict...)"
		cat "$WORK/v"
		rm -f "$WORK/v"
	fi
	return $bad
}

check_all() {
	local rc=0 n
	for n in "${WANT[@]}"; do check_sample "$n" || rc=1; done
	if [ $rc != 0 ]; then echo "make-protected-samples: check FAILED" >&2; fi
	return $rc
}

command -v tshark >/dev/null || die "tshark is missing (apt-get install tshark)"
command -v capinfos >/dev/null || die "capinfos is missing (apt-get install tshark)"
"$PY" -c 'import paho.mqtt.client, cryptography, ecdsa' 2>/dev/null ||
	die "$PY cannot import paho.mqtt, cryptography and ecdsa (apt-get install python3-paho-mqtt python3-cryptography python3-ecdsa, or set MQTAP_PYTHON)"
if [ $CHECK_ONLY = 1 ]; then
	check_all
	exit
fi

# ---------------------------------------------------------------- setup
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for t in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd dumpcap openssl ip ss stdbuf; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto mosquitto-clients tshark openssl iproute2)"
done

samples_netns



# start_broker NAME [config line]...: mosquitto on 127.0.0.1:$PORT
start_broker() {
	local name=$1 conf=$WORK/$1.conf
	shift
	{
		echo "listener $PORT 127.0.0.1"
		echo "persistence false"
		echo "user root"
		echo "log_dest file $WORK/$name-broker.log"
		echo "log_type all"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	run_broker "$name" "$conf" "$PORT"
}


# bg LOG CMD...: a program inside the namespace in the background: BG_PID
BG_PID=
bg() {
	local out=$1
	shift
	ip netns exec "$NS" stdbuf -oL "$@" >"$out" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}
# bg_wait PID SECONDS: a background program that exits by itself
bg_wait() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && die "process $1 did not exit within $2 s"
	wait "$1" || die "process $1 failed"
	forget_pid "$1"
}
bg_stop() { # bg_stop PID [SIGNAL]
	kill "-${2:-INT}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# install_sample NAME: the capture and its key directory into $OUT
install_sample() {
	local name=$1
	install -m 0644 "$WORK/$name.pcapng" "$OUT/$name.pcapng"
	rm -rf "$OUT/keys/$name"
	mkdir -p "$OUT/keys"
	cp -r "$WORK/keys/$name" "$OUT/keys/$name"
	find "$OUT/keys/$name" -type d -exec chmod 0755 {} +
	find "$OUT/keys/$name" -type f -exec chmod 0644 {} +
}

H=(--host 127.0.0.1 --port "$PORT")

# ---------------------------------------------------------------- samples
# protected-ecdsa: the ECDSA lab. Broker with password_file + acl_file (the lab's
# ACL); meinuser publishes signed messages on user/meinuser/dsa-test, one
# connection per message as the lab's sender, >= 1.1 s apart; the lab's
# receiver (same user) is subscribed to user/meinuser/#.
# python-ecdsa never normalizes s: the sample is made again (up to 5 times)
# until its valid signatures include both a high-s and a low-s one.
sample_ecdsa() {
	local _ forms
	for _ in 1 2 3 4 5; do
		sample_ecdsa_once
		forms=$(mqtt_list "$WORK/protected-ecdsa.pcapng" --fields |
			"$PY" "$SIGNED" verify --public-key "$WORK/keys/protected-ecdsa/ecdsa-public.pem" |
			awk -F'\t' '$4 == "ok" {print $7}' | sort -u | tr '\n' ' ')
		if [ "$forms" = "high-s low-s " ]; then
			install_sample protected-ecdsa
			return
		fi
		log "protected-ecdsa: valid signatures all ${forms}, once more"
	done
	die "protected-ecdsa: 5 runs without both high-s and low-s valid signatures"
}
sample_ecdsa_once() {
	local k=$WORK/keys/protected-ecdsa hist=$WORK/ecdsa-history.jsonl
	rm -rf "$k" "$hist"
	mkdir -p "$k"
	openssl ecparam -genkey -name secp256k1 -noout -out "$k/ecdsa-private.pem"
	openssl ec -in "$k/ecdsa-private.pem" -pubout -out "$k/ecdsa-public.pem" 2>/dev/null
	openssl ecparam -genkey -name secp256k1 -noout -out "$k/forger-private.pem"
	cat >"$k/keyring.toml" <<-'EOF'
		# the ECDSA lab: <unix seconds><message>:<base64 python-ecdsa signature (SHA-1, raw r||s)>
		[[rule]]
		topics = ["user/+/#"]
		ecdsa = { public_key = "ecdsa-public.pem", format = "timestamp-colon-base64", hash = "sha1" }
	EOF
	mosquitto_passwd -c -b "$WORK/ecdsa-passwd" meinuser meinpw 2>/dev/null
	cat >"$WORK/ecdsa-acl" <<-'EOF'
		# Zugriffsberechtigungen für anonyme User, falls mit allow_anonymous true eingeschaltet
		topic read #

		# Bridge Status Meldungen
		pattern write $SYS/broker/connection/%c/state

		# Authentisierte User können auf user/meinusername/ und alles darunter lesen und schreiben
		pattern readwrite user/%u/#

		# Public Bereich pub/playground und alles darunter kann von jedem authentisierten User geschrieben und gelesen werden
		pattern readwrite pub/playground/#
	EOF
	start_broker ecdsa "allow_anonymous false" "password_file $WORK/ecdsa-passwd" "acl_file $WORK/ecdsa-acl"
	start_capture "$WORK/protected-ecdsa.pcapng"
	local A=("${H[@]}" -u meinuser -P meinpw)
	bg "$WORK/ecdsa-rx.out" "$PY" "$SIGNED" listen "${A[@]}" --client-id dsa-receiver \
		--topic 'user/meinuser/#' --public-key "$k/ecdsa-public.pem" --count 8
	local rx=$BG_PID
	wait_for "$WORK/ecdsa-rx.out" "ready:"
	sleep 1.1 # the receiver starts with last = its start time
	local S=("$PY" "$SIGNED" publish "${A[@]}" --key "$k/ecdsa-private.pem" --history "$hist")
	local i
	exec 3>&1 >>"$WORK/publish.log" # what the senders print
	for i in 1 2 3; do
		nsx "${S[@]}" --client-id "dsa-sender-$i" --message "Testmessage_$i$i"
		sleep 1.1
	done
	nsx "${S[@]}" --client-id dsa-replayer --replay 1
	sleep 1.1
	nsx "${S[@]}" --client-id dsa-tamperer --message Testmessage_44 --tamper
	sleep 1.1
	nsx "${S[@]}" --client-id dsa-forger --message Testmessage_55 --forge "$k/forger-private.pem"
	sleep 1.1
	nsx "${S[@]}" --client-id dsa-stale --message Testmessage_66 --stale
	sleep 1.1
	nsx "${S[@]}" --client-id dsa-sender-4 --message Testmessage_77
	exec >&3 3>&-
	bg_wait "$rx" 10
	stop_capture
	stop_broker
	local v
	v=$(awk '!/^ready:/ {printf "%s ", $1}' "$WORK/ecdsa-rx.out")
	want "protected-ecdsa: the lab receiver's verdicts" "$v" "ok ok ok replay bad bad replay ok " ||
		die "protected-ecdsa: unexpected receiver output: $(cat "$WORK/ecdsa-rx.out")"
	log "protected-ecdsa: receiver: $(tr '\n' ';' <"$WORK/ecdsa-rx.out")"
}

# protected-rsa-hmac: the RSA-OAEP + HMAC lab. Anonymous broker; the listener (subscribed to
# '#') has the RSA private key and every client's HMAC key; clientAAA and
# clientBBB encrypt to its public key and MAC with their own key.
sample_rsa_hmac() {
	local k=$WORK/keys/protected-rsa-hmac hist=$WORK/rsa-history.jsonl a b
	mkdir -p "$k"
	openssl genrsa -out "$k/rsa-private.pem" 2048 2>/dev/null
	openssl rsa -in "$k/rsa-private.pem" -pubout -out "$k/rsa-public.pem" 2>/dev/null
	a=$(openssl rand -hex 32)
	b=$(openssl rand -hex 32)
	cat >"$k/keyring.toml" <<-EOF
		# the RSA-OAEP + HMAC lab: RSA-OAEP (SHA-1, MGF1-SHA-1) to the listener's key, then
		# HMAC-SHA256 of the ciphertext with the client's own key, MAC after it
		[[rule]]
		topics = ["clientAAA", "clientAAA/#"]
		hmac = { algorithm = "sha256", key_hex = "$a", layout = "trailer" }
		rsa_oaep = { private_key = "rsa-private.pem", hash = "sha1" }

		[[rule]]
		topics = ["clientBBB", "clientBBB/#"]
		hmac = { algorithm = "sha256", key_hex = "$b", layout = "trailer" }
		rsa_oaep = { private_key = "rsa-private.pem", hash = "sha1" }
	EOF
	start_broker rsa "allow_anonymous true"
	start_capture "$WORK/protected-rsa-hmac.pcapng"
	bg "$WORK/rsa-rx.out" "$PY" "$SEALED" listen "${H[@]}" --client-id listener --topic '#' \
		--keyring "$k/keyring.toml" --count 8
	local rx=$BG_PID
	wait_for "$WORK/rsa-rx.out" "ready:"
	local S=("$PY" "$SEALED" publish "${H[@]}" --public-key "$k/rsa-public.pem" --history "$hist")
	exec 3>&1 >>"$WORK/publish.log" # what the senders print
	nsx "${S[@]}" --client clientAAA --hmac-key-hex "$a" \
		--message '{"client":"clientAAA","seq":1,"temp":21.5}' --message '{"client":"clientAAA","seq":2,"temp":21.7}'
	nsx "${S[@]}" --client clientBBB --hmac-key-hex "$b" \
		--message '{"client":"clientBBB","seq":1,"door":"closed"}' --message '{"client":"clientBBB","seq":2,"door":"open"}'
	nsx "${S[@]}" --client clientAAA --hmac-key-hex "$a" --bad-mac --message '{"client":"clientAAA","seq":3,"temp":99.9}'
	nsx "${S[@]}" --client-id clientAAA-replayer --replay 1
	# an impostor who only knows clientAAA's key, writing on clientBBB's topic
	nsx "${S[@]}" --client clientBBB --client-id impostor --hmac-key-hex "$a" \
		--message '{"client":"clientBBB","seq":3,"door":"unlock"}'
	nsx "${S[@]}" --client clientBBB --hmac-key-hex "$b" --message '{"client":"clientBBB","seq":4,"door":"closed"}'
	exec >&3 3>&-
	bg_wait "$rx" 10
	stop_capture
	stop_broker
	local v
	v=$(awk '!/^ready:/ {printf "%s ", $1}' "$WORK/rsa-rx.out")
	want "protected-rsa-hmac: the listener's verdicts" "$v" "ok ok ok ok bad-mac ok bad-mac ok " ||
		die "protected-rsa-hmac: unexpected listener output: $(cat "$WORK/rsa-rx.out")"
	grep -q '^ok (dup) clientAAA {"client":"clientAAA","seq":1,' "$WORK/rsa-rx.out" ||
		die "protected-rsa-hmac: the listener did not see the replay: $(cat "$WORK/rsa-rx.out")"
	log "protected-rsa-hmac: listener: $(tr '\n' ';' <"$WORK/rsa-rx.out")"
	install_sample protected-rsa-hmac
}

# crash.py: paho 1.6 clients that leave a QoS flow unfinished.
#   crash.py lazy   CID TOPIC             subscribe QoS 1, print "ready", never read again
#   crash.py qos1   CID USER PW TOPIC MSG BROKER-PID
#                   SIGSTOP the broker, PUBLISH QoS 1, reset the connection (SO_LINGER 0)
#   crash.py qos2   CID USER PW TOPIC MSG  PUBLISH QoS 2, let the PUBREC arrive unread
# every mode ends with the client killing itself with SIGKILL
cat >"$WORK/crash.py" <<'EOF'
import os, signal, socket, struct, sys, time
import paho.mqtt.client as mqtt

mode, cid = sys.argv[1], sys.argv[2]
c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311, clean_session=True)
st = {}
c.on_connect = lambda cl, u, f, rc: st.setdefault("connack", rc)
c.on_subscribe = lambda cl, u, mid, g: st.setdefault("suback", g)
if mode in ("qos1", "qos2"):
    c.username_pw_set(sys.argv[3], sys.argv[4])
c.connect("127.0.0.1", 1883, 30)
end = time.time() + 10
while "connack" not in st:
    c.loop(0.02)
    if time.time() > end:
        sys.exit("crash.py: no CONNACK")
if st["connack"] != 0:
    sys.exit("crash.py: connection refused: %s" % st["connack"])
if mode == "lazy":
    c.subscribe(sys.argv[3], 1)
    while "suback" not in st:
        c.loop(0.02)
    print("ready", flush=True)
    time.sleep(3600)  # never reads again: the broker's QoS 1 PUBLISH gets no PUBACK
elif mode == "qos1":
    os.kill(int(sys.argv[7]), signal.SIGSTOP)  # the broker cannot answer now
    c.publish(sys.argv[5], sys.argv[6], 1)   # written at once (no loop thread)
    time.sleep(0.3)
    c.socket().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
elif mode == "qos2":
    c.publish(sys.argv[5], sys.argv[6], 2)
    time.sleep(0.5)  # the PUBREC arrives and is never read: no PUBREL
print("killing myself", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
EOF

# audit-broker: a broker with password_file, acl_file and anonymous access,
# the things an audit should notice.
sample_audit() {
	local k=$WORK/keys/audit-broker
	mkdir -p "$k"
	mosquitto_passwd -c -b "$k/passwd" sensor1 s3ns0r-one 2>/dev/null
	mosquitto_passwd -H sha512 -b "$k/passwd" admin 'admin-Pa55' 2>/dev/null
	cat >"$k/acl" <<-'EOF'
		# anonymous clients (allow_anonymous true): read every topic (not $SYS/...: "#" never matches "$..." topics), as in the ECDSA lab's broker
		topic read #

		# bridge status messages
		pattern write $SYS/broker/connection/%c/state

		# every authenticated user: its own tree
		pattern readwrite user/%u/#

		user sensor1
		topic write sensors/sensor1/#
		topic read commands/sensor1/#

		user admin
		topic readwrite #
	EOF
	# what an auditor's policy might say (not the broker's): anonymous clients may
	# read public/# only, so what the broker carried to them violates it
	cat >"$k/acl-strict" <<-'EOF'
		# a stricter policy than the broker's acl: anonymous clients may read public/# only
		topic read public/#

		user sensor1
		topic write sensors/sensor1/#
		topic read commands/sensor1/#

		user admin
		topic readwrite #
	EOF
	cat >"$k/passwd-plain.txt" <<-'EOF'
		# users of passwd (made with mosquitto_passwd -b) and their passwords
		sensor1 s3ns0r-one     # $7$ (PBKDF2-SHA512, mosquitto_passwd's default)
		admin   admin-Pa55     # $6$ (salted SHA-512, mosquitto_passwd -H sha512)
		# wrong passwords tried in audit-broker.pcapng (the broker refuses them)
		sensor1 password123    # MQTT 3.1.1: CONNACK 5
		sensor1 letmein        # MQTT 5: CONNACK 0x87
		mallory mallory        # not in passwd, MQTT 3.1.1: CONNACK 5
	EOF
	start_broker audit "allow_anonymous true" "password_file $k/passwd" "acl_file $k/acl"
	start_capture "$WORK/audit-broker.pcapng"
	local P=(-h 127.0.0.1 -p "$PORT")
	local S1=(-u sensor1 -P s3ns0r-one)
	# anonymous subscribers: everything (QoS 1), and $SYS (MQTT 5)
	bg "$WORK/anon-all.out" mosquitto_sub "${P[@]}" -V mqttv311 -i anon-all -q 1 -v -d -t '#'
	local all=$BG_PID
	wait_for "$WORK/anon-all.out" "received SUBACK"
	bg "$WORK/anon-sys.out" mosquitto_sub "${P[@]}" -V 5 -i anon-sys -v -d -t '$SYS/#'
	local sys=$BG_PID
	wait_for "$WORK/anon-sys.out" "received SUBACK"
	# sensor1 subscribes to what the ACL does not let it read (granted, nothing delivered)
	bg "$WORK/snoop.out" mosquitto_sub "${P[@]}" -V 5 "${S1[@]}" -i sensor1-snoop -q 1 -v -d -t 'sensors/#'
	local snoop=$BG_PID
	wait_for "$WORK/snoop.out" "received SUBACK"
	# allowed publish, valid credentials
	nsx mosquitto_pub "${P[@]}" -V mqttv311 "${S1[@]}" -i sensor1-temp -q 1 -t sensors/sensor1/temperature -m '21.5'
	# wrong passwords
	nsx mosquitto_pub "${P[@]}" -V mqttv311 -u sensor1 -P password123 -i intruder-311 -t sensors/sensor1/temperature -m '-40' 2>/dev/null &&
		die "audit-broker: the broker accepted a wrong password"
	nsx mosquitto_pub "${P[@]}" -V 5 -u sensor1 -P letmein -i intruder-5 -t sensors/sensor1/temperature -m '-40' 2>/dev/null &&
		die "audit-broker: the broker accepted a wrong password"
	nsx mosquitto_pub "${P[@]}" -V mqttv311 -u mallory -P mallory -i mallory -t sensors/sensor1/temperature -m '-40' 2>/dev/null &&
		die "audit-broker: the broker accepted an unknown user"
	# the admin ($6$ password) sends a command
	nsx mosquitto_pub "${P[@]}" -V mqttv311 -u admin -P admin-Pa55 -i admin-cmd -q 1 -t commands/sensor1/reboot -m 'now'
	# publishes the ACL forbids: QoS 0 (dropped silently), 3.1.1 QoS 1 (PUBACK, dropped), 5 QoS 1 (PUBACK 0x87)
	nsx mosquitto_pub "${P[@]}" -V mqttv311 "${S1[@]}" -i sensor1-deny-q0 -q 0 -t commands/sensor1/reboot -m 'now'
	nsx mosquitto_pub "${P[@]}" -V mqttv311 "${S1[@]}" -i sensor1-deny-q1 -q 1 -t sensors/sensor2/temperature -m '-5'
	nsx mosquitto_pub "${P[@]}" -V 5 "${S1[@]}" -i sensor1-deny-5 -q 1 -t admin/config -m 'debug=1' 2>/dev/null || true
	# QoS 1 to a subscriber that never acknowledges (killed with SIGKILL)
	bg "$WORK/lazy.out" "$PY" "$WORK/crash.py" lazy lazy-sub 'sensors/#'
	local lazy=$BG_PID
	wait_for "$WORK/lazy.out" "ready"
	nsx mosquitto_pub "${P[@]}" -V mqttv311 "${S1[@]}" -i sensor1-humidity -q 1 -t sensors/sensor1/humidity -m '40'
	wait_for "$WORK/anon-all.out" "sensors/sensor1/humidity 40"
	sleep 0.3
	bg_stop "$lazy" KILL
	# QoS 1 PUBLISH never acknowledged: the broker is frozen while the client publishes and resets
	STOPPED=$BROKER_PID
	nsx "$PY" "$WORK/crash.py" qos1 crash-q1 sensor1 s3ns0r-one sensors/sensor1/alarm 'fire' "$BROKER_PID" >"$WORK/crash-q1.out" 2>&1 || true
	kill -CONT "$BROKER_PID"
	STOPPED=
	grep -q "killing myself" "$WORK/crash-q1.out" || die "audit-broker: crash.py qos1: $(cat "$WORK/crash-q1.out")"
	wait_for "$WORK/anon-all.out" "sensors/sensor1/alarm fire"
	# QoS 2 PUBLISH, PUBREC, and the client dies before its PUBREL
	nsx "$PY" "$WORK/crash.py" qos2 crash-q2 sensor1 s3ns0r-one sensors/sensor1/alarm 'smoke' >"$WORK/crash-q2.out" 2>&1 || true
	grep -q "killing myself" "$WORK/crash-q2.out" || die "audit-broker: crash.py qos2: $(cat "$WORK/crash-q2.out")"
	sleep 0.5
	bg_stop "$snoop" INT
	bg_stop "$sys" INT
	bg_stop "$all" INT
	stop_capture
	stop_broker
	install_sample audit-broker
}

for n in "${WANT[@]}"; do
	log "$n"
	case $n in
	protected-ecdsa) sample_ecdsa ;;
	protected-rsa-hmac) sample_rsa_hmac ;;
	audit-broker) sample_audit ;;
	esac
done
log "checking with tshark"
check_all

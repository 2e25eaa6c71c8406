#!/usr/bin/env bash
# make-payload-samples.sh: regenerate the structured payload sample of
# pcaps/samples/ (payloads.pcapng) and its keyring (pcaps/samples/keys/payloads/:
# keyring.toml, reading.proto, sent.jsonl) from real mosquitto traffic sent by
# scripts/payloadpub.py (python3-paho-mqtt, -cbor2, -msgpack, -protobuf):
# JSON (MQTT 3.1.1 and 5), a UTF-8 number, CBOR and MessagePack named by the
# MQTT 5 Content Type, protobuf and gzip-compressed JSON named by keyring rules,
# malformed payloads and a decompression bomb, a Sparkplug B edge node (births
# with aliases, data with aliases only, a sequence gap, its death) and 300
# readings of a boiler to plot; see README.md in this directory.
#
#   sudo pcaps/samples/make-payload-samples.sh            # the sample
#   pcaps/samples/make-payload-samples.sh --check         # verify + count, no capture
#   sudo pcaps/samples/make-payload-samples.sh -o /tmp/x  # write somewhere else
#
# As make-samples.sh: a private network namespace whose loopback has MTU 1500
# and gso_max_segs 1, mosquitto on port 1883, dumpcap (pcapng). payloadpub.py
# prints what it sent, one JSON line per message (keys/payloads/sent.jsonl):
# the ground truth the tests compare mqtap's values with. Needs root,
# mosquitto, tshark (dumpcap, capinfos), protoc (protobuf-compiler), iproute2
# and /usr/bin/python3 with python3-paho-mqtt, -cbor2, -msgpack, -protobuf.
set -euo pipefail

SAMPLES=(payloads)
PORT=1883

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PROG=make-payload-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"
samples_work

# check_sample NAME: tshark reads it without a malformed frame, with the
# messages payloadpub.py says it sent (twice each: published and delivered,
# the NDEATH will once) and the Sparkplug B topics.
check_sample() {
	local name=$1 f=$OUT/$1.pcapng k=$OUT/keys/$1 bad=0 n want m
	[ -s "$f" ] || { echo "$PROG: $f missing" >&2; return 1; }
	for x in keyring.toml reading.proto sent.jsonl; do
		[ -s "$k/$x" ] || { echo "$PROG: $k/$x missing" >&2; bad=1; }
	done
	m=$(tshark_q -r "$f" -Y '_ws.malformed' | wc -l)
	[ "$m" -eq 0 ] || { echo "$PROG: $f: $m malformed frames (tshark)" >&2; bad=1; }
	n=$(tshark_q -r "$f" -Y 'mqtt.msgtype == 3' -T fields -e mqtt.msgtype | tr ',' '\n' | grep -c '^3$' || true)
	# every line is a message but a sequence gap's, which names the one before it
	want=$(($(grep -vc 'sparkplug.seq-gap' "$k/sent.jsonl") * 2 - 1))
	[ "$n" -eq "$want" ] || { echo "$PROG: $name: $n PUBLISH, want $want (2 per message sent, the NDEATH will once)" >&2; bad=1; }
	n=$(tshark_q -r "$f" -Y 'sparkplugb.messagetype' | wc -l)
	[ "$n" -ge 11 ] || { echo "$PROG: $name: $n Sparkplug B frames, want 11" >&2; bad=1; }
	echo "$name: $(count_line "$f")"
	return $bad
}

check_mode
[ "$(id -u)" -eq 0 ] || die "capturing needs root (a network namespace and dumpcap); run with sudo"
for t in mosquitto dumpcap protoc ip; do command -v $t >/dev/null || die "$t is missing"; done
"$PY" -c 'import paho.mqtt.client, cbor2, msgpack, google.protobuf' 2>/dev/null ||
	die "$PY lacks python3-paho-mqtt, python3-cbor2, python3-msgpack or python3-protobuf"

samples_netns
name=payloads
k=$OUT/keys/$name
mkdir -p "$k"
protoc --python_out="$WORK" -I "$ROOT/scripts/proto" sparkplug_b.proto reading.proto
cp "$ROOT/scripts/proto/reading.proto" "$k/reading.proto"
cat >"$k/keyring.toml" <<'TOML'
# The structured payload sample's keyring: payload rules only (no keys).
# A factory reading in protobuf, with the schema beside this file.
[[rule]]
topics = ["factory/+/reading"]
payload = { format = "protobuf", proto = "reading.proto", message = "factory.Reading" }

# gzip-compressed JSON.
[[rule]]
topics = ["zip/#"]
payload = { format = "json" }
compression = "gzip"
TOML
cat >"$WORK/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
CONF
log "$name"
run_broker "$name" "$WORK/mosquitto.conf" "$PORT"
start_capture "$WORK/$name.pcapng"
nsx "$PY" "$ROOT/scripts/payloadpub.py" --port "$PORT" --pb-dir "$WORK" --series 300 >"$WORK/sent.jsonl"
stop_capture
stop_broker
install -m 644 "$WORK/$name.pcapng" "$OUT/$name.pcapng"
cp "$WORK/sent.jsonl" "$k/sent.jsonl"
check_all

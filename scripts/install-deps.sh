#!/usr/bin/env bash
# Installs what mqtap's tests need when it is missing: a real MQTT broker and
# clients, tshark (the decoding oracle), dumpcap, editcap and mergecap
# (the capture file tests), tcpdump, tmux (the terminal UI's test), openssl
# (the TLS peer of the TLS tests), iptables (the NFLOG sample), the Python
# peer's libraries, scapy (the link-layer samples) and websockets (the
# WebSocket decoders' tests and scripts/wsmqtt.py), cbor2, msgpack,
# protobuf and protoc (the structured payload publishers). Debian/Ubuntu only
# (apt-get), non-interactive. Fails loudly when something is missing and
# cannot be installed.
set -euo pipefail

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v tshark >/dev/null || need+=(tshark)
command -v editcap >/dev/null || need+=(wireshark-common)
command -v mergecap >/dev/null || need+=(wireshark-common)
command -v dumpcap >/dev/null || [ -x /usr/bin/dumpcap ] || need+=(wireshark-common)
command -v gzip >/dev/null || need+=(gzip)
command -v tcpdump >/dev/null || [ -x /usr/sbin/tcpdump ] || need+=(tcpdump)
[ -x /usr/bin/time ] || need+=(time)
command -v ip >/dev/null || need+=(iproute2)
command -v tmux >/dev/null || need+=(tmux)
command -v openssl >/dev/null || need+=(openssl)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need+=(iptables)
py=/usr/bin/python3
[ -x "$py" ] || need+=(python3)
if [ -x "$py" ]; then
	"$py" -c 'import paho.mqtt.client' 2>/dev/null || need+=(python3-paho-mqtt)
	"$py" -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
	"$py" -c 'import ecdsa' 2>/dev/null || need+=(python3-ecdsa)
	"$py" -c 'import scapy.all' 2>/dev/null || need+=(python3-scapy)
	"$py" -c 'import websockets.client' 2>/dev/null || need+=(python3-websockets)
	"$py" -c 'import cbor2' 2>/dev/null || need+=(python3-cbor2)
	"$py" -c 'import msgpack' 2>/dev/null || need+=(python3-msgpack)
	"$py" -c 'import google.protobuf' 2>/dev/null || need+=(python3-protobuf)
else
	need+=(python3-paho-mqtt python3-cryptography python3-ecdsa python3-scapy python3-websockets python3-cbor2 python3-msgpack python3-protobuf)
fi
command -v protoc >/dev/null || need+=(protobuf-compiler)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
echo "install-deps: installing ${need[*]}" >&2
if ! command -v apt-get >/dev/null; then
	echo "install-deps: missing ${need[*]} and no apt-get to install them; install them by hand" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then sudo="sudo"; else
		echo "install-deps: missing ${need[*]}; run as root (or with sudo) to install them" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: installed ${need[*]}" >&2

#!/usr/bin/env bash
# make-link-samples.sh: the link-layer samples (link-*.pcapng, and
# frag-*.pcapng): one real MQTT session each (mosquitto,
# mosquitto_sub, mosquitto_pub) over VLAN tags, QinQ, VXLAN, GRE, IP in IP,
# NFLOG, IPv6 extension headers, 802.11 (radiotap and plain) and IP
# fragments; see README.md in this directory.
#
#   sudo pcaps/samples/make-link-samples.sh                     # every sample
#   sudo pcaps/samples/make-link-samples.sh link-vlan link-gre  # only these
#   pcaps/samples/make-link-samples.sh --check                  # verify + count, no capture
#   sudo pcaps/samples/make-link-samples.sh -o /tmp/out         # write somewhere else
#
# Each sample gets fresh private network namespaces, created and deleted
# here: the broker's (lib.sh's, with its loopback of MTU 1500 and
# gso_max_segs 1) and, where the traffic crosses a link, the clients' ($NS-c,
# joined to it by a veth pair, the underlay) and a router's ($NS-r). VXLAN is
# the kernel's; VLAN tags, GRE and IP in IP are made by linkwire.py (a TAP or
# TUN device at each end, encapsulating in user space as the kernel's vlan,
# gre/gretap and ipip/sit devices do: the kernel this was made on has no
# 8021q, ip_gre or ipip); NFLOG is iptables' NFLOG target. Captures are
# dumpcap's (pcapng) on the underlay, on nflog:5 or on lo. IPv6 extension
# headers, inner IPv6 fragments and 802.11 are real sessions captured on lo
# or a veth and rewrapped by linkcraft.py (python3-scapy). IPv4 fragments
# are made by the router namespace (MTU 600 towards the broker, clients
# without path MTU discovery), outer VXLAN fragments by the kernel's VXLAN
# (overlay MTU 1500 over an underlay of 1500). Needs root, mosquitto, mosquitto-clients,
# tshark (dumpcap, capinfos), iproute2, iptables, /usr/bin/python3 with
# python3-scapy. Idempotent: existing samples are overwritten.
set -euo pipefail

SAMPLES=(link-vlan link-qinq link-vxlan link-gre link-ipip link-nflog link-ipv6-ext link-radiotap link-80211
	frag-ipv4 frag-vxlan frag-ipv6)
PORT=1883

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PROG=make-link-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"

# sample_file NAME: where a sample lives, relative to OUT
sample_file() {
	case $1 in
	*) echo "$1.pcapng" ;;
	esac
}

# ---------------------------------------------------------------- checking

# frames FILE FILTER: how many frames match the tshark display filter
frames() { tshark_q -r "$1" -Y "$2" -T fields -e frame.number | wc -l; }

# expect FILE FILTER MIN: at least MIN frames match
expect() {
	local n
	n=$(frames "$1" "$2")
	if [ "$n" -lt "$3" ]; then
		echo "$PROG: $(basename "$1"): expected >= $3 frames matching '$2', found $n" >&2
		return 1
	fi
}

# expect_none FILE FILTER: no frame matches
expect_none() {
	local n
	n=$(frames "$1" "$2")
	if [ "$n" -ne 0 ]; then
		echo "$PROG: $(basename "$1"): $n frames match '$2', want none" >&2
		return 1
	fi
}

# expect_msgs FILE N: tshark decodes exactly N MQTT control packets
expect_msgs() {
	local n
	n=$(tshark_q -r "$1" -Y mqtt -T fields -e mqtt.msgtype | tr ',' '\n' | grep -c . || true)
	if [ "$n" -ne "$2" ]; then
		echo "$PROG: $(basename "$1"): $n MQTT messages, want $2" >&2
		return 1
	fi
}

# expect_link FILE N: the capture's link type
expect_link() {
	local got
	got=$(tshark_q -r "$1" -c 1 -T fields -e frame.encap_type 2>/dev/null | head -1)
	if [ "$got" != "$2" ]; then
		echo "$PROG: $(basename "$1"): encapsulation $got, want $2 (wiretap)" >&2
		return 1
	fi
}

# Every sample holds one session (see session below): 26 MQTT messages with
# the subscriber and three publishers, 16 with three publishers alone.
check_sample() {
	local name=$1 f bad=0 m
	f=$OUT/$(sample_file "$name")
	[ -s "$f" ] || { echo "$PROG: $f missing" >&2; return 1; }
	m=$(frames "$f" '_ws.malformed || _ws.expert.severity >= "error"')
	if [ "$m" -ne 0 ]; then echo "$PROG: $f: $m malformed or erroneous frames (tshark)" >&2; bad=1; fi
	case $name in
	frag-ipv4) expect_msgs "$f" 16 || bad=1 ;;
	*) expect_msgs "$f" 26 || bad=1 ;;
	esac
	case $name in
	link-vlan)
		expect "$f" 'vlan.id == 10 && ip && mqtt' 10 || bad=1
		expect "$f" 'vlan.id == 10 && ipv6 && mqtt' 3 || bad=1
		expect_none "$f" 'mqtt && !vlan' || bad=1
		;;
	link-qinq)
		expect "$f" 'eth.type == 0x88a8 && ieee8021ad.id == 100 && vlan.id == 10 && mqtt' 8 || bad=1
		expect "$f" 'eth.type == 0x9100 && vlan.id == 200 && vlan.id == 20 && mqtt' 8 || bad=1
		;;
	link-vxlan)
		expect "$f" 'udp.dstport == 4789 && vxlan.vni == 42 && ip.dst == 10.30.0.2 && mqtt' 5 || bad=1
		expect "$f" 'vxlan.vni == 42 && ipv6 && mqtt' 3 || bad=1
		;;
	link-gre)
		expect "$f" 'gre.key == 42 && gre.sequence_number && gre.proto == 0x0800 && mqtt' 8 || bad=1
		expect "$f" 'gre.key == 42 && gre.proto == 0x86dd && mqtt' 3 || bad=1
		expect "$f" 'gre.proto == 0x6558 && gre.checksum.status == 1 && mqtt' 3 || bad=1
		;;
	link-ipip)
		expect "$f" 'ip.proto == 4 && tcp && mqtt' 8 || bad=1
		expect "$f" 'ip.proto == 41 && ipv6 && mqtt' 6 || bad=1
		;;
	link-nflog)
		expect_link "$f" 141 || bad=1
		expect "$f" 'nflog.family == 2 && mqtt' 8 || bad=1
		expect "$f" 'nflog.family == 10 && mqtt' 8 || bad=1
		;;
	link-ipv6-ext)
		expect "$f" 'ipv6.hopopts && !ipv6.routing && mqtt' 3 || bad=1
		expect "$f" 'ipv6.dstopts && !ipv6.hopopts && mqtt' 3 || bad=1
		expect "$f" 'ipv6.hopopts && ipv6.routing.type == 4 && ipv6.routing.segleft == 0 && ipv6.dstopts && mqtt' 3 || bad=1
		expect "$f" 'ah.spi == 0x4d515454 && mqtt' 3 || bad=1
		;;
	link-radiotap | link-80211)
		if [ "$name" = link-radiotap ]; then
			expect_link "$f" 23 || bad=1
			expect "$f" 'radiotap.flags.fcs == 1 && wlan' 20 || bad=1
		else
			expect_link "$f" 20 || bad=1
		fi
		expect "$f" 'wlan.fc.type_subtype == 0x0020 && wlan.fc.ds == 1 && mqtt' 3 || bad=1
		expect "$f" 'wlan.fc.type_subtype == 0x0020 && wlan.fc.ds == 2 && mqtt' 3 || bad=1
		expect "$f" 'wlan.fc.type_subtype == 0x0028 && wlan.fc.ds == 1 && mqtt' 2 || bad=1
		expect "$f" 'wlan.fc.type_subtype == 0x0028 && wlan.fc.ds == 2 && mqtt' 1 || bad=1
		expect "$f" 'wlan.fc.type_subtype == 0x0020 && wlan.fc.ds == 3 && mqtt' 3 || bad=1
		expect "$f" 'wlan.fc.type_subtype == 0x0028 && wlan.fc.ds == 3 && mqtt' 3 || bad=1
		expect "$f" 'wlan.fc.protected == 1 && !mqtt' 5 || bad=1
		;;
	frag-ipv4)
		expect "$f" 'ip.flags.mf == 1 && ip.proto == 6' 3 || bad=1
		expect "$f" 'ip.frag_offset > 0 && mqtt.msgtype == 3' 3 || bad=1
		;;
	frag-vxlan)
		# first fragments of outer packets (UDP is dissected in the last one), fragments inside the tunnel
		expect "$f" 'ip.flags.mf == 1 && !vxlan' 2 || bad=1
		expect "$f" 'vxlan && ip.flags.mf#2 == 1' 1 || bad=1
		expect "$f" 'ip.frag_offset > 0 && vxlan && mqtt.msgtype == 3' 2 || bad=1
		;;
	frag-ipv6)
		expect "$f" 'ipv6.fraghdr.more == 1' 3 || bad=1
		expect "$f" 'ipv6.fraghdr.offset > 0 && mqtt.msgtype == 3' 3 || bad=1
		;;
	esac
	printf '%-28s %s\n' "$(sample_file "$name")" "$(count_line "$f")"
	return $bad
}

check_mode

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, capture)"
for t in mosquitto mosquitto_pub mosquitto_sub dumpcap editcap ip ss iptables ip6tables stdbuf; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto mosquitto-clients tshark iproute2 iptables)"
done
"$PY" -c 'import scapy.all' 2>/dev/null || die "$PY cannot import scapy (apt-get install python3-scapy, or set MQTAP_PYTHON)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing (linkwire.py needs TUN/TAP devices)"

samples_work

# ---------------------------------------------------------------- namespaces and links
CNS= # the clients' namespace ($NS when the clients share the broker's)
RNS= # the router's, for frag-ipv4

# lab_reset: stop what the previous sample started and delete its namespaces
lab_reset() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
	for n in $RNS $CNS $NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
	CNS= RNS= NS=
}
cleanup_hook() { lab_reset; }

# new_lab: fresh namespaces for a sample; the clients run in the broker's
new_lab() {
	lab_reset
	samples_netns
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	CNS=$NS
}

# add_ns NAME: a namespace with lo up; devices made later have no IPv6 unless
# ifup gives them an address
add_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

# veth NS1 DEV1 NS2 DEV2: a veth pair, up, without segmentation offload
veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" gso_max_segs 1 up
	ip -n "$3" link set "$4" gso_max_segs 1 up
}

# ifup NS DEV ADDR...: addresses on a device (IPv6 without duplicate address
# detection and link-local address), then up
ifup() {
	local ns=$1 dev=$2 a
	shift 2
	ip -n "$ns" link set "$dev" addrgenmode none gso_max_segs 1 2>/dev/null || ip -n "$ns" link set "$dev" gso_max_segs 1
	for a in "$@"; do
		case $a in
		*:*)
			ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0"
			ip -n "$ns" addr add "$a" dev "$dev" nodad
			;;
		*) ip -n "$ns" addr add "$a" dev "$dev" ;;
		esac
	done
	ip -n "$ns" link set "$dev" up
}

# underlay [v6]: the clients' namespace and the veth pair va (clients,
# 192.168.77.1) - vb (broker, 192.168.77.2); with v6 also fd00:77::1 and ::2
underlay() {
	CNS=$NS-c
	add_ns "$CNS"
	veth "$CNS" va "$NS" vb
	if [ "${1:-}" = v6 ]; then
		ifup "$CNS" va 192.168.77.1/24 fd00:77::1/64
		ifup "$NS" vb 192.168.77.2/24 fd00:77::2/64
	else
		ifup "$CNS" va 192.168.77.1/24
		ifup "$NS" vb 192.168.77.2/24
	fi
}

# wire NS MODE DEV ARGS...: linkwire.py in a namespace, until its device exists
wire() {
	local ns=$1 log=$WORK/wire-$1-$3.log
	shift
	ip netns exec "$ns" "$PY" "$HERE/linkwire.py" "$@" >"$log" 2>&1 &
	PIDS+=("$!")
	wait_for "$log" "ready: $2"
}

# capture NS IFACE FILE [FILTER]: dumpcap in a namespace (pcapng), stopped by stop_capture
capture() {
	local clog=$WORK/capture.log
	: >"$clog"
	if [ -n "${4:-}" ]; then
		ip netns exec "$1" dumpcap -q -i "$2" -s 0 -f "$4" -w "$3" >"$clog" 2>&1 &
	else
		ip netns exec "$1" dumpcap -q -i "$2" -s 0 -w "$3" >"$clog" 2>&1 &
	fi
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	wait_for "$clog" "Capturing on"
	sleep 0.5
}

# ---------------------------------------------------------------- the MQTT session
# start_broker NAME: mosquitto on every address of the broker's namespace, anonymous
start_broker() {
	local conf=$WORK/$1.conf
	{
		echo "listener $PORT"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "user root"
		echo "log_dest file $WORK/$1-broker.log"
		echo "log_type all"
	} >"$conf"
	run_broker "$1" "$conf" $PORT
}

# payload I: the I-th message; SIZE=N makes it N bytes of ASCII
payload() {
	local p=
	if [ -z "${SIZE:-}" ]; then
		printf '2%d.5 °C' "$1"
		return
	fi
	while [ ${#p} -lt "$SIZE" ]; do p+="capteur-$1-mesure-21.5;"; done
	printf '%s' "${p:0:SIZE}"
}

# session SUB-HOST PUB-HOST...: from the clients' namespace, mosquitto_sub
# (MQTT 3.1.1, QoS 1, capteurs/#) at SUB-HOST (- for none) until it has one
# message per publisher, and one mosquitto_pub (MQTT 5) per PUB-HOST in turn
# with QoS 0, 1, 2, 0, ... on capteurs/température/salle-I.
session() {
	local sub=$1 i=0 h spid= slog=$WORK/sub.log
	shift
	: >"$slog"
	if [ "$sub" != - ]; then
		ip netns exec "$CNS" stdbuf -oL mosquitto_sub -d -h "$sub" -p $PORT -V mqttv311 -i abonne-link -q 1 \
			-t 'capteurs/#' -C $# >"$slog" 2>&1 &
		spid=$!
		PIDS+=("$spid")
		wait_for "$slog" "received SUBACK"
	fi
	for h in "$@"; do
		ip netns exec "$CNS" mosquitto_pub -d -h "$h" -p $PORT -V 5 -i "capteur-$i" -q $((i % 3)) \
			-t "capteurs/température/salle-$i" -m "$(payload $i)" >>"$WORK/pub.log" 2>&1 ||
			{ tail -5 "$WORK/pub.log" >&2; die "mosquitto_pub to $h failed"; }
		i=$((i + 1))
	done
	[ -n "$spid" ] || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$spid" 2>/dev/null && { tail -5 "$slog" >&2; die "mosquitto_sub did not get its $# messages"; }
	wait "$spid" || die "mosquitto_sub failed: $(tail -1 "$slog")"
	forget_pid "$spid"
}

# finish NAME: stop the capture, install the sample
finish() {
	stop_capture
	stop_broker
	mkdir -p "$(dirname "$OUT/$(sample_file "$1")")"
	install -m 0644 "$WORK/$1.pcapng" "$OUT/$(sample_file "$1")"
}

# craft MODE NAME: a session captured on lo (or the underlay) rewrapped by
# linkcraft.py, as pcapng
craft() {
	"$PY" "$HERE/linkcraft.py" "$1" "$WORK/$2-raw.pcapng" "$WORK/$2.pcap" >&2
	editcap -F pcapng "$WORK/$2.pcap" "$WORK/$2.pcapng"
	mkdir -p "$(dirname "$OUT/$(sample_file "$2")")"
	install -m 0644 "$WORK/$2.pcapng" "$OUT/$(sample_file "$2")"
}

# ---------------------------------------------------------------- samples
# link-vlan: one 802.1Q tag (VLAN 10), IPv4 and IPv6
sample_vlan() {
	new_lab
	underlay
	wire "$CNS" vlan tq0 va 0x8100:10
	wire "$NS" vlan tq0 vb 0x8100:10
	ifup "$CNS" tq0 10.10.0.1/24 fd00:10::1/64
	ifup "$NS" tq0 10.10.0.2/24 fd00:10::2/64
	start_broker link-vlan
	capture "$NS" vb "$WORK/link-vlan.pcapng"
	session 10.10.0.2 10.10.0.2 fd00:10::2 10.10.0.2
	finish link-vlan
}

# link-qinq: 802.1ad S-tag 100 + C-tag 10 (subscriber), and the older 0x9100
# S-tag 200 + C-tag 20 (two publishers)
sample_qinq() {
	new_lab
	underlay
	wire "$CNS" vlan tq1 va 0x88a8:100 0x8100:10
	wire "$NS" vlan tq1 vb 0x88a8:100 0x8100:10
	wire "$CNS" vlan tq2 va 0x9100:200 0x8100:20
	wire "$NS" vlan tq2 vb 0x9100:200 0x8100:20
	ifup "$CNS" tq1 10.21.0.1/24
	ifup "$NS" tq1 10.21.0.2/24
	ifup "$CNS" tq2 10.22.0.1/24
	ifup "$NS" tq2 10.22.0.2/24
	start_broker link-qinq
	capture "$NS" vb "$WORK/link-qinq.pcapng"
	session 10.21.0.2 10.22.0.2 10.21.0.2 10.22.0.2
	finish link-qinq
}

# link-vxlan: the kernel's VXLAN (VNI 42, port 4789) over IPv4, IPv4 and IPv6 inside
sample_vxlan() {
	new_lab
	underlay
	ip -n "$CNS" link add vx0 type vxlan id 42 dstport 4789 local 192.168.77.1 remote 192.168.77.2 dev va
	ip -n "$NS" link add vx0 type vxlan id 42 dstport 4789 local 192.168.77.2 remote 192.168.77.1 dev vb
	ifup "$CNS" vx0 10.30.0.1/24 fd00:30::1/64
	ifup "$NS" vx0 10.30.0.2/24 fd00:30::2/64
	start_broker link-vxlan
	capture "$NS" vb "$WORK/link-vxlan.pcapng"
	session 10.30.0.2 10.30.0.2 fd00:30::2 10.30.0.2
	finish link-vxlan
}

# link-gre: GRE with key 42 and sequence numbers carrying IPv4 and IPv6 (gr0),
# and GRE with checksums carrying Ethernet (gt0, transparent bridging 0x6558)
sample_gre() {
	new_lab
	underlay
	wire "$CNS" gre gr0 192.168.77.1 192.168.77.2 key=42 seq
	wire "$NS" gre gr0 192.168.77.2 192.168.77.1 key=42 seq
	wire "$CNS" gre gt0 192.168.77.1 192.168.77.2 csum tap
	wire "$NS" gre gt0 192.168.77.2 192.168.77.1 csum tap
	ifup "$CNS" gr0 10.40.0.1/24 fd00:40::1/64
	ifup "$NS" gr0 10.40.0.2/24 fd00:40::2/64
	ifup "$CNS" gt0 10.50.0.1/24
	ifup "$NS" gt0 10.50.0.2/24
	start_broker link-gre
	capture "$NS" vb "$WORK/link-gre.pcapng"
	session 10.40.0.2 fd00:40::2 10.50.0.2 10.40.0.2
	finish link-gre
}

# link-ipip: IPv4 in IPv4 (protocol 4) and IPv6 in IPv4 (protocol 41)
sample_ipip() {
	new_lab
	underlay
	wire "$CNS" ipip ip0 192.168.77.1 192.168.77.2
	wire "$NS" ipip ip0 192.168.77.2 192.168.77.1
	ifup "$CNS" ip0 10.60.0.1/24 fd00:60::1/64
	ifup "$NS" ip0 10.60.0.2/24 fd00:60::2/64
	start_broker link-ipip
	capture "$NS" vb "$WORK/link-ipip.pcapng"
	session 10.60.0.2 fd00:60::2 10.60.0.2 fd00:60::2
	finish link-ipip
}

# link-nflog: iptables and ip6tables log port 1883 in OUTPUT to NFLOG group 5
# (both directions: every packet on lo leaves through OUTPUT once), each
# packet sent to user space at once (threshold 1; the kernel's default
# batches up to 100 packets for up to a second)
sample_nflog() {
	local t
	new_lab
	for t in iptables ip6tables; do
		nsx $t -A OUTPUT -p tcp --dport $PORT -j NFLOG --nflog-group 5 --nflog-threshold 1
		nsx $t -A OUTPUT -p tcp --sport $PORT -j NFLOG --nflog-group 5 --nflog-threshold 1
	done
	start_broker link-nflog
	capture "$NS" nflog:5 "$WORK/link-nflog.pcapng"
	session 127.0.0.1 ::1 127.0.0.1 ::1
	finish link-nflog
}

# link-ipv6-ext: an IPv6 session on lo, extension headers added by linkcraft.py
sample_ipv6_ext() {
	new_lab
	start_broker link-ipv6-ext
	start_capture "$WORK/link-ipv6-ext-raw.pcapng"
	session ::1 ::1 ::1 ::1
	stop_capture
	stop_broker
	craft ipv6-ext link-ipv6-ext
}

# link-radiotap, link-80211: an IPv4 session over the underlay, each packet
# rewrapped in 802.11 by linkcraft.py
sample_wlan() {
	new_lab
	underlay
	start_broker "$1"
	capture "$NS" vb "$WORK/$1-raw.pcapng" "tcp port $PORT"
	session 192.168.77.2 192.168.77.2 192.168.77.2 192.168.77.2
	stop_capture
	stop_broker
	craft "${1#link-}" "$1"
}

# frag-ipv4: clients without path MTU discovery (no DF), a router whose link
# to the broker has MTU 600: every large segment arrives in fragments
sample_frag_ipv4() {
	new_lab
	CNS=$NS-c RNS=$NS-r
	add_ns "$CNS"
	add_ns "$RNS"
	veth "$CNS" va "$RNS" ra
	veth "$RNS" rb "$NS" vb
	ifup "$CNS" va 192.168.71.1/24
	ifup "$RNS" ra 192.168.71.2/24
	ip -n "$RNS" link set rb mtu 600
	ifup "$RNS" rb 192.168.72.1/24
	ifup "$NS" vb 192.168.72.2/24
	ip -n "$CNS" route add default via 192.168.71.2
	ip -n "$NS" route add default via 192.168.72.1
	ip netns exec "$RNS" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$CNS" sysctl -qw net.ipv4.ip_no_pmtu_disc=1
	start_broker frag-ipv4
	capture "$NS" vb "$WORK/frag-ipv4.pcapng"
	SIZE=1300 session - 192.168.72.2 192.168.72.2 192.168.72.2
	finish frag-ipv4
}

# frag-vxlan: VXLAN devices of MTU 1500 over an underlay of 1500, and TCP
# without path MTU discovery (no DF): the kernel fragments the outer packet
# of the first large segment each way; VXLAN then lowers the inner route's
# MTU and the inner IP layer fragments the next ones (fragments inside the
# tunnel). The devices have no lower device ("dev"), or their MTU could not
# exceed the underlay's less 50 bytes.
sample_frag_vxlan() {
	local ns
	new_lab
	underlay
	for ns in "$CNS" "$NS"; do ip netns exec "$ns" sysctl -qw net.ipv4.ip_no_pmtu_disc=1; done
	ip -n "$CNS" link add vx0 mtu 1500 type vxlan id 44 dstport 4789 local 192.168.77.1 remote 192.168.77.2
	ip -n "$NS" link add vx0 mtu 1500 type vxlan id 44 dstport 4789 local 192.168.77.2 remote 192.168.77.1
	ifup "$CNS" vx0 10.31.0.1/24
	ifup "$NS" vx0 10.31.0.2/24
	start_broker frag-vxlan
	capture "$NS" vb "$WORK/frag-vxlan.pcapng"
	SIZE=1400 session 10.31.0.2 10.31.0.2 10.31.0.2 10.31.0.2
	finish frag-vxlan
}

# frag-ipv6: an IPv6 session on lo with large messages, cut into fragments by linkcraft.py
sample_frag_ipv6() {
	new_lab
	start_broker frag-ipv6
	start_capture "$WORK/frag-ipv6-raw.pcapng"
	SIZE=1300 session ::1 ::1 ::1 ::1
	stop_capture
	stop_broker
	craft frag6 frag-ipv6
}

for n in "${WANT[@]}"; do
	log "$n"
	: >"$WORK/pub.log"
	case $n in
	link-vlan) sample_vlan ;;
	link-qinq) sample_qinq ;;
	link-vxlan) sample_vxlan ;;
	link-gre) sample_gre ;;
	link-ipip) sample_ipip ;;
	link-nflog) sample_nflog ;;
	link-ipv6-ext) sample_ipv6_ext ;;
	link-radiotap | link-80211) sample_wlan "$n" ;;
	frag-ipv4) sample_frag_ipv4 ;;
	frag-vxlan) sample_frag_vxlan ;;
	frag-ipv6) sample_frag_ipv6 ;;
	esac
done
lab_reset
log "checking with tshark"
check_all

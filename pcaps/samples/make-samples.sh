#!/usr/bin/env bash
# make-samples.sh: regenerate the sample captures of pcaps/samples/ from real
# mosquitto traffic (see README.md in this directory for what each one holds).
#
#   sudo pcaps/samples/make-samples.sh                 # regenerate every sample
#   sudo pcaps/samples/make-samples.sh mqtt5 large-payload   # only these
#   pcaps/samples/make-samples.sh --check              # verify + count, no capture
#   sudo pcaps/samples/make-samples.sh -o /tmp/out     # write somewhere else
#
# Everything runs inside a private network namespace (created and deleted by
# this script) whose loopback has MTU 1500 and gso_max_segs 1, so TCP segments
# are at most 1448 bytes as on a real Ethernet link (the default loopback
# would hand tcpdump 64 KB super-packets) and the standard ports are free.
# Each sample gets its own mosquitto broker with a config written to a temp
# dir; clients are mosquitto_pub/mosquitto_sub and, where those cannot do
# something, Debian's python3-paho-mqtt (/usr/bin/python3). pcapng samples are
# captured with dumpcap, classic pcap with tcpdump -i any (Linux cooked).
# Needs root, mosquitto, mosquitto-clients, tshark (dumpcap, editcap), tcpdump,
# python3-paho-mqtt, iproute2. Idempotent: existing samples are overwritten.
set -euo pipefail

SAMPLES=(mqtt31 mqtt311 mqtt5 mqtt5-topic-alias large-payload port1884 port17501 cooked-sll cooked-sll2)
# Ports tshark does not decode as MQTT by itself (same list as the README).
TSHARK_DA=(-d "tcp.port==1884,mqtt" -d "tcp.port==17501,mqtt")

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
PY=${MQTAP_PYTHON:-/usr/bin/python3}
PROG=make-samples
# shellcheck source=lib.sh
. "$HERE/lib.sh"

parse_args "$@"

# file name of each sample
sample_file() {
	case $1 in
	cooked-sll) echo cooked-sll.pcap ;;
	cooked-sll2) echo cooked-sll2.pcap.gz ;;
	*) echo "$1.pcapng" ;;
	esac
}


# ---------------------------------------------------------------- checking


# expect FILE FILTER MIN WHAT: at least MIN frames match the tshark display filter
expect() {
	local f=$1 filter=$2 min=$3 what=$4 n
	n=$(tshark_q -r "$f" -Y "$filter" -T fields -e frame.number | wc -l)
	if [ "$n" -lt "$min" ]; then
		echo "make-samples: $(basename "$f"): expected >= $min frames with $what ($filter), found $n" >&2
		return 1
	fi
}

check_sample() {
	local name=$1 f bad=0 m
	f=$OUT/$(sample_file "$name")
	[ -s "$f" ] || { echo "make-samples: $f missing" >&2; return 1; }
	m=$(tshark_q -r "$f" -Y '_ws.malformed' -T fields -e frame.number | wc -l)
	if [ "$m" -ne 0 ]; then echo "make-samples: $f: $m malformed frames (tshark)" >&2; bad=1; fi
	case $name in
	mqtt31 | mqtt311 | mqtt5)
		local ver
		case $name in mqtt31) ver=3 ;; mqtt311) ver=4 ;; *) ver=5 ;; esac
		expect "$f" "mqtt.ver == $ver" 10 "CONNECT level $ver" || bad=1
		expect "$f" 'mqtt.msgtype == 3 && mqtt.qos == 0' 3 'QoS 0 PUBLISH' || bad=1
		expect "$f" 'mqtt.msgtype == 4' 6 PUBACK || bad=1
		expect "$f" 'mqtt.msgtype == 5' 2 PUBREC || bad=1
		expect "$f" 'mqtt.msgtype == 6' 2 PUBREL || bad=1
		expect "$f" 'mqtt.msgtype == 7' 2 PUBCOMP || bad=1
		expect "$f" 'mqtt.msgtype == 3 && mqtt.retain == 1' 3 'retained PUBLISH' || bad=1
		expect "$f" 'mqtt.msgtype == 3 && tcp.srcport == 1883 && mqtt.retain == 1' 1 'retained copy to a subscriber' || bad=1
		expect "$f" 'mqtt.conflag.willflag == 1' 1 'CONNECT with a will' || bad=1
		expect "$f" 'mqtt.msgtype == 3 && mqtt.topic contains "will/"' 1 'will published to the subscriber' || bad=1
		expect "$f" 'mqtt.username == "alice" && mqtt.passwd' 5 'username + password' || bad=1
		expect "$f" 'mqtt.topic contains "température" && mqtt.msgtype == 3' 3 'UTF-8 topic' || bad=1
		expect "$f" 'mqtt.topic contains "工場"' 2 'CJK topic' || bad=1
		expect "$f" 'mqtt.msgtype == 3 && len(mqtt.msg) == 0' 3 'empty payload' || bad=1
		expect "$f" 'mqtt.msgtype == 10' 1 UNSUBSCRIBE || bad=1
		expect "$f" 'mqtt.msgtype == 11' 1 UNSUBACK || bad=1
		expect "$f" 'mqtt.msgtype == 12' 1 PINGREQ || bad=1
		expect "$f" 'mqtt.conack.val != 0 || (mqtt.connack.reason_code != 0)' 1 'refused CONNACK' || bad=1
		if [ "$name" = mqtt311 ]; then expect "$f" 'mqtt.suback.qos == 0x80' 1 'SUBACK failure 0x80' || bad=1; fi
		if [ "$name" = mqtt5 ]; then
			expect "$f" 'mqtt.suback.reason_code == 0x87' 1 'SUBACK 0x87 not authorized' || bad=1
			expect "$f" 'mqtt.puback.reason_code == 0x10' 1 'PUBACK 0x10 no matching subscribers' || bad=1
			expect "$f" 'mqtt.puback.reason_code == 0x87' 1 'PUBACK 0x87 not authorized' || bad=1
			expect "$f" 'mqtt.unsuback.reason_code == 0x11' 1 'UNSUBACK 0x11 no subscription existed' || bad=1
			expect "$f" 'mqtt.disconnect.reason_code == 0x04' 1 'DISCONNECT 0x04 with will' || bad=1
			expect "$f" 'mqtt.disconnect.reason_code == 0x95' 1 'DISCONNECT 0x95 packet too large' || bad=1
			expect "$f" 'mqtt.connack.reason_code == 0x8c' 1 'CONNACK 0x8C bad authentication method' || bad=1
			expect "$f" 'mqtt.property.content_type' 2 'content type' || bad=1
			expect "$f" 'mqtt.prop_key == "unité"' 1 'user property' || bad=1
			expect "$f" 'mqtt.property_id == 0x02' 2 'message expiry interval' || bad=1
			expect "$f" 'mqtt.property_id == 0x08' 1 'response topic' || bad=1
			expect "$f" 'mqtt.property_id == 0x09' 1 'correlation data' || bad=1
			expect "$f" 'mqtt.property_id == 0x0b && mqtt.msgtype == 3' 3 'subscription identifier on PUBLISH' || bad=1
			expect "$f" 'mqtt.subscription_options_nl == 1' 1 'no-local' || bad=1
			expect "$f" 'mqtt.subscription_options_rap == 1' 1 'retain-as-published' || bad=1
			expect "$f" 'mqtt.subscription_options_retain == 2' 1 'retain handling 2' || bad=1
			expect "$f" 'mqtt.property_id == 0x12' 1 'assigned client identifier' || bad=1
			expect "$f" 'mqtt.will_properties' 1 'will properties' || bad=1
		fi
		;;
	mqtt5-topic-alias)
		expect "$f" 'mqtt.property.topic_alias && mqtt.topic_len == 0' 6 'PUBLISH with empty topic + alias' || bad=1
		expect "$f" 'mqtt.disconnect.reason_code == 0x94' 1 'DISCONNECT 0x94 topic alias invalid' || bad=1
		;;
	large-payload)
		expect "$f" 'mqtt.len > 204800' 2 'PUBLISH over 200 KB (both directions)' || bad=1
		if [ "$(tshark_q -r "$f" -Y 'tcp.len > 1448' | wc -l)" -ne 0 ]; then echo "make-samples: $f: segment over 1448 bytes" >&2; bad=1; fi
		;;
	port1884) expect "$f" 'tcp.port == 1884 && mqtt.msgtype == 3' 4 'PUBLISH on 1884' || bad=1 ;;
	port17501) expect "$f" 'tcp.port == 17501 && mqtt.msgtype == 12' 1 'PINGREQ of the connection whose CONNECT was not captured' || bad=1 ;;
	cooked-sll) expect "$f" 'sll && ipv6 && mqtt' 4 'SLL + IPv6' || bad=1 ;;
	cooked-sll2) expect "$f" 'sll && ipv6 && mqtt' 4 'SLL2 + IPv6' || bad=1 ;;
	esac
	printf '%-22s %s\n' "$(sample_file "$name")" "$(count_line "$f")"
	return $bad
}

check_mode

# ---------------------------------------------------------------- setup
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for t in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd dumpcap tcpdump ip ss gzip; do
	command -v $t >/dev/null || die "$t is missing (apt-get install mosquitto mosquitto-clients tshark tcpdump iproute2)"
done
"$PY" -c 'import paho.mqtt.client' 2>/dev/null || die "$PY cannot import paho.mqtt (apt-get install python3-paho-mqtt, or set MQTAP_PYTHON)"

samples_work

samples_netns


# wait_more FILE PATTERN N [SECONDS]: until PATTERN occurs more than N times in FILE
wait_more() {
	local f=$1 pat=$2 n=$3 t=${4:-10} i
	for ((i = 0; i < t * 20; i++)); do
		[ "$(grep -cF -- "$pat" "$f" 2>/dev/null || true)" -gt "$n" ] && return 0
		sleep 0.05
	done
	die "timed out waiting for another '$pat' in $f"
}


# credentials: password_file users (mosquitto_passwd -b) and one dynamic
# security user (carol), because mosquitto 2.0's acl_file never refuses a
# SUBSCRIBE (it only filters delivery) while the dynsec plugin does (SUBACK 0x80/0x87).
mosquitto_passwd -c -b "$WORK/passwd" alice wonderland 2>/dev/null
mosquitto_passwd -b "$WORK/passwd" bob builder 2>/dev/null
cat >"$WORK/acl" <<'EOF'
user alice
topic deny secret/#
topic readwrite #

user bob
topic read ordres/#
topic write will/#
EOF
"$PY" - "$WORK/dynsec.json" <<'EOF'
import base64, hashlib, json, os, sys
salt = os.urandom(12)
pw = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"carolpw", salt, 101)).decode()
json.dump({
    "clients": [{"username": "carol", "password": pw, "salt": base64.b64encode(salt).decode(),
                 "iterations": 101, "roles": [{"rolename": "capteurs"}]}],
    "roles": [{"rolename": "capteurs", "acls": [
        {"acltype": "subscribePattern", "topic": "secret/#", "allow": False, "priority": 10},
        {"acltype": "subscribePattern", "topic": "#", "allow": True},
        {"acltype": "publishClientSend", "topic": "#", "allow": True},
        {"acltype": "publishClientReceive", "topic": "#", "allow": True}]}],
    "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                         "subscribe": False, "unsubscribe": True},
}, open(sys.argv[1], "w"), indent=1)
EOF

# deterministic 220,000-byte text payload for the large sample
"$PY" - "$WORK/large.txt" <<'EOF'
import sys
out, i = [], 0
while sum(map(len, out)) < 220000:
    out.append("%06d capteurs/température/salle-1 mesure=%d.%d°C horodatage=%d\n" % (i, 18 + i % 7, i % 10, 1700000000 + i))
    i += 1
data = "".join(out).encode()[:220000]
open(sys.argv[1], "wb").write(data)
EOF

# Python peers (paho-mqtt 1.6.x API) for what mosquitto_pub/sub cannot do.
cat >"$WORK/peer.py" <<'EOF'
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions
from paho.mqtt.reasoncodes import ReasonCodes

PORT = int(sys.argv[2])

class Peer:
    """A paho client driven by hand (client.loop), so nothing reconnects behind our back."""
    def __init__(self, cid, version=mqtt.MQTTv5, user=None, pw=None, will=None):
        self.c = mqtt.Client(client_id=cid, protocol=version,
                             **({} if version == mqtt.MQTTv5 else {"clean_session": True}))
        self.v5 = version == mqtt.MQTTv5
        if user:
            self.c.username_pw_set(user, pw)
        if will:
            self.c.will_set(**will)
        self.connack = None
        self.closed = False
        self.acked = set()
        self.msgs = []
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = lambda c, u, mid: self.acked.add(mid)
        self.c.on_subscribe = lambda c, u, mid, *a: self.acked.add(mid)
        self.c.on_unsubscribe = lambda c, u, mid, *a: self.acked.add(mid)
        self.c.on_message = lambda c, u, m: self.msgs.append(m)
    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack = rc
    def _on_disconnect(self, c, u, rc, props=None):
        self.closed = True
    def connect(self, props=None, keepalive=60):
        kw = {"clean_start": True, "properties": props} if self.v5 else {}
        self.c.connect("127.0.0.1", PORT, keepalive, **kw)
        pump([self], lambda: self.connack is not None)
        return self
    def wait(self, mid):
        pump([self], lambda: mid in self.acked)
    def pub(self, topic, payload, qos=0, retain=False, props=None, wait=True):
        info = self.c.publish(topic, payload, qos, retain, properties=props)
        if wait and qos:
            self.wait(info.mid)
        return info
    def sub(self, topics, props=None):
        rc, mid = self.c.subscribe(topics, properties=props)
        self.wait(mid)
    def unsub(self, topics, props=None):
        rc, mid = self.c.unsubscribe(topics, properties=props)
        self.wait(mid)
    def bye(self, reason=None, props=None):
        if self.v5:
            self.c.disconnect(reasoncode=reason, properties=props)
        else:
            self.c.disconnect()
        pump([self], lambda: self.closed, 2)

def pump(peers, cond, timeout=10):
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise SystemExit("peer.py: timed out")
        for p in peers:
            if not p.closed:
                p.c.loop(0.01)

def settle(peers, secs=0.3):
    end = time.time() + secs
    while time.time() < end:
        for p in peers:
            if not p.closed:
                p.c.loop(0.01)

def props(ptype, **kw):
    p = Properties(ptype)
    for k, v in kw.items():
        setattr(p, k, v)
    return p

def alias(n, **kw):
    return props(PacketTypes.PUBLISH, TopicAlias=n, **kw)

def scenario_topic_alias():
    # broker (mosquitto 2.0) announces Topic Alias Maximum 10 in CONNACK
    a = Peer("alias-5").connect()
    a.pub("capteurs/température/salle-1", b"21.5", 0, props=alias(1))
    a.pub("", b"21.6", 0, props=alias(1))
    a.pub("", b"21.7", 1, props=alias(1))
    a.pub("工場/温度/センサー1", "22.0 °C".encode(), 1, props=alias(2))
    a.pub("", "22.1 °C".encode(), 2, props=alias(2))
    a.pub("", b"21.8", 2, props=alias(1))
    a.pub("capteurs/humidité/salle-1", b"45 %", 1, props=alias(1))   # alias 1 re-mapped
    a.pub("", b"46 %", 1, props=alias(1))                            # -> capteurs/humidité/salle-1
    a.pub("", "22.2 °C".encode(), 0, props=alias(2))
    a.pub("", b"", 1, props=alias(2))                                # empty topic and empty payload
    settle([a])
    a.bye()
    # aliases are per connection: alias 1 means something else here
    b = Peer("alias-5b").connect()
    b.pub("capteurs/pression/salle-1", b"1013 hPa", 1, props=alias(1))
    b.pub("", b"1012 hPa", 1, props=alias(1))
    settle([b])
    b.bye()
    # protocol violation: alias 11 is above the broker's maximum of 10 -> DISCONNECT 0x94
    c = Peer("alias-5c").connect()
    c.pub("capteurs/x", b"hors limite", 1, props=alias(11), wait=False)
    pump([c], lambda: c.closed)

def scenario_v5_options():
    will = {"topic": "will/options-5", "payload": "options-5 est parti", "qos": 1,
            "properties": props(PacketTypes.WILLMESSAGE, WillDelayInterval=0,
                                ContentType="text/plain", UserProperty=[("cause", "déconnexion 0x04")])}
    a = Peer("options-5", user="alice", pw="wonderland", will=will)
    a.connect(props(PacketTypes.CONNECT, SessionExpiryInterval=120, ReceiveMaximum=10,
                    MaximumPacketSize=262144, TopicAliasMaximum=0, RequestResponseInformation=1,
                    RequestProblemInformation=1, UserProperty=[("outil", "mqtap-samples")]))
    # B: empty client id -> the broker assigns one (CONNACK Assigned Client Identifier)
    b = Peer("", user="alice", pw="wonderland").connect()
    b.pub("retenu/salle-1", b"ancien", 1, retain=True)
    sub_uprop = [("abonnement", "options")]
    a.sub([("capteurs/#", SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True,
                                           retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)),
           ("工場/#", SubscribeOptions(qos=2, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))],
          props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42, UserProperty=sub_uprop))
    # retain handling 1: retained message only on a new subscription
    opt = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
    a.sub([("retenu/#", opt)], props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    a.sub([("retenu/#", opt)], props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    a.pub("capteurs/température/salle-4", b"20.1", 1)      # no-local: not sent back to a
    b.pub("capteurs/température/salle-5", b"19.9", 1, retain=True)   # a gets retain=1 (RAP), sub id 42
    b.pub("工場/温度/センサー2", "23.4 °C".encode(), 2)               # sub id 42, QoS 2 both ways
    b.pub("retenu/salle-2", b"nouveau", 1)                             # sub id 7
    b.pub("personne/écoute", b"qos1", 1)                               # PUBACK 0x10
    b.pub("personne/écoute", b"qos2", 2)                               # PUBREC 0x10
    b.pub("secret/plans", b"refus", 1)                                 # PUBACK 0x87 (ACL)
    pump([a, b], lambda: len(a.msgs) >= 5)
    settle([a, b])
    a.unsub(["capteurs/#", "jamais/abonné"], props(PacketTypes.UNSUBSCRIBE, UserProperty=sub_uprop))
    b.bye()
    a.bye(ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"),
          props(PacketTypes.DISCONNECT, SessionExpiryInterval=0, ReasonString="fin de l'exemple"))
    # broker max_packet_size is 4096 here: a 5000-byte PUBLISH -> DISCONNECT 0x95
    c = Peer("trop-gros-5", user="alice", pw="wonderland").connect()
    c.pub("capteurs/gros", b"x" * 5000, 1, wait=False)
    pump([c], lambda: c.closed)

def scenario_lab():
    # the secure MQTT lab's shape: <netid>/<action>/request|response, QoS 1, port 1884,
    # MQTT 3.1.1 as the lab's Python clients (paho) speak it; payloads in clear here.
    r = Peer("responder", mqtt.MQTTv311).connect()
    r.sub([("+/uppercase/request", 1), ("+/key-exchange/request", 1)])
    q = Peer("le0nh4rt", mqtt.MQTTv311).connect()
    q.sub([("le0nh4rt/uppercase/response", 1)])
    for text in ("Networking is the best!", "Capteurs: température élevée"):
        n = len(r.msgs)
        q.pub("le0nh4rt/uppercase/request", text.encode(), 1, wait=False)
        pump([q, r], lambda: len(r.msgs) > n)
        m = r.msgs[-1]
        r.pub(m.topic.replace("/request", "/response"), m.payload.decode().upper().encode(), 1, wait=False)
        pump([q, r], lambda: len(q.msgs) > n)
    settle([q, r])
    q.bye()
    r.bye()

globals()["scenario_" + sys.argv[1].replace("-", "_")]()
EOF

# ---------------------------------------------------------------- helpers
# start_broker NAME PORT AUTH(auth|anon) [extra config line]...
start_broker() {
	local name=$1 port=$2 auth=$3 conf=$WORK/$1.conf
	shift 3
	{
		echo "per_listener_settings false"
		echo "listener $port 127.0.0.1"
		echo "persistence false"
		echo "user root"
		echo "log_dest file $WORK/$name-broker.log"
		echo "log_type all"
		if [ "$auth" = auth ]; then
			echo "allow_anonymous false"
			echo "password_file $WORK/passwd"
			echo "acl_file $WORK/acl"
			echo "plugin /usr/lib/$(uname -m)-linux-gnu/mosquitto_dynamic_security.so"
			echo "plugin_opt_config_file $WORK/dynsec.json"
		else
			echo "allow_anonymous true"
		fi
		local l
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	run_broker "$name" "$conf" "$port"
}

# start_capture FILE FILTER MODE: MODE pcapng (dumpcap on lo) | sll | sll2 (tcpdump -i any)

# sub_bg LOG ARGS...: mosquitto_sub -d in the background, wait for its SUBACK
SUB_PID=
sub_bg() {
	local out=$1
	shift
	ip netns exec "$NS" stdbuf -oL mosquitto_sub -d "$@" >"$out" 2>&1 &
	SUB_PID=$!
	PIDS+=("$SUB_PID")
	wait_for "$out" "received SUBACK"
}
# sub_settle LOG N: the subscriber got >= N PUBLISHes and finished every QoS 2 flow
sub_settle() {
	local out=$1 n=$2 i p q2 c
	for ((i = 0; i < 200; i++)); do
		p=$(grep -c 'received PUBLISH' "$out" || true)
		q2=$(grep -cE 'received PUBLISH \(d[01], q2' "$out" || true)
		c=$(grep -c 'sending PUBCOMP' "$out" || true)
		if [ "$p" -ge "$n" ] && [ "$c" -ge "$q2" ]; then
			sleep 0.2
			return 0
		fi
		sleep 0.05
	done
	die "subscriber log $out: expected $n PUBLISHes and all QoS 2 flows done, got $p PUBLISHes, $c/$q2 PUBCOMPs"
}
sub_stop() { # sub_stop PID [SIGNAL]
	kill "-${2:-INT}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# ---------------------------------------------------------------- samples
# MQTT 3.1 / 3.1.1 / 5 on port 1883, username/password broker.
sample_version() {
	local name=$1 tag ver extra_broker=() v5=0
	case $name in
	mqtt31) tag=31 ver=mqttv31 ;;
	mqtt311) tag=311 ver=mqttv311 ;;
	mqtt5) tag=5 ver=5 v5=1 extra_broker=("max_packet_size 4096") ;;
	esac
	local P=(-h 127.0.0.1 -p 1883 -V "$ver")
	local A=(-u alice -P wonderland)
	local cap=$WORK/$name.pcapng
	start_broker "$name" 1883 auth "${extra_broker[@]}"
	start_capture "$cap" "tcp port 1883" pcapng

	# 1. retained message published before anyone subscribes (QoS 1)
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "retenu-$tag" -q 1 -r -t 'capteurs/température/salle-1' -m '21.5'
	# 2. subscriber (QoS 2, four filters, keepalive 5 s so a PINGREQ shows up); gets the retained copy
	local sprops=()
	if [ $v5 = 1 ]; then
		sprops=(-x 300 -D connect user-property rôle abonné -D connect receive-maximum 20
			-D connect maximum-packet-size 4096 -D connect topic-alias-maximum 4
			-D connect request-response-information 1 -D subscribe user-property origine mqtap)
	fi
	sub_bg "$WORK/sub.out" "${P[@]}" "${A[@]}" -i "abonne-$tag" -k 5 -q 2 -v "${sprops[@]}" \
		-t 'capteurs/#' -t '工場/#' -t 'will/#' -t 'vide/#'
	local spid=$SUB_PID
	wait_for "$WORK/sub.out" "capteurs/température/salle-1 21.5"
	# 3. a SUBSCRIBE refused by the ACL (dynsec user carol): SUBACK 0x80 (3.1.1) / 0x87 (5);
	#    mosquitto grants it (0x00) to MQTT 3.1 clients, which have no failure code
	nsx mosquitto_sub "${P[@]}" -u carol -P carolpw -i "carol-$tag" -t 'secret/#' -t 'usine/#' -E >/dev/null
	# 4. QoS 0, 1, 2 on UTF-8 topics (and UTF-8 payloads)
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "capteur-$tag" -q 0 -t 'capteurs/température/salle-1' -m '21.7'
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "usine-$tag" -q 1 -t '工場/温度/センサー1' -m '22.0 °C'
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "hygro-$tag" -q 2 -t 'capteurs/humidité/salle-1' -m '45 %'
	# 5. empty payload (QoS 1)
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "vide-$tag" -q 1 -n -t 'vide/ping'
	# 6. retained while subscribed (forwarded with retain 0), then the retained message deleted
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "retenu2-$tag" -q 0 -r -t 'capteurs/température/salle-2' -m '19.0'
	nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "efface-$tag" -q 1 -r -n -t 'capteurs/température/salle-1'
	# 7. MQTT 5 publish properties
	if [ $v5 = 1 ]; then
		nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "props-$tag" -q 1 -t 'capteurs/température/salle-3' \
			-m '{"t":20.5,"unité":"°C"}' \
			-D publish content-type 'application/json; charset=utf-8' \
			-D publish payload-format-indicator 1 \
			-D publish message-expiry-interval 3600 \
			-D publish response-topic 'réponses/salle-3' \
			-D publish correlation-data 'req-0042' \
			-D publish user-property capteur salle-3 \
			-D publish user-property unité '°C'
	fi
	# 8. will: a client killed with SIGKILL (no DISCONNECT) -> broker publishes its will (QoS 1, retained)
	local wprops=()
	if [ $v5 = 1 ]; then
		wprops=(-D will content-type text/plain -D will message-expiry-interval 600
			-D will user-property cause 'SIGKILL' -D will will-delay-interval 0)
	fi
	sub_bg "$WORK/will.out" "${P[@]}" -u bob -P builder -i "mourant-$tag" -t "ordres/mourant-$tag" \
		--will-topic "will/mourant-$tag" --will-payload "mourant-$tag a disparu" --will-qos 1 --will-retain "${wprops[@]}"
	sub_stop "$SUB_PID" KILL
	wait_for "$WORK/sub.out" "will/mourant-$tag"
	# 9. wrong password: CONNACK refused (mosquitto: 5 "not authorized" for 3.x, 0x87 for 5)
	nsx mosquitto_pub "${P[@]}" -u alice -P mauvais -i "intrus-$tag" -t 'capteurs/x' -m 'y' 2>/dev/null || true
	if [ $v5 = 1 ]; then
		# CONNECT with an authentication method the broker does not support: CONNACK 0x8C
		nsx mosquitto_pub "${P[@]}" "${A[@]}" -i "scram-$tag" -D connect authentication-method SCRAM-SHA-1 \
			-D connect authentication-data 'n,,n=alice,r=abc' -t 'capteurs/x' -m 'y' 2>/dev/null || true
		# subscription options/identifiers, assigned client id, reason codes, DISCONNECT 0x04 / 0x95
		nsx "$PY" "$WORK/peer.py" v5-options 1883
	fi
	# 10. SUBSCRIBE + UNSUBSCRIBE from one client (mosquitto_sub -U; with -E it would
	#     exit on the SUBACK, before the UNSUBACK arrives)
	sub_bg "$WORK/unsub.out" "${P[@]}" "${A[@]}" -i "desabonne-$tag" -t 'ordres/#' -U 'ordres/#'
	wait_for "$WORK/unsub.out" "received UNSUBACK"
	sub_stop "$SUB_PID" INT
	# 11. PINGREQ/PINGRESP of the subscriber, then it disconnects (SIGINT: DISCONNECT;
	#     mosquitto_sub 2.0 sends reason 0x04 "with will message" in MQTT 5)
	wait_for "$WORK/sub.out" "received PINGRESP" 15
	sub_settle "$WORK/sub.out" $((8 + 5 * v5))
	sub_stop "$spid" INT
	stop_capture
	stop_broker
	install -m 0644 "$cap" "$OUT/$name.pcapng"
}

sample_topic_alias() {
	local cap=$WORK/alias.pcapng
	start_broker alias 1883 anon
	start_capture "$cap" "tcp port 1883" pcapng
	sub_bg "$WORK/sub.out" -h 127.0.0.1 -p 1883 -V 5 -i abonne-alias -q 2 -v -t 'capteurs/#' -t '工場/#'
	local spid=$SUB_PID
	nsx "$PY" "$WORK/peer.py" topic-alias 1883
	# mosquitto_pub -l with a topic-alias property: full topic + alias on the first line,
	# then empty topic + alias (so mosquitto_pub can do aliases, but only for one topic)
	printf 'ligne 1\nligne 2\nligne 3\n' | nsx mosquitto_pub -h 127.0.0.1 -p 1883 -V 5 -i lignes-alias \
		-q 1 -l -t 'capteurs/lignes' -D publish topic-alias 3
	sub_settle "$WORK/sub.out" 15
	sub_stop "$spid" INT
	stop_capture
	stop_broker
	install -m 0644 "$cap" "$OUT/mqtt5-topic-alias.pcapng"
}

sample_large() {
	local cap=$WORK/large.pcapng
	start_broker large 1883 anon
	start_capture "$cap" "tcp port 1883" pcapng
	sub_bg "$WORK/sub.out" -h 127.0.0.1 -p 1883 -V 5 -i abonne-gros -q 1 -C 2 -t 'gros/#'
	local spid=$SUB_PID
	nsx mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i gros-311 -q 1 -t 'gros/relevés' -f "$WORK/large.txt"
	nsx mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i fin-311 -q 1 -t 'gros/fin' -m 'fin'
	wait "$spid" || true # exits after 2 messages (-C 2)
	forget_pid "$spid"
	stop_capture
	stop_broker
	install -m 0644 "$cap" "$OUT/large-payload.pcapng"
}

sample_port1884() {
	local cap=$WORK/p1884.pcapng
	start_broker p1884 1884 anon
	start_capture "$cap" "tcp port 1884" pcapng
	sub_bg "$WORK/sub.out" -h 127.0.0.1 -p 1884 -V 5 -i observateur -q 1 -v -t '+/uppercase/#'
	local spid=$SUB_PID
	nsx "$PY" "$WORK/peer.py" lab 1884
	sub_settle "$WORK/sub.out" 4
	sub_stop "$spid" INT
	stop_capture
	stop_broker
	install -m 0644 "$cap" "$OUT/port1884.pcapng"
}

sample_port17501() {
	local cap=$WORK/p17501.pcapng
	start_broker p17501 17501 anon
	# connected BEFORE the capture starts: its CONNECT/SUBSCRIBE are not in the file
	sub_bg "$WORK/early.out" -h 127.0.0.1 -p 17501 -V mqttv311 -i deja-connecte -k 5 -q 2 -v -t 'labo/#'
	local early=$SUB_PID
	start_capture "$cap" "tcp port 17501" pcapng
	local pings
	pings=$(grep -cF "received PINGRESP" "$WORK/early.out" || true)
	sub_bg "$WORK/sub.out" -h 127.0.0.1 -p 17501 -V 5 -i abonne-17501 -q 1 -v -t 'labo/#'
	local spid=$SUB_PID
	nsx mosquitto_pub -h 127.0.0.1 -p 17501 -V mqttv31 -i pub-31 -q 1 -t 'labo/v31' -m 'MQTT 3.1 QoS 1'
	nsx mosquitto_pub -h 127.0.0.1 -p 17501 -V mqttv311 -i pub-311 -q 2 -t 'labo/v311' -m 'MQTT 3.1.1 QoS 2'
	nsx mosquitto_pub -h 127.0.0.1 -p 17501 -V 5 -i pub-5 -q 0 -t 'labo/v5' -m 'MQTT 5 QoS 0'
	nsx mosquitto_pub -h 127.0.0.1 -p 17501 -V 5 -i pub-5b -q 2 -t 'labo/v5' -m 'MQTT 5 QoS 2'
	wait_more "$WORK/early.out" "received PINGRESP" "$pings" 15
	sub_settle "$WORK/sub.out" 4
	sub_settle "$WORK/early.out" 4
	sub_stop "$spid" INT
	sub_stop "$early" INT
	stop_capture
	stop_broker
	install -m 0644 "$cap" "$OUT/port17501.pcapng"
}

sample_cooked() { # cooked-sll | cooked-sll2
	local name=$1 mode=${1#cooked-} cap=$WORK/$1.pcap
	start_broker "$name" 1883 anon "listener 1883 ::1"
	start_capture "$cap" "tcp port 1883" "$mode"
	sub_bg "$WORK/sub.out" -h ::1 -p 1883 -V 5 -i abonne-v6 -q 2 -v -t 'cuisine/#'
	local spid=$SUB_PID
	nsx mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i pub-v4 -q 1 -t 'cuisine/four' -m '180 °C (IPv4)'
	nsx mosquitto_pub -h ::1 -p 1883 -V mqttv31 -i pub-v6 -q 2 -t 'cuisine/frigo' -m '4 °C (IPv6)'
	nsx mosquitto_pub -h ::1 -p 1883 -V 5 -i pub-v6-5 -q 0 -t 'cuisine/évier' -m 'IPv6, MQTT 5'
	sub_settle "$WORK/sub.out" 3
	sub_stop "$spid" INT
	stop_capture
	stop_broker
	if [ "$mode" = sll2 ]; then
		gzip -9 -n -c "$cap" >"$OUT/$name.pcap.gz"
	else
		cp "$cap" "$OUT/$name.pcap"
	fi
}

for n in "${WANT[@]}"; do
	log "$n"
	case $n in
	mqtt31 | mqtt311 | mqtt5) sample_version "$n" ;;
	mqtt5-topic-alias) sample_topic_alias ;;
	large-payload) sample_large ;;
	port1884) sample_port1884 ;;
	port17501) sample_port17501 ;;
	cooked-sll | cooked-sll2) sample_cooked "$n" ;;
	esac
done
log "checking with tshark"
check_all

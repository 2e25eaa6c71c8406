"""payloadpub.py: publishes structured payloads through a real broker, for
mqtap's structured payload tests, and prints what it sent as JSON lines.

  /usr/bin/python3 payloadpub.py --host H --port P --pb-dir DIR

DIR holds reading_pb2.py and sparkplug_b_pb2.py (protoc --python_out from
scripts/proto). Each message is sent with QoS 1 and acknowledged before
the next; --series N adds N readings of a boiler to plot. Each line printed is {"topic", "format", "value"} (the value as
JSON, which mqtap must decode to) or {"topic", "finding"} for a payload
that is not the format it claims. Formats: JSON (MQTT 3.1.1 and 5), a
UTF-8 number, CBOR and MessagePack named by the MQTT 5 Content Type,
protobuf and gzip-compressed JSON named by keyring rules (the test's
keyring), and an edge node's Sparkplug B births, data with aliases only,
a sequence gap and its death, as the Sparkplug 3.0 specification orders
them. Needs python3-paho-mqtt 1.6, -cbor2, -msgpack, -protobuf."""

import argparse
import gzip
import json
import math
import sys
import time

import cbor2
import msgpack
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes


def fail(msg):
    print("payloadpub: " + msg, file=sys.stderr)
    sys.exit(1)


class Client:
    """One paho client, each publish waited for (QoS 1)."""

    def __init__(self, host, port, client_id, v5, will=None):
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        kw = {} if v5 else {"clean_session": True}
        self.c = mqtt.Client(client_id=client_id, protocol=proto, **kw)
        self.v5 = v5
        if will:
            self.c.will_set(will[0], will[1], qos=1)
        self.c.connect(host, port, 30)
        self.c.loop_start()

    def publish(self, topic, data, content_type=None, utf8=False):
        props = None
        if self.v5 and (content_type or utf8):
            props = Properties(PacketTypes.PUBLISH)
            if content_type:
                props.ContentType = content_type
            if utf8:
                props.PayloadFormatIndicator = 1
        info = self.c.publish(topic, data, qos=1, properties=props)
        info.wait_for_publish(10)
        if not info.is_published():
            fail("publish to %s not acknowledged" % topic)

    def close(self, clean=True):
        if clean:
            self.c.disconnect()
            self.c.loop_stop()
            return
        self.c.loop_stop()
        self.c.socket().close()  # a lost connection: the broker sends the will


def sent(**kw):
    print(json.dumps(kw, separators=(",", ":")), flush=True)


def plain(c311, c5):
    value = {"t": 23.5, "unit": "°C", "ok": True, "n": None}
    c311.publish("lab/json", json.dumps(value, indent=1))
    sent(topic="lab/json", format="json", value=value)
    c311.publish("lab/text", " 21.25\n")
    sent(topic="lab/text", format="text", value=21.25)
    v5value = {"t": 19, "tags": ["a", "b"]}
    c5.publish("lab/json5", json.dumps(v5value), content_type="application/json")
    sent(topic="lab/json5", format="json", value=v5value)
    c5.publish("lab/utf8", "hello", utf8=True)
    sent(topic="lab/utf8", format="text", value="hello")


def binary(c5, pb):
    value = {"t": 24.5, "n": [1, 2, 3], "neg": -7, "name": "s1"}
    c5.publish("lab/cbor", cbor2.dumps(value), content_type="application/cbor")
    sent(topic="lab/cbor", format="cbor", value=value)
    c5.publish("lab/cbor-bytes", cbor2.dumps({"raw": b"\x01\xab"}), content_type="application/cbor")
    sent(topic="lab/cbor-bytes", format="cbor", value={"raw": "01ab"})
    value = {"t": 25.25, "ok": False, "list": [1, "x"]}
    c5.publish("lab/msgpack", msgpack.packb(value), content_type="application/msgpack")
    sent(topic="lab/msgpack", format="msgpack", value=value)
    r = pb.Reading(sensor="s1", value=26.5, status=1, ts_ms=1700000000123, samples=[-1, 2, -3])
    r.labels["line"] = "1"
    c5.publish("factory/line1/reading", r.SerializeToString())
    sent(topic="factory/line1/reading", format="protobuf",
         value={"sensor": "s1", "value": 26.5, "status": "OK", "ts_ms": 1700000000123, "samples": [-1, 2, -3], "labels": {"line": "1"}})
    value = {"zipped": True, "t": 27}
    c5.publish("zip/data", gzip.compress(json.dumps(value).encode()))
    sent(topic="zip/data", format="json", value=value)
    c5.publish("lab/bad-cbor", b"\xff\xfe", content_type="application/cbor")
    sent(topic="lab/bad-cbor", finding="payload.malformed")
    c5.publish("lab/bad-json", b'{"t": 1,', content_type="application/json")
    sent(topic="lab/bad-json", finding="payload.malformed")
    bomb = gzip.compress(b"[" + b"0," * 3_000_000 + b"0]")
    c5.publish("zip/bomb", bomb)
    sent(topic="zip/bomb", finding="mqtap.limit")


def metric(sp, name=None, alias=None, dtype=None, **value):
    m = sp.Payload.Metric()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    if dtype is not None:
        m.datatype = dtype
    for k, v in value.items():
        setattr(m, k, v)
    return m


def spark(host, port, sp):
    """An edge node E1 of group G1 with a device D1, per Sparkplug 3.0:
    NDEATH as its will, NBIRTH (seq 0), DBIRTH, data with aliases only,
    a skipped seq, then a lost connection (the broker sends the NDEATH)."""
    ns = "spBv1.0/G1"
    death = sp.Payload(timestamp=1700000000000)
    death.metrics.append(metric(sp, "bdSeq", dtype=8, long_value=0))
    node = Client(host, port, "edge-E1", False, will=(ns + "/NDEATH/E1", death.SerializeToString()))

    def publish(topic, seq, metrics, expect, ts):
        p = sp.Payload(timestamp=ts, seq=seq)
        p.metrics.extend(metrics)
        node.publish(ns + topic, p.SerializeToString())
        sent(topic=ns + topic, format="sparkplugb", value={"timestamp": ts, "seq": seq, "metrics": expect})

    publish("/NBIRTH/E1", 0, [metric(sp, "bdSeq", dtype=8, long_value=0),
                              metric(sp, "Temperature", 1, 10, double_value=20.5),
                              metric(sp, "Pressure", 2, 3, int_value=(-5) & 0xffffffff)],
            {"bdSeq": 0, "Temperature": 20.5, "Pressure": -5}, 1700000000001)
    publish("/DBIRTH/E1/D1", 1, [metric(sp, "Speed", 3, 7, int_value=100), metric(sp, "Label", 4, 12, string_value="idle")],
            {"Speed": 100, "Label": "idle"}, 1700000000002)
    publish("/NDATA/E1", 2, [metric(sp, alias=1, dtype=10, double_value=21.5)], {"Temperature": 21.5}, 1700000000003)
    publish("/DDATA/E1/D1", 3, [metric(sp, alias=3, dtype=7, int_value=120), metric(sp, alias=4, dtype=12, string_value="run")],
            {"Speed": 120, "Label": "run"}, 1700000000004)
    publish("/NDATA/E1", 5, [metric(sp, alias=2, dtype=3, int_value=7)], {"Pressure": 7}, 1700000000005)
    sent(topic=ns + "/NDATA/E1", finding="sparkplug.seq-gap")
    node.close(clean=False)
    sent(topic=ns + "/NDEATH/E1", format="sparkplugb", value={"timestamp": 1700000000000, "metrics": {"bdSeq": 0}})


def series(c, n):
    """n readings of a boiler: a JSON object and a plain number."""
    for i in range(n):
        value = {"t": round(60 + 15 * math.sin(i / 20), 2), "p": round(2 + (i % 50) / 25, 2), "on": i % 40 < 20}
        c.publish("plant/boiler/temp", json.dumps(value))
        sent(topic="plant/boiler/temp", format="json", value=value)
        c.publish("plant/boiler/level", str(50 + i % 30))
        sent(topic="plant/boiler/level", format="text", value=50 + i % 30)
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pb-dir", required=True)
    ap.add_argument("--series", type=int, default=0,
                    help="then N readings of a boiler (JSON and a plain number), 20 ms apart, to plot")
    args = ap.parse_args()
    sys.path.insert(0, args.pb_dir)
    import reading_pb2
    import sparkplug_b_pb2

    # a subscriber on everything, so the broker forwards each message too
    sub = Client(args.host, args.port, "sub-all", True)
    sub.c.subscribe("#", qos=1)
    time.sleep(0.3)
    c311 = Client(args.host, args.port, "pub-311", False)
    c5 = Client(args.host, args.port, "pub-5", True)
    plain(c311, c5)
    binary(c5, reading_pb2)
    spark(args.host, args.port, sparkplug_b_pb2)
    series(c311, args.series)
    time.sleep(0.5)
    for c in (c311, c5, sub):
        c.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, never a traceback
        fail("%s: %s" % (type(e).__name__, e))

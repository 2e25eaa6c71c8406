"""mqttpeer.py: the paho-mqtt 1.6 client the sample senders share
(sealed_sender.py, signed_sender.py): one thread, driven by hand, with
one-line errors. Imported from the scripts' directory; run them with
/usr/bin/python3 (python3-paho-mqtt)."""

import time

import paho.mqtt.client as mqtt

class Fail(Exception):
    """A runtime error: one line on stderr, exit status 1."""


class Stop(BaseException):
    """SIGINT/SIGTERM. Not an Exception: paho 1.6's loop() swallows those."""


class Peer:
    """A paho 1.6 client driven by hand (client.loop), one thread."""

    def __init__(self, args, client_id):
        proto = mqtt.MQTTv5 if args.protocol == "5" else mqtt.MQTTv311
        kw = {} if proto == mqtt.MQTTv5 else {"clean_session": True}
        self.c = mqtt.Client(client_id=client_id or "", protocol=proto, **kw)
        self.v5 = proto == mqtt.MQTTv5
        self.addr = "%s:%d" % (args.host, args.port)
        self.connack = None
        self.closed = False
        self.acked = {}
        self.msgs = []
        if args.username is not None:
            self.c.username_pw_set(args.username, args.password)
        self.c.on_connect = lambda c, u, f, rc, p=None: setattr(self, "connack", rc)
        self.c.on_disconnect = lambda c, u, rc, p=None: setattr(self, "closed", True)
        self.c.on_publish = lambda c, u, mid: self.acked.setdefault(mid, None)
        self.c.on_subscribe = lambda c, u, mid, granted, p=None: self.acked.__setitem__(mid, granted)
        self.c.on_message = lambda c, u, m: self.msgs.append(m)
        try:
            kw = {"clean_start": True} if self.v5 else {}
            self.c.connect(args.host, args.port, 30, **kw)
        except OSError as e:
            raise Fail("cannot reach the MQTT broker at %s: %s" % (self.addr, e.strerror or e))
        self.pump(lambda: self.connack is not None, 10, "CONNACK")
        if self.connack != 0:
            raise Fail("the MQTT broker at %s refused the connection: %s" % (
                self.addr, mqtt.connack_string(self.connack) if isinstance(self.connack, int) else self.connack))

    def pump(self, cond, timeout, what):
        end = time.monotonic() + timeout
        while not cond():
            if self.closed:
                raise Fail("connection to %s lost while waiting for %s" % (self.addr, what))
            if time.monotonic() > end:
                raise Fail("timed out after %gs waiting for %s from %s" % (timeout, what, self.addr))
            self.c.loop(0.02)

    def subscribe(self, topic, qos):
        rc, mid = self.c.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise Fail("subscribing to %s: %s" % (topic, mqtt.error_string(rc)))
        self.pump(lambda: mid in self.acked, 10, "SUBACK")
        g = self.acked[mid][0]
        code = g.value if hasattr(g, "value") else g
        if code >= 0x80:
            raise Fail("the broker refused the subscription to %s (0x%02x)" % (topic, code))

    def publish(self, topic, payload, qos):
        info = self.c.publish(topic, payload, qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise Fail("publishing on %s: %s" % (topic, mqtt.error_string(info.rc)))
        if qos:
            self.pump(lambda: info.mid in self.acked, 10, "PUBACK" if qos == 1 else "PUBCOMP")
        else:
            self.c.loop(0.02)

    def close(self):
        if not self.closed:
            self.c.disconnect()
            end = time.monotonic() + 2
            while not self.closed and time.monotonic() < end:
                self.c.loop(0.02)

#!/usr/bin/python3
"""wsmqtt.py: a browser-style MQTT-over-WebSocket client that speaks the MQTT
bytes itself, on python3-websockets (Debian's package, 10.x), for tests and
sample captures.

    wsmqtt.py URL [--protocol 3.1.1|5] [--client-id ID] [--keepalive S]
              [--compression deflate|no-context-takeover|none]
              [--subprotocol P]... [--no-subprotocol] [--split-connect N]
              [--cafile CA.pem] [--insecure] [--keylog FILE] [--timeout S]
              ACTION...

URL is ws://HOST:PORT/PATH or wss://HOST:PORT/PATH. Like a browser's
WebSocket, it offers permessage-deflate by default (client_max_window_bits,
context takeover; --compression no-context-takeover asks for
client_no_context_takeover and server_no_context_takeover, none offers no
extension) and the subprotocol "mqtt" (--subprotocol replaces the offer, and
may repeat; --no-subprotocol offers none). It sends a CONNECT (MQTT 5 by
default, or 3.1.1, clean start), runs the ACTIONs in order, then sends
DISCONNECT and closes the WebSocket with status 1000. Each MQTT packet goes
in one binary message; --split-connect N sends the CONNECT as a fragmented
message, its first N bytes in one frame and the rest in a continuation frame.
A QoS 1 PUBLISH it receives is acknowledged (PUBACK).

ACTIONs:
    sub:FILTER[:QOS]          SUBSCRIBE (QoS 0 or 1, default 0), wait for the SUBACK
    pub:TOPIC:QOS:TEXT        PUBLISH TEXT at QoS 0 or 1 (waits for the PUBACK)
    json:TOPIC:QOS:N          PUBLISH N readings as one JSON array (compresses well)
    recv:N                    wait until N PUBLISH have been received since the CONNECT
    ping                      PINGREQ, wait for the PINGRESP
    pings:N                   N PINGREQs in one message (pipelined), wait for N PINGRESPs
    wsping                    a WebSocket Ping, wait for its Pong
    sleep:SECONDS             pause
    wait-file:PATH            log "waiting for PATH", wait until it exists (a capture
                              can start meanwhile), log "go: PATH appeared"; the final
                              summary also counts what came after it

Every MQTT packet sent or received is one line on stderr ("sent PUBLISH",
"received CONNACK"), the handshake one line ("handshake: subprotocol ...,
extensions ..."), and the last lines count them by type:

    summary: sent CONNECT 1, PUBLISH 2, ...; received CONNACK 1, ...
    summary after PATH: sent ...; received ...

Errors (refused, HTTP status, TLS, timeouts, a refused CONNECT or
SUBSCRIBE) are one line on stderr, exit status 1; usage errors exit 2. Run it
with /usr/bin/python3 (python3-websockets).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

try:
    import websockets
    from websockets.client import connect
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
except ImportError as e:  # pragma: no cover
    sys.exit("wsmqtt.py: %s (install python3-websockets and run this script with /usr/bin/python3)" % e)

NAMES = ["RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
         "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]
CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14


class Fail(Exception):
    """A runtime error: one line on stderr, exit status 1."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- MQTT bytes

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode("utf-8")
    return len(b).to_bytes(2, "big") + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_packet(v5, client_id, keepalive):
    level = 5 if v5 else 4
    body = utf8("MQTT") + bytes([level, 0x02]) + keepalive.to_bytes(2, "big")
    if v5:
        body += b"\x00"  # no properties
    return packet(0x10, body + utf8(client_id))


def subscribe_packet(v5, pid, flt, qos):
    body = pid.to_bytes(2, "big") + (b"\x00" if v5 else b"") + utf8(flt) + bytes([qos])
    return packet(0x82, body)


def publish_packet(v5, topic, qos, pid, payload):
    body = utf8(topic) + (pid.to_bytes(2, "big") if qos else b"") + (b"\x00" if v5 else b"") + payload
    return packet(0x30 | qos << 1, body)


def split_packets(buf):
    """Whole packets at the start of buf (a bytearray, consumed): (type, flags, body) each."""
    out = []
    while len(buf) >= 2:
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(buf):
                return out
            n += (buf[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if not buf[i - 1] & 0x80:
                break
            if i > 4:
                raise Fail("the broker sent a Remaining Length longer than 4 bytes")
        if len(buf) < i + n:
            return out
        out.append((buf[0] >> 4, buf[0] & 0x0F, bytes(buf[i:i + n])))
        del buf[:i + n]
    return out


def counts_text(c):
    s = ", ".join("%s %d" % (NAMES[t], c[t]) for t in range(16) if c[t])
    return s or "none"


# ---------------------------------------------------------------- client

class Client:
    """One MQTT connection over a websockets client connection."""

    def __init__(self, ws, args):
        self.ws = ws
        self.v5 = args.protocol == "5"
        self.timeout = args.timeout
        self.sent = [0] * 16
        self.received = [0] * 16
        self.mark = None  # (sent, received) when wait-file went on
        self.buf = bytearray()
        self.queue = asyncio.Queue()
        self.publishes = 0
        self.pid = 0
        self.closed = None  # why the connection ended

    async def send(self, data, split=0):
        typ = data[0] >> 4
        if split and 0 < split < len(data):
            await self.ws.send([data[:split], data[split:]])
            log("sent %s (%d bytes, in two frames: %d + %d)" % (NAMES[typ], len(data), split, len(data) - split))
        else:
            await self.ws.send(data)
            log("sent %s (%d bytes)" % (NAMES[typ], len(data)))
        self.sent[typ] += 1

    async def reader(self):
        try:
            async for msg in self.ws:
                if isinstance(msg, str):
                    raise Fail("the server sent a Text message (MQTT needs Binary messages)")
                self.buf.extend(msg)
                for typ, flags, body in split_packets(self.buf):
                    await self.handle(typ, flags, body)
            self.closed = "the server closed the WebSocket (%s)" % self.ws.close_code
        except websockets.ConnectionClosed as e:
            self.closed = "the connection ended: %s" % e
        except Fail as e:
            self.closed = str(e)
        await self.queue.put(None)

    async def handle(self, typ, flags, body):
        self.received[typ] += 1
        log("received %s (%d bytes)" % (NAMES[typ], 1 + len(varint(len(body))) + len(body)))
        if typ == PUBLISH:
            self.publishes += 1
            qos = flags >> 1 & 3
            if qos == 1:
                tl = int.from_bytes(body[:2], "big")
                await self.send(packet(0x40, body[2 + tl:4 + tl]))
        await self.queue.put((typ, body))

    async def expect(self, typ, what):
        """Wait for a packet of type typ; others (PUBLISH) are skipped."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.timeout
        while True:
            try:
                item = await asyncio.wait_for(self.queue.get(), max(0.0, end - loop.time()))
            except asyncio.TimeoutError:
                raise Fail("timed out after %gs waiting for %s" % (self.timeout, what))
            if item is None:
                raise Fail("%s while waiting for %s" % (self.closed, what))
            if item[0] == typ:
                return item[1]
            if item[0] == DISCONNECT:
                reason = item[1][0] if item[1] else 0
                raise Fail("the broker sent DISCONNECT (0x%02x) while we waited for %s" % (reason, what))

    def next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid


async def do_action(c, action):
    kind, _, rest = action.partition(":")
    if kind == "sub":
        flt, _, q = rest.partition(":")
        qos = int(q or 0)
        pid = c.next_pid()
        await c.send(subscribe_packet(c.v5, pid, flt, qos))
        body = await c.expect(SUBACK, "the SUBACK to %s" % flt)
        code = body[-1]
        if code >= 0x80:
            raise Fail("the broker refused the subscription to %s (0x%02x)" % (flt, code))
    elif kind in ("pub", "json"):
        topic, q, text = rest.split(":", 2)
        qos = int(q)
        if kind == "json":
            payload = json.dumps([{"capteur": "salle-%d" % (i % 4 + 1), "t": 20 + i % 7 * 0.5, "unité": "°C"}
                                  for i in range(int(text))], ensure_ascii=False).encode("utf-8")
        else:
            payload = text.encode("utf-8")
        pid = c.next_pid() if qos else 0
        await c.send(publish_packet(c.v5, topic, qos, pid, payload))
        if qos:
            await c.expect(PUBACK, "the PUBACK of %s" % topic)
    elif kind == "recv":
        n = int(rest)
        loop = asyncio.get_running_loop()
        end = loop.time() + c.timeout
        while c.publishes < n:
            if c.closed:
                raise Fail("%s while waiting for PUBLISH %d of %d" % (c.closed, c.publishes + 1, n))
            if loop.time() > end:
                raise Fail("timed out after %gs with %d of %d PUBLISH received" % (c.timeout, c.publishes, n))
            await asyncio.sleep(0.01)
    elif kind == "ping":
        await c.send(bytes([0xC0, 0]))
        await c.expect(PINGRESP, "the PINGRESP")
    elif kind == "pings":
        n = int(rest)
        await c.ws.send(bytes([0xC0, 0]) * n)
        c.sent[PINGREQ] += n
        log("sent %d PINGREQ in one message (%d bytes)" % (n, 2 * n))
        for i in range(n):
            await c.expect(PINGRESP, "PINGRESP %d of %d" % (i + 1, n))
    elif kind == "wsping":
        waiter = await c.ws.ping()
        await asyncio.wait_for(waiter, c.timeout)
        log("WebSocket Ping answered")
    elif kind == "sleep":
        await asyncio.sleep(float(rest))
    elif kind == "wait-file":
        log("waiting for %s" % rest)
        while not os.path.exists(rest):
            if c.closed:
                raise Fail(c.closed)
            await asyncio.sleep(0.02)
        c.mark = (list(c.sent), list(c.received), rest)
        log("go: %s appeared" % rest)


def ssl_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if args.cafile:
        try:
            ctx.load_verify_locations(cafile=args.cafile)
        except (OSError, ssl.SSLError) as e:
            raise Fail("--cafile %s: %s" % (args.cafile, e))
    else:
        ctx.load_default_certs()
    if args.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.keylog:
        ctx.keylog_filename = args.keylog
    return ctx


def extensions(mode):
    if mode == "deflate":
        return None, "deflate"  # websockets' default: client_max_window_bits, context takeover
    if mode == "no-context-takeover":
        return [ClientPerMessageDeflateFactory(client_no_context_takeover=True, server_no_context_takeover=True,
                                               compress_settings={"memLevel": 5})], None
    return None, None


async def session(args):
    exts, compression = extensions(args.compression)
    protos = [] if args.no_subprotocol else (args.subprotocol or ["mqtt"])
    kw = {}
    if args.url.startswith("wss://"):
        kw["ssl"] = ssl_context(args)
    try:
        ws = await connect(args.url, subprotocols=protos or None, compression=compression, extensions=exts,
                           ping_interval=None, open_timeout=args.timeout, max_size=16 << 20, **kw)
    except websockets.InvalidStatusCode as e:
        raise Fail("%s: HTTP %d instead of a WebSocket upgrade%s" % (
            args.url, e.status_code, " (no WebSocket endpoint at this path)" if e.status_code == 404 else ""))
    except websockets.InvalidHandshake as e:
        raise Fail("%s: WebSocket handshake refused: %s" % (args.url, e))
    except ssl.SSLError as e:
        raise Fail("%s: TLS handshake failed: %s" % (args.url, getattr(e, "verify_message", None) or e.reason or e))
    except asyncio.TimeoutError:
        raise Fail("cannot reach %s: no answer within %gs" % (args.url, args.timeout))
    except OSError as e:
        raise Fail("cannot reach %s: %s" % (args.url, os.strerror(e.errno) if e.errno else e))
    log("handshake: subprotocol %s, extensions %s" % (
        repr(ws.subprotocol or ""), repr(ws.response_headers.get("Sec-WebSocket-Extensions", ""))))
    c = Client(ws, args)
    reader = asyncio.create_task(c.reader())
    try:
        await c.send(connect_packet(c.v5, args.client_id, args.keepalive), split=args.split_connect)
        body = await c.expect(CONNACK, "the CONNACK")
        if len(body) < 2 or body[1] != 0:
            raise Fail("the broker refused the connection (CONNACK 0x%02x)" % (body[1] if len(body) > 1 else 0xFF))
        for a in args.actions:
            await do_action(c, a)
        await c.send(bytes([0xE0, 0]))
        await ws.close(1000)
    finally:
        await ws.close()
        await reader
        log("summary: sent %s; received %s" % (counts_text(c.sent), counts_text(c.received)))
        if c.mark:
            s = [a - b for a, b in zip(c.sent, c.mark[0])]
            r = [a - b for a, b in zip(c.received, c.mark[1])]
            log("summary after %s: sent %s; received %s" % (c.mark[2], counts_text(s), counts_text(r)))


def check_action(a):
    kind, _, rest = a.partition(":")
    parts = rest.split(":")
    ok = {
        "sub": lambda: rest and (len(parts) == 1 or parts[-1] in ("0", "1")),
        "pub": lambda: len(rest.split(":", 2)) == 3 and rest.split(":", 2)[1] in ("0", "1"),
        "json": lambda: len(parts) == 3 and parts[1] in ("0", "1") and parts[2].isdigit(),
        "recv": lambda: rest.isdigit(),
        "ping": lambda: not rest,
        "pings": lambda: rest.isdigit() and int(rest) > 0,
        "wsping": lambda: not rest,
        "sleep": lambda: rest.replace(".", "", 1).isdigit(),
        "wait-file": lambda: bool(rest),
    }.get(kind)
    if not ok or not ok():
        raise argparse.ArgumentTypeError("bad action %r (see --help)" % a)
    return a


def main(argv):
    p = argparse.ArgumentParser(prog="wsmqtt.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("url", help="ws://HOST:PORT/PATH or wss://HOST:PORT/PATH")
    p.add_argument("actions", nargs="*", type=check_action, metavar="ACTION")
    p.add_argument("--protocol", choices=["3.1.1", "5"], default="5", help="MQTT version (default 5)")
    p.add_argument("--client-id", default="wsmqtt-%d" % os.getpid(), help="MQTT client identifier")
    p.add_argument("--keepalive", type=int, default=60, help="CONNECT keep alive, seconds (default 60)")
    p.add_argument("--compression", choices=["deflate", "no-context-takeover", "none"], default="deflate",
                   help="permessage-deflate offer (default deflate, with context takeover)")
    p.add_argument("--subprotocol", action="append", help="subprotocol to offer (repeatable; default mqtt)")
    p.add_argument("--no-subprotocol", action="store_true", help="offer no subprotocol")
    p.add_argument("--split-connect", type=int, default=0, metavar="N",
                   help="send the CONNECT in two frames, the first of N bytes")
    p.add_argument("--cafile", help="wss: trust the CA certificates of this PEM file")
    p.add_argument("--insecure", action="store_true", help="wss: do not verify the server's certificate")
    p.add_argument("--keylog", metavar="FILE", help="wss: append the TLS secrets to FILE (NSS key log)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)")
    args = p.parse_intermixed_args(argv)
    if not (args.url.startswith("ws://") or args.url.startswith("wss://")):
        p.error("URL %r: want ws://HOST:PORT/PATH or wss://HOST:PORT/PATH" % args.url)
    if not args.url.startswith("wss://") and (args.cafile or args.insecure or args.keylog):
        p.error("--cafile, --insecure and --keylog need a wss:// URL")
    if args.no_subprotocol and args.subprotocol:
        p.error("--no-subprotocol and --subprotocol contradict each other")
    if args.split_connect < 0:
        p.error("--split-connect must not be negative")
    try:
        asyncio.run(session(args))
    except KeyboardInterrupt:
        log("wsmqtt.py: interrupted")
        return 130
    except Fail as e:
        log("wsmqtt.py: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

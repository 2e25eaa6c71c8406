#!/usr/bin/python3
"""wscheck.py: the checks of make-ws-samples.sh that a tshark filter cannot do.

    wscheck.py streams SAMPLE.pcapng PORT TRUTH.tsv [--keylog FILE] [--lab DIR]
        Decode every WebSocket connection of the capture again, from the TCP
        (or, with a key log, the decrypted TLS) byte streams that tshark's
        "follow" reassembles: the HTTP upgrade, the frames (unmasked,
        fragments joined, control frames between fragments), permessage-deflate
        as negotiated (zlib, with or without context takeover) and the MQTT
        packets inside, and check that the packets of each connection are
        exactly the ground truth: what its client sent and received. With
        --lab, the requester's DH keys of DIR/requester must decrypt every
        lab message (the Fernet tokens on NETID/ACTION/request|response),
        with the lab's own code (scripts/labpeer.py).
    wscheck.py --readme TRUTH.tsv README.md
        Check that the ground-truth table of README.md is TRUTH.tsv's.
    wscheck.py --write-readme TRUTH.tsv README.md
        Write it.

This decoder is independent of mqtap's (Python's zlib, written from RFC 6455
and RFC 7692) and of tshark 4.0's, which neither joins fragments nor
dissects MQTT inside WebSocket. Run with /usr/bin/python3.
"""
import argparse
import glob
import os
import subprocess
import sys
import zlib

BEGIN = "<!-- ws-ground-truth:begin (make-ws-samples.sh writes this table from ws-ground-truth.tsv) -->"
END = "<!-- ws-ground-truth:end -->"
NAMES = ["RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
         "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]


class Bad(Exception):
    """The capture does not hold what it should."""


def read_truth(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append(line.rstrip("\n").split("\t"))
    return rows


# ---------------------------------------------------------------- README

def table(rows):
    out = ["| sample | client ID | client | sent | received |", "|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | `%s` | %s | %s | %s |" % (r[0] + ".pcapng", r[1], r[2], r[3], r[4]))
    return "\n".join(out)


def readme(truth, path, write):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        print("wscheck.py: %s has no ws-ground-truth markers" % path, file=sys.stderr)
        return 1
    new = text[:i + len(BEGIN)] + "\n" + table(read_truth(truth)) + "\n" + text[j:]
    if write:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        return 0
    if new != text:
        print("wscheck.py: the table of %s is not %s's (run make-ws-samples.sh again)" % (path, truth), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- byte streams

def tshark(args):
    r = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise Bad("tshark %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def streams(cap, keylog):
    """{stream: (node0, node1, [(from node 0?, bytes)...])} as tshark follows them."""
    opts = ["-otls.keylog_file:" + keylog] if keylog else []
    ids = sorted({int(s) for s in tshark(["-r", cap] + opts + ["-T", "fields", "-e", "tcp.stream", "-Y", "tcp.len > 0"]).split()})
    out = {}
    for sid in ids:
        text = tshark(["-r", cap, "-q"] + opts + ["-z", "follow,%s,raw,%d" % ("tls" if keylog else "tcp", sid)])
        nodes, chunks = {}, []
        for line in text.split("\n"):
            if line.startswith("Node "):
                k, _, v = line.partition(": ")
                nodes[k] = v
            elif line and not line.startswith(("=", "Follow:", "Filter:")):
                chunks.append((not line.startswith("\t"), bytes.fromhex(line.strip())))
        out[sid] = (nodes.get("Node 0", ""), nodes.get("Node 1", ""), chunks)
    return out


def directions(node0, node1, chunks, port):
    """(client bytes, server bytes) of a stream: the client is the side that sends GET,
    or, without a handshake in the capture, the one not on the WebSocket port."""
    a = b"".join(c for first, c in chunks if first)
    b = b"".join(c for first, c in chunks if not first)
    if a.startswith(b"GET "):
        return a, b
    if b.startswith(b"GET "):
        return b, a
    if node1.endswith(":%d" % port):
        return a, b
    if node0.endswith(":%d" % port):
        return b, a
    raise Bad("cannot tell the client of a stream between %s and %s" % (node0, node1))


# ---------------------------------------------------------------- HTTP and WebSocket

def http_head(data):
    """(status line, {lower-case name: value}, rest)"""
    i = data.find(b"\r\n\r\n")
    if i < 0:
        raise Bad("an HTTP head without its end")
    lines = data[:i].decode("latin-1").split("\r\n")
    headers = {}
    for h in lines[1:]:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = (headers[k.strip().lower()] + ", " if k.strip().lower() in headers else "") + v.strip()
    return lines[0], headers, data[i + 4:]


def deflate_params(ext):
    """(server_no_context_takeover, client_no_context_takeover) or None without permessage-deflate."""
    if not ext:
        return None
    parts = [p.strip() for p in ext.split(";")]
    if parts[0] != "permessage-deflate":
        raise Bad("extension %r" % ext)
    return "server_no_context_takeover" in parts, "client_no_context_takeover" in parts


def frames(data, masked):
    """The frames of one direction: (fin, rsv1, opcode, payload unmasked)."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 2:
            raise Bad("a truncated frame header at the end")
        b0, b1 = data[i], data[i + 1]
        n, i = b1 & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        if bool(b1 & 0x80) != masked:
            raise Bad("a %s frame %s masked" % ("client" if masked else "server", "not" if masked else ""))
        key = b""
        if masked:
            key, i = data[i:i + 4], i + 4
        payload = data[i:i + n]
        if len(payload) != n:
            raise Bad("a truncated frame payload at the end")
        if masked:
            payload = bytes(c ^ key[j % 4] for j, c in enumerate(payload))
        out.append((bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload))
        i += n
    return out


def messages(frs, deflate, no_takeover):
    """The payloads of the data messages, joined and inflated; the number of control frames."""
    out, parts, rsv1, controls = [], None, False, 0
    inflater = zlib.decompressobj(-15)
    for fin, r1, op, payload in frs:
        if op >= 8:
            controls += 1
            continue
        if op in (1, 2):
            if parts is not None:
                raise Bad("a new message before the last one ended")
            if op == 1:
                raise Bad("a Text message")
            parts, rsv1 = [payload], r1
        elif op == 0:
            if parts is None:
                raise Bad("a Continuation frame outside a message")
            parts.append(payload)
        else:
            raise Bad("reserved opcode %d" % op)
        if fin:
            msg = b"".join(parts)
            if rsv1:
                if not deflate:
                    raise Bad("a compressed message without permessage-deflate")
                if no_takeover:
                    inflater = zlib.decompressobj(-15)
                msg = inflater.decompress(msg + b"\x00\x00\xff\xff")
            out.append(msg)
            parts = None
    return out, controls


def mqtt(data, level=None):
    """The MQTT packets of a byte stream: counts by type, the CONNECT's client ID and
    protocol level, and the (topic, payload) of each PUBLISH (level given or from
    the CONNECT; none without either)."""
    counts, cid, i, pubs = [0] * 16, None, 0, []
    while i < len(data):
        n, mult, k = 0, 1, i + 1
        while True:
            if k >= len(data):
                raise Bad("an MQTT packet cut at the end")
            n += (data[k] & 0x7F) * mult
            mult *= 128
            k += 1
            if not data[k - 1] & 0x80:
                break
        body = data[k:k + n]
        if len(body) != n:
            raise Bad("an MQTT packet cut at the end")
        typ = data[i] >> 4
        counts[typ] += 1
        if typ == 1 and cid is None:
            cid, level = connect_client_id(body)
        if typ == 3 and level is not None:
            pubs.append(publish(body, data[i] >> 1 & 3, level))
        i = k + n
    return counts, cid, level, pubs


def varint(b, j):
    n, mult = 0, 1
    while True:
        n += (b[j] & 0x7F) * mult
        mult *= 128
        j += 1
        if not b[j - 1] & 0x80:
            return n, j


def publish(body, qos, level):
    tl = int.from_bytes(body[:2], "big")
    topic, j = body[2:2 + tl].decode("utf-8"), 2 + tl + (2 if qos else 0)
    if level == 5:
        n, j = varint(body, j)
        j += n
    return topic, body[j:]


def connect_client_id(body):
    """The client ID and the protocol level of a CONNECT."""
    j = 2 + int.from_bytes(body[:2], "big")
    level = body[j]
    j += 4
    if level == 5:
        n, j = varint(body, j)
        j += n
    ln = int.from_bytes(body[j:j + 2], "big")
    return body[j + 2:j + 2 + ln].decode("utf-8"), level


def text(counts):
    return ", ".join("%s %d" % (NAMES[t], counts[t]) for t in range(16) if counts[t]) or "none"


def check_streams(sample, cap, port, truth, keylog, lab):
    rows = [r for r in read_truth(truth) if r[0] == sample]
    seen, pubs = [], []
    for sid, (node0, node1, chunks) in sorted(streams(cap, keylog).items()):
        try:
            client, server = directions(node0, node1, chunks, port)
            deflate = None
            if client.startswith(b"GET "):
                _, req, client = http_head(client)
                status, resp, server = http_head(server)
                if " 101 " not in status + " ":
                    raise Bad("answer %r" % status)
                deflate = deflate_params(resp.get("sec-websocket-extensions"))
            up, _ = messages(frames(client, True), deflate, deflate and deflate[1])
            down, _ = messages(frames(server, False), deflate, deflate and deflate[0])
            sent, cid, level, up_pubs = mqtt(b"".join(up))
            received, _, _, down_pubs = mqtt(b"".join(down), level)
            pubs += up_pubs + down_pubs
        except (Bad, zlib.error, IndexError, UnicodeDecodeError) as e:
            raise Bad("stream %d: %s" % (sid, e))
        seen.append((cid, text(sent), text(received), sid))
    bad = 0
    for cid, sent, received, sid in seen:
        match = [r for r in rows if (r[1] == cid or (cid is None and len(rows) == 1))]
        if not match:
            print("wscheck.py: %s stream %d: client %r has no ground truth" % (sample, sid, cid), file=sys.stderr)
            bad = 1
            continue
        r = match[0]
        rows.remove(r)
        if (r[3], r[4]) != (sent, received):
            print("wscheck.py: %s stream %d (%s): the capture holds sent %s; received %s — the ground truth says sent %s; received %s"
                  % (sample, sid, r[1], sent, received, r[3], r[4]), file=sys.stderr)
            bad = 1
    for r in rows:
        print("wscheck.py: %s: no connection of %s in the capture" % (sample, r[1]), file=sys.stderr)
        bad = 1
    if lab:
        bad |= check_lab(sample, pubs, lab)
    return bad


def check_lab(sample, pubs, keydir):
    """Every lab message of pubs decrypts with a requester key of keydir."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    import labpeer
    from cryptography.fernet import InvalidToken
    from cryptography.hazmat.primitives import serialization
    keys = [serialization.load_pem_private_key(open(f, "rb").read(), None)
            for f in sorted(glob.glob(os.path.join(keydir, "requester", "*.pem")))]
    answers = [labpeer.load_public_key(p) for t, p in pubs if t.endswith("/key-exchange/response")]
    fernets = [labpeer.derive_fernet(k, a, b"\x00") for k in keys for a in answers]
    tokens = [(t, p) for t, p in pubs if len(t.split("/")) == 3 and t.split("/")[1] in labpeer.ACTIONS]
    bad = 0
    for topic, token in tokens:
        for f in fernets:
            try:
                f.decrypt(token)
                break
            except InvalidToken:
                continue
        else:
            print("wscheck.py: %s: a message on %s does not decrypt with the keys of %s" % (sample, topic, keydir), file=sys.stderr)
            bad = 1
    if not tokens:
        print("wscheck.py: %s: no lab message to decrypt" % sample, file=sys.stderr)
        bad = 1
    return bad


def main(argv):
    if len(argv) == 3 and argv[0] in ("--readme", "--write-readme"):
        return readme(argv[1], argv[2], argv[0] == "--write-readme")
    if not argv or argv[0] != "streams":
        print(__doc__.strip(), file=sys.stderr)
        return 2
    p = argparse.ArgumentParser(prog="wscheck.py streams")
    p.add_argument("capture")
    p.add_argument("port", type=int)
    p.add_argument("truth")
    p.add_argument("--keylog", default="")
    p.add_argument("--lab", default="")
    a = p.parse_args(argv[1:])
    sample = os.path.basename(a.capture).rsplit(".", 1)[0]
    try:
        return check_streams(sample, a.capture, a.port, a.truth, a.keylog, a.lab)
    except Bad as e:
        print("wscheck.py: %s: %s" % (sample, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

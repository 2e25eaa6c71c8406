"""linkwire.py: VLAN, GRE and IP-in-IP links in user space, for kernels without
the 8021q, ip_gre and ipip modules (make-link-samples.sh runs one at each end).

Runs inside one network namespace: creates a TAP (Ethernet) or TUN (IP)
device and carries its frames over the underlay, encapsulated as the kernel's
vlan, gre/gretap and ipip/sit devices would:

  linkwire.py vlan DEV UNDERLAY TPID:VID...   TAP <-> frames on UNDERLAY with
                                             these tags (outermost first)
  linkwire.py gre DEV LOCAL REMOTE [key=K] [seq] [csum] [tap]
                                             TUN (IPv4/IPv6 payload) or TAP
                                             (0x6558) <-> GRE over IPv4
  linkwire.py ipip DEV LOCAL REMOTE          TUN <-> IP protocol 4 / 41

Prints "ready: DEV" once the device exists; runs until killed.
"""
import errno, fcntl, os, select, socket, struct, sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
PACKET_OUTGOING = 4


def open_dev(name, tap):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    return fd


def deliver(fd, frame):
    """Writes a frame to the device; one that is not up yet drops it (EIO), as a link would."""
    try:
        os.write(fd, frame)
    except OSError as e:
        if e.errno != errno.EIO:
            raise


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def vlan(dev, underlay, tags):
    tags = [tuple(int(x, 0) for x in t.split(":")) for t in tags]
    stack = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in tags)
    fd = open_dev(dev, True)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((underlay, 0))
    print("ready:", dev, flush=True)
    while True:
        r, _, _ = select.select([fd, s], [], [])
        if fd in r:
            f = os.read(fd, 65536)
            s.send(f[:12] + stack + f[12:])
        if s in r:
            f, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(20))
            if addr[2] == PACKET_OUTGOING:
                continue
            for level, typ, data in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA:
                    status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", data[:20])
                    if status & TP_STATUS_VLAN_VALID:  # the kernel took the outer tag out
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        f = f[:12] + struct.pack("!HH", tpid, tci) + f[12:]
            if f[12:12 + len(stack)] == stack:
                deliver(fd, f[:12] + f[12 + len(stack):])


def gre(dev, local, remote, opts):
    key = next((int(o[4:]) for o in opts if o.startswith("key=")), None)
    seq, csum, tap = "seq" in opts, "csum" in opts, "tap" in opts
    fd = open_dev(dev, tap)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    s.bind((local, 0))
    print("ready:", dev, flush=True)
    n = 0
    while True:
        r, _, _ = select.select([fd, s], [], [])
        if fd in r:
            p = os.read(fd, 65536)
            proto = 0x6558 if tap else (0x86DD if p[0] >> 4 == 6 else 0x0800)
            flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq else 0)
            opt = b""
            if key is not None:
                opt += struct.pack("!I", key)
            if seq:
                opt += struct.pack("!I", n)
                n += 1
            if csum:
                h = struct.pack("!HHHH", flags, proto, 0, 0) + opt
                h = struct.pack("!HHHH", flags, proto, checksum(h + p), 0) + opt
            else:
                h = struct.pack("!HH", flags, proto) + opt
            s.sendto(h + p, (remote, 0))
        if s in r:
            pkt, addr = s.recvfrom(65536)
            if addr[0] != remote:
                continue
            g = pkt[(pkt[0] & 15) * 4:]
            flags, proto = struct.unpack("!HH", g[:4])
            off = 4 + (4 if flags & 0x8000 else 0)
            k = None
            if flags & 0x2000:
                k = struct.unpack("!I", g[off:off + 4])[0]
                off += 4
            if flags & 0x1000:
                off += 4
            if k != key or (proto == 0x6558) != tap:
                continue  # another tunnel's
            deliver(fd, g[off:])


def ipip(dev, local, remote):
    fd = open_dev(dev, False)
    socks = {4: socket.socket(socket.AF_INET, socket.SOCK_RAW, 4), 41: socket.socket(socket.AF_INET, socket.SOCK_RAW, 41)}
    for s in socks.values():
        s.bind((local, 0))
    print("ready:", dev, flush=True)
    while True:
        r, _, _ = select.select([fd] + list(socks.values()), [], [])
        for s in r:
            if s is fd:
                p = os.read(fd, 65536)
                socks[41 if p[0] >> 4 == 6 else 4].sendto(p, (remote, 0))
                continue
            pkt, addr = s.recvfrom(65536)
            if addr[0] == remote:
                deliver(fd, pkt[(pkt[0] & 15) * 4:])


def main(a):
    if len(a) >= 4 and a[0] == "vlan":
        vlan(a[1], a[2], a[3:])
    elif len(a) >= 4 and a[0] == "gre":
        gre(a[1], a[2], a[3], a[4:])
    elif len(a) == 4 and a[0] == "ipip":
        ipip(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass

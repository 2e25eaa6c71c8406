"""linkcraft.py: rewrap a real MQTT capture in link shapes Linux cannot capture here.

  linkcraft.py ipv6-ext IN OUT   IPv6 packets get extension headers in turn: hop-by-hop,
                                 destination options, hop-by-hop + routing (segment
                                 routing, segments left 0) + destination options, and
                                 AH (HMAC-SHA1-96, a real ICV)
  linkcraft.py frag6 IN OUT      IPv6 packets over 700 bytes are cut into fragments of
                                 at most 600 bytes (fragment header, a new id each)
  linkcraft.py radiotap IN OUT   each IPv4 packet in radiotap (TSFT, flags with FCS,
                                 rate, channel, signal) + 802.11 data frame + LLC/SNAP
  linkcraft.py 80211 IN OUT      the same without radiotap (link type 105, no FCS)

IN is an Ethernet capture whose client side sends to TCP port 1883. The 802.11
frames of the n-th TCP connection are data (n = 0, 4, ...), QoS data (1, 5, ...),
4-address (WDS) data (2, ...) or 4-address QoS data (3, ...); every 6th frame is
followed by a protected (CCMP) frame of another station, which no one can decode
without its key. Timestamps are kept (nanoseconds); OUT is a classic pcap
(scapy's pcapng writer only writes Ethernet): make-link-samples.sh converts it.
"""
import random, sys

from scapy.all import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrSegmentRouting, Dot11, Dot11FCS, Dot11QoS, Dot11CCMP, LLC, SNAP,
                       RadioTap, Ether, IP, PadN, RouterAlert, fragment6, rdpcap, wrpcap)
from scapy.layers.ipsec import AH, SecurityAssociation

BROKER_PORT = 1883
AP = "02:00:5e:10:00:01"        # BSSID (and a WDS peer)
STA = "02:00:5e:10:00:02"       # the clients' station
WIRED = "02:00:5e:10:00:03"     # the broker, behind the access point
OTHER = "02:00:5e:10:00:04"     # a station whose traffic is protected
AH_SA = SecurityAssociation(AH, spi=0x4d515454, auth_algo="HMAC-SHA1-96", auth_key=b"mqtap link sample ah key")


def bare(ip6):
    """A new IPv6 header with ip6's fields, to put other headers after."""
    return IPv6(tc=ip6.tc, fl=ip6.fl, hlim=ip6.hlim, src=ip6.src, dst=ip6.dst)


def ext_chain(i, ip6):
    """The extension headers of the i-th IPv6 packet."""
    upper = ip6.payload.copy()
    base = bare(ip6)
    k = i % 4
    if k == 0:
        return base / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) / upper
    if k == 1:
        return base / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / upper
    if k == 2:
        srh = IPv6ExtHdrSegmentRouting(addresses=[ip6.dst], segleft=0, lastentry=0)
        return base / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)]) / srh / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / upper
    return AH_SA.encrypt(IPv6(bytes(ip6)))


def ipv6_ext(pkts):
    out = []
    for i, p in enumerate(pkts):
        if IPv6 in p:
            q = Ether(src=p[Ether].src, dst=p[Ether].dst) / ext_chain(i, p[IPv6])
            q.time = p.time
            p = q
        out.append(p)
    return out


def frag6(pkts):
    out = []
    ident = 0x6d710000
    for p in pkts:
        if IPv6 not in p or len(p[IPv6]) <= 700:
            out.append(p)
            continue
        ident += 1
        whole = bare(p[IPv6]) / IPv6ExtHdrFragment(id=ident) / p[IPv6].payload.copy()
        for j, f in enumerate(fragment6(whole, 600)):
            q = Ether(src=p[Ether].src, dst=p[Ether].dst) / f
            q.time = p.time + j * 0.000001
            out.append(q)
    return out


def dot11(i, kind, to_broker, fcs):
    """The header of the i-th frame, of a connection of a kind (0-3), in or out of the access point."""
    qos = kind in (1, 3)
    cls = Dot11FCS if fcs else Dot11
    if kind >= 2:  # WDS: the access point relays over a wireless bridge
        ra, ta = (AP, STA) if to_broker else (STA, AP)
        da, sa = (WIRED, STA) if to_broker else (STA, WIRED)
        h = cls(type=2, subtype=8 if qos else 0, FCfield="to-DS+from-DS", addr1=ra, addr2=ta, addr3=da, addr4=sa, SC=(i & 0xFFF) << 4)
    elif to_broker:
        h = cls(type=2, subtype=8 if qos else 0, FCfield="to-DS", addr1=AP, addr2=STA, addr3=WIRED, SC=(i & 0xFFF) << 4)
    else:
        h = cls(type=2, subtype=8 if qos else 0, FCfield="from-DS", addr1=STA, addr2=AP, addr3=WIRED, SC=(i & 0xFFF) << 4)
    if qos:
        h = h / Dot11QoS(TID=5 if to_broker else 0)
    return h


def protected(i, rng, fcs):
    """A CCMP-protected QoS data frame of another station: header, CCMP header, data, MIC."""
    cls = Dot11FCS if fcs else Dot11
    h = cls(type=2, subtype=8, FCfield="to-DS+protected", addr1=AP, addr2=OTHER, addr3=WIRED, SC=(i & 0xFFF) << 4)
    return h / Dot11QoS(TID=0) / Dot11CCMP(PN0=i & 0xFF, PN1=(i >> 8) & 0xFF, ext_iv=1, key_id=0,
                                           data=rng.randbytes(64 + i % 200))


def radio(t, fcs):
    return RadioTap(present="TSFT+Flags+Rate+Channel+dBm_AntSignal", mac_timestamp=int(t * 1e6) & (2**64 - 1),
                    Flags="FCS" if fcs else 0, Rate=108, ChannelFrequency=2437, ChannelFlags="2GHz+OFDM",
                    dBm_AntSignal=-42)


def wlan(pkts, with_radiotap):
    rng = random.Random(1883)
    conns = {}
    out = []
    for i, p in enumerate(pkts):
        if IP not in p:
            continue
        to_broker = p[IP].payload.dport == BROKER_PORT
        client = p[IP].payload.sport if to_broker else p[IP].payload.dport
        kind = conns.setdefault(client, len(conns)) % 4
        f = dot11(i, kind, to_broker, with_radiotap) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / p[IP].copy()
        f = (radio(p.time, True) / f) if with_radiotap else f
        f.time = p.time
        out.append(f)
        if i % 6 == 5:
            e = protected(i, rng, with_radiotap)
            e = (radio(p.time, True) / e) if with_radiotap else e
            e.time = p.time + 0.000001
            out.append(e)
    return out


def main(a):
    if len(a) != 3 or a[0] not in ("ipv6-ext", "frag6", "radiotap", "80211"):
        sys.exit(__doc__)
    pkts = rdpcap(a[1])
    out = {"ipv6-ext": ipv6_ext, "frag6": frag6,
           "radiotap": lambda p: wlan(p, True), "80211": lambda p: wlan(p, False)}[a[0]](pkts)
    wrpcap(a[2], out, nano=True)
    print("%s: %d frames from %d" % (a[2], len(out), len(pkts)))


if __name__ == "__main__":
    main(sys.argv[1:])

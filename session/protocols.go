package session

// Protocols is the chain of protocols of a frame as Wireshark's
// frame.protocols names them, from the link layer to TCP
// ("eth:ethertype:vlan:ethertype:ip:tcp"). The decoder records it without
// allocating; records add what mqtap found above TCP (tls, websocket,
// mqtt).
type Protocols struct {
	n   uint8
	ids [23]protoID
}

// protoID names one protocol of a chain.
type protoID uint8

const (
	protoNone protoID = iota
	pEth
	pEthertype
	pVLAN
	pIEEE8021AD
	pLLC
	pSLL
	pNull
	pRaw
	pIP
	pIPv6
	pHopOpts
	pRouting
	pDstOpts
	pFragHdr
	pAH
	pUDP
	pVXLAN
	pGRE
	pNFLOG
	pRadiotap
	pWlanRadio
	pWlan
	pTCP
	pTLS
	pWebSocket
	pHTTP
	pMQTT
	pSparkplugB
	pProtobuf
	pJSON
	pCBOR
	pTextLines
)

// protoNames are Wireshark's names of the protocols, by protoID.
var protoNames = [...]string{
	protoNone: "", pEth: "eth", pEthertype: "ethertype", pVLAN: "vlan", pIEEE8021AD: "ieee8021ad",
	pLLC: "llc", pSLL: "sll", pNull: "null", pRaw: "raw", pIP: "ip", pIPv6: "ipv6",
	pHopOpts: "ipv6.hopopts", pRouting: "ipv6.routing", pDstOpts: "ipv6.dstopts", pFragHdr: "ipv6.fraghdr",
	pAH: "ah", pUDP: "udp", pVXLAN: "vxlan", pGRE: "gre", pNFLOG: "nflog", pRadiotap: "radiotap",
	pWlanRadio: "wlan_radio", pWlan: "wlan", pTCP: "tcp", pTLS: "tls", pWebSocket: "websocket", pHTTP: "http", pMQTT: "mqtt",
	pSparkplugB: "sparkplugb", pProtobuf: "protobuf", pJSON: "json", pCBOR: "cbor", pTextLines: "data-text-lines",
}

// ProtocolNames lists the protocol names a chain can hold, for display
// filters' bare protocol tests.
func ProtocolNames() []string { return protoNames[1:] }

// add appends a protocol; a chain longer than Protocols holds keeps its
// first ones.
func (p *Protocols) add(id protoID) {
	if int(p.n) < len(p.ids) {
		p.ids[p.n] = id
		p.n++
	}
}

// Has reports whether the chain holds the protocol named name.
func (p *Protocols) Has(name string) bool {
	for _, id := range p.ids[:p.n] {
		if protoNames[id] == name {
			return true
		}
	}
	return false
}

// Append appends the chain, its names joined by ':'.
func (p *Protocols) Append(b []byte) []byte {
	for k, id := range p.ids[:p.n] {
		if k > 0 {
			b = append(b, ':')
		}
		b = append(b, protoNames[id]...)
	}
	return b
}

// AppendBinary appends the chain in a compact form ParseProtocols reads
// (the terminal UI keeps records in files).
func (p *Protocols) AppendBinary(b []byte) []byte {
	b = append(b, p.n)
	for _, id := range p.ids[:p.n] {
		b = append(b, byte(id))
	}
	return b
}

// ParseProtocols reads a chain AppendBinary wrote at the start of b, and
// returns the bytes after it.
func ParseProtocols(b []byte) (Protocols, []byte) {
	var p Protocols
	if len(b) == 0 {
		return p, b
	}
	n := int(b[0])
	if n > len(p.ids) || n+1 > len(b) {
		return p, nil
	}
	for _, id := range b[1 : n+1] {
		if int(id) < len(protoNames) {
			p.add(protoID(id))
		}
	}
	return p, b[n+1:]
}

// String returns the chain as frame.protocols writes it.
func (p Protocols) String() string { return string(p.Append(nil)) }

// names records, in the chain of s, the protocol of layer l, which the walk
// has just read and which announced next; tag and ext are the EtherType and
// the IP protocol number that announced l.
func (w *walk) names(l, next layer, tag uint16, ext uint8, s *Segment) {
	c := &s.Protocols
	ethertype := next == layerIPv4 || next == layerIPv6 || next == layerVLAN
	switch l {
	case layerEthernet:
		c.add(pEth)
	case layerVLAN:
		if tag == ethTypeDot1AD {
			c.add(pIEEE8021AD)
		} else {
			c.add(pVLAN)
		}
	case layerSLL, layerSLL2:
		c.add(pSLL)
	case layerLLC:
		c.add(pLLC)
		ethertype = false
	case layerLoop:
		c.add(pNull)
		ethertype = false
	case layerRawIP:
		if c.n == 0 {
			c.add(pRaw)
		}
		return
	case layerIPv4:
		c.add(pIP)
		return
	case layerIPv6:
		c.add(pIPv6)
		return
	case layerIPv6Ext:
		switch ext {
		case protoHopByHop:
			c.add(pHopOpts)
		case protoRouting:
			c.add(pRouting)
		default:
			c.add(pDstOpts)
		}
		return
	case layerIPv6Frag:
		c.add(pFragHdr)
		return
	case layerAH:
		c.add(pAH)
		return
	case layerUDP:
		c.add(pUDP)
		if next == layerEthernet {
			c.add(pVXLAN)
		}
		return
	case layerGRE:
		c.add(pGRE)
		return
	case layerNFLOG:
		c.add(pNFLOG)
		return
	case layerRadiotap:
		c.add(pRadiotap)
		c.add(pWlanRadio)
		return
	case layer80211:
		c.add(pWlan) // the LLC header that follows is a layer of its own
		return
	default:
		return
	}
	if ethertype {
		c.add(pEthertype)
	}
}

package connections

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mqtap/mqtap/decode"
)

// How a connection ended (Conn.End).
const (
	EndDisconnect = "DISCONNECT"         // a DISCONNECT packet (EndBy says who sent it, EndReason its MQTT 5 reason)
	EndBroker     = "broker closed"      // TCP FIN or RST from the broker, no DISCONNECT before
	EndClient     = "client closed"      // TCP FIN or RST from the client, no DISCONNECT before
	EndKeepAlive  = "keep-alive timeout" // the client was silent past its keep alive, then the broker closed (or the capture ended)
	EndCapture    = "capture end"        // still open when the capture ended
	EndOpen       = "open"               // still open, and the capture goes on
)

// Transports (Conn.Transport).
const (
	TransportTCP   = "TCP"
	TransportTLS   = "TLS"
	TransportWS    = "WebSocket"
	TransportWSTLS = "WebSocket over TLS"
	TransportTap   = "tap" // received by mqtap tap from the broker itself
)

// Conn is one MQTT connection of the table.
type Conn struct {
	Stream    int            // tcp.stream
	ClientID  string         // the CONNECT's client identifier ("" when none was seen or it was empty)
	UserName  string         // the CONNECT's user name ("" when none)
	Version   string         // "3.1", "3.1.1", "5.0"; "" when unknown
	Client    netip.AddrPort // the client's address
	Broker    netip.AddrPort // the broker's address
	Transport string         // TransportTCP, TransportTLS, ...
	// Packets counts MQTT control packets, Frames the frames and Bytes
	// their lengths on the wire, by direction (ToBroker, ToClient).
	Packets [2]int
	Frames  [2]int
	Bytes   [2]int64
	// Start is the capture time of the connection's first frame,
	// Relative the time since the capture's first frame (tshark's Rel
	// Start), Duration the time to its last frame.
	Start    time.Time
	Relative time.Duration
	Duration time.Duration
	// KeepAlive is the keep alive in force in seconds: the CONNACK's
	// Server Keep Alive, else the CONNECT's (0: none; -1: no CONNECT seen).
	KeepAlive int
	End       string // EndDisconnect, EndBroker, ...
	EndBy     string // "client" or "broker": who sent the DISCONNECT or closed first ("" for EndCapture, EndOpen)
	EndReason string // the MQTT 5 DISCONNECT's reason code name, when it has one
	EndFrame  int    // frame of the DISCONNECT or of the first FIN or RST (0: none)
	Reset     bool   // the connection was closed by a TCP RST
	Frame     int    // its first frame
	Findings  []Finding
}

// EndText is End in a few words: "DISCONNECT by broker: Session taken
// over", "client closed (RST)", "keep-alive timeout", ...
func (c *Conn) EndText() string {
	s := c.End
	if c.End == EndDisconnect {
		s += " by " + c.EndBy
		if c.EndReason != "" {
			s += ": " + c.EndReason
		}
	}
	if c.Reset && c.End != EndDisconnect {
		s += " (RST)"
	}
	return s
}

// Rows returns the connections, in the order their first MQTT packet was
// seen. final says the capture has ended: a connection still open then
// ended with the capture (EndCapture) rather than being EndOpen.
func (t *Table) Rows(final bool) []Conn {
	return t.AppendRows(make([]Conn, 0, t.n), final)
}

// AppendRows appends the connections to dst (see Rows).
func (t *Table) AppendRows(dst []Conn, final bool) []Conn {
	for i := range t.n {
		dst = append(dst, t.row(i, final))
	}
	return dst
}

// Row returns connection i (0 ≤ i < Len), as Rows does.
func (t *Table) Row(i int, final bool) Conn { return t.row(i, final) }

// row makes the Conn of row i.
func (t *Table) row(i int, final bool) Conn {
	c := t.at(i)
	out := Conn{
		Stream:    int(c.stream),
		ClientID:  c.clientID,
		UserName:  c.userName,
		Version:   versionName(c.version, c.sure),
		Transport: c.transportName(),
		Packets:   c.packets,
		Start:     time.Unix(0, c.start),
		Duration:  time.Duration(c.end - c.start),
		KeepAlive: c.keepAliveSecs(),
		Frame:     c.firstFrame,
		Findings:  slices.Clone(c.findings),
	}
	if !t.origin.IsZero() {
		out.Relative = out.Start.Sub(t.origin)
	}
	cl := 0 // index of the client in a, b and the counters by sender
	if c.clientIsA == 0 {
		cl = 1
	}
	ends := [2]netip.AddrPort{c.a, c.b}
	out.Client, out.Broker = ends[cl], ends[1-cl]
	out.Frames = [2]int{c.frames[cl], c.frames[1-cl]}
	out.Bytes = [2]int64{c.bytes[cl], c.bytes[1-cl]}
	c.ending(&out, t.last.UnixNano(), final)
	return out
}

// ending fills in how the connection ended, as of capture time now.
func (c *conn) ending(out *Conn, now int64, final bool) {
	switch {
	case c.discBy != 0 && (c.closeFrame == 0 || c.discFrame <= c.closeFrame):
		out.End, out.EndFrame, out.EndBy = EndDisconnect, c.discFrame, "broker"
		if c.discBy == 1 {
			out.EndBy = "client"
		}
		if c.discCode >= 0 {
			out.EndReason = decode.ReasonName(decode.DISCONNECT, uint8(c.discCode))
		}
	case c.closeFrame != 0:
		out.EndFrame, out.Reset = c.closeFrame, c.closeRST
		switch {
		case c.clientIsA >= 0 && (c.closer == 0) == (c.clientIsA == 1):
			out.End, out.EndBy = EndClient, "client"
		case c.silent(c.closeTime, 2):
			out.End, out.EndBy = EndKeepAlive, "broker"
		default:
			out.End, out.EndBy = EndBroker, "broker"
		}
	case c.silent(now, 3):
		out.End, out.EndBy = EndKeepAlive, "broker"
	case final:
		out.End = EndCapture
	default:
		out.End = EndOpen
	}
}

// silent reports whether the client had sent nothing for longer than
// halves/2 times its keep alive at capture time at. The specification
// has the broker close the connection after 1.5 keep alives; brokers
// count in whole seconds (mosquitto closes a client of keep alive 1 after
// one to two seconds), so a close by the broker is a timeout once one
// whole keep alive went by, a connection open at the end once 1.5 did.
func (c *conn) silent(at int64, halves int64) bool {
	ka := int64(c.keepAliveSecs())
	if ka <= 0 || c.lastClient == 0 {
		return false
	}
	return at-c.lastClient > ka*halves*int64(time.Second)/2
}

// keepAliveSecs is the keep alive in force: the broker's Server Keep
// Alive, else the client's (-1: no CONNECT seen).
func (c *conn) keepAliveSecs() int {
	if c.serverKA >= 0 {
		return int(c.serverKA)
	}
	return int(c.keepAlive)
}

// transportName names what the connection's packets came in.
func (c *conn) transportName() string {
	switch {
	case c.transport&direct != 0:
		return TransportTap
	case c.transport&overWS != 0 && c.transport&overTLS != 0:
		return TransportWSTLS
	case c.transport&overWS != 0:
		return TransportWS
	case c.transport&overTLS != 0:
		return TransportTLS
	}
	return TransportTCP
}

// versionName names a protocol level; "" when unknown or only guessed.
func versionName(v uint8, sure bool) string {
	if !sure {
		return ""
	}
	switch v {
	case decode.V31:
		return "3.1"
	case decode.V311:
		return "3.1.1"
	case decode.V5:
		return "5.0"
	}
	return ""
}

package report

import (
	"net/netip"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis/audit"
)

// audited is a report fed by the broker audit, as in the findings command.
type audited struct {
	*Report
	aud *audit.Auditor
}

func (a audited) Close() {
	for _, u := range a.aud.Close() {
		a.Add(u.Finding, []int{u.Frame}, u.Clients)
	}
}

// conn feeds packets of one MQTT 3.1.1 connection to the audit and the
// report.
type conn struct {
	t     *testing.T
	rep   audited
	mq    decode.Conn
	frame int
}

func (c *conn) send(fromClient bool, raw ...byte) {
	c.frame++
	r := &session.Record{Frame: c.frame, Stream: 0, Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, Dst: netip.MustParseAddr("10.0.0.2"), DstPort: 1883}
	if !fromClient {
		r.Src, r.Dst, r.SrcPort, r.DstPort = r.Dst, r.Src, r.DstPort, r.SrcPort
	}
	c.mq.Decode(raw, fromClient, &r.Packet)
	if m := r.Packet.Malformed(); m != "" {
		c.t.Fatalf("frame %d malformed: %s", c.frame, m)
	}
	c.rep.aud.Observe(r)
	c.rep.Observe(r, c.rep.aud.Client(r))
}

func newConn(t *testing.T) *conn {
	c := &conn{t: t, rep: audited{New(), audit.New(audit.Options{})}}
	c.mq.SetVersion(decode.V311)
	// CONNECT without credentials, client id "c1"
	c.send(true, 0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'c', '1')
	return c
}

func TestQoSFlows(t *testing.T) {
	c := newConn(t)
	c.send(true, 0x32, 0x06, 0, 1, 'a', 0, 1, 'x')  // QoS 1 id 1
	c.send(false, 0x40, 0x02, 0, 1)                 // PUBACK 1: done
	c.send(true, 0x34, 0x06, 0, 1, 'b', 0, 2, 'y')  // QoS 2 id 2
	c.send(false, 0x50, 0x02, 0, 2)                 // PUBREC
	c.send(true, 0x62, 0x02, 0, 2)                  // PUBREL
	c.send(false, 0x70, 0x02, 0, 2)                 // PUBCOMP: done
	c.send(false, 0x34, 0x06, 0, 1, 'c', 0, 3, 'z') // broker QoS 2 id 3
	c.send(true, 0x50, 0x02, 0, 3)                  // client PUBREC, then nothing
	c.send(true, 0x32, 0x06, 0, 1, 'd', 0, 4, 'w')  // QoS 1 id 4, never acknowledged
	c.rep.Close()
	got := map[int]string{}
	for _, e := range c.rep.Entries() {
		if e.Code == "qos.unacknowledged" {
			got[e.Frames[0]] = e.Text
		}
	}
	if len(got) != 2 || got[8] == "" || got[10] == "" {
		t.Fatalf("unfinished flows: %v; want the broker's QoS 2 (frame 8) and the client's QoS 1 (frame 10)", got)
	}
	if want := `the QoS 2 PUBLISH (id=3) on "c" sent by the broker stopped before its Publish Release`; got[8] != want {
		t.Errorf("got %q, want %q", got[8], want)
	}
}

func TestAnonymousWildcardAndCredentials(t *testing.T) {
	c := newConn(t)
	c.send(true, 0x82, 0x06, 0, 1, 0, 1, '#', 0)      // SUBSCRIBE #
	c.send(true, 0x82, 0x07, 0, 2, 0, 2, 'a', '/', 0) // SUBSCRIBE a/ : fine
	if s := c.rep.Summary(); s["auth.anonymous-subscription"] != 1 || len(s) != 1 {
		t.Errorf("summary %v", s)
	}
	// A second connection with credentials.
	c2 := &conn{t: t, rep: c.rep}
	c2.mq.SetVersion(decode.V311)
	c2.send(true, 0x10, 0x18, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60, 0, 2, 'c', '2', 0, 2, 'u', '1', 0, 4, 'p', 'a', 's', 's')
	e := c.rep.Entries()[0]
	if e.Code != "auth.cleartext-credentials" || e.Severity != "high" || e.Text != `user "u1" and password ******** sent in clear text in CONNECT` {
		t.Errorf("credentials finding %+v", e)
	}
}

// TestCopyFindings: a broker's copy of a message adds its findings about
// the packet (the decoder's, the audit's), not those about the message,
// which come with the publisher's copy.
func TestCopyFindings(t *testing.T) {
	rep := New()
	r := &session.Record{Frame: 7, Crypto: session.Crypto{Copy: true}, Findings: []session.Finding{
		{Code: session.ACLViolation, Text: "delivered"}, {Code: session.PayloadReplay, Text: "again"},
		{Code: session.MQTTMalformed, Text: "bad"}}}
	rep.Observe(r, "c1")
	s := rep.Summary()
	if len(s) != 2 || s["acl.violation"] != 1 || s["mqtt.malformed"] != 1 {
		t.Errorf("summary %v, want acl.violation and mqtt.malformed once", s)
	}
	if e := rep.Entries()[0]; e.Code != "acl.violation" || e.Severity != "high" || len(e.Clients) != 1 || e.Clients[0] != "c1" || e.Frames[0] != 7 {
		t.Errorf("first entry %+v", e)
	}
}

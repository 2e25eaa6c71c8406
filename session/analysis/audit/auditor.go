package audit

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// Options configure the broker audit.
type Options struct {
	ACL         *ACL       // --acl: report traffic the broker carried against it
	Passwords   *Passwords // --passwd: check leaked credentials against it
	ShowSecrets bool       // print captured passwords instead of masking them
}

// Auditor is the last analysis stage, the broker audit of the findings
// report: credentials sent in clear text (checked against the password
// file), anonymous clients subscribing to everything, traffic the broker
// carried although its ACL forbids it, and QoS flows that never complete.
// It knows the client of each connection, and names it for the report. It
// is not safe for concurrent use.
type Auditor struct {
	opts    Options
	clients map[int]*client
	flows   map[flowKey]*flow
	denied  session.Linker[bool] // PUBLISHes the ACL forbids, to see whether the broker forwards them
}

// New returns an audit with nothing seen yet.
func New(opts Options) *Auditor {
	return &Auditor{opts: opts, clients: make(map[int]*client), flows: make(map[flowKey]*flow)}
}

// client is what the audit knows about the client of one TCP connection.
type client struct {
	id, user string
	addr     netip.AddrPort
	anon     bool
}

func (c *client) String() string {
	s := c.id
	if s == "" {
		s = "(no client id)"
	}
	if c.user != "" {
		s += " (user " + c.user + ")"
	}
	if c.addr.IsValid() {
		s += " @ " + c.addr.String()
	}
	return s
}

// clientOf returns the client of a record's connection.
func (a *Auditor) clientOf(r *session.Record) *client {
	c := a.clients[r.Stream]
	if c == nil {
		c = &client{anon: true}
		if r.Packet.FromClient {
			c.addr = netip.AddrPortFrom(r.Src, r.SrcPort)
		} else {
			c.addr = netip.AddrPortFrom(r.Dst, r.DstPort)
		}
		a.clients[r.Stream] = c
	}
	return c
}

// Client names the client of r's connection as the audit knows it after
// r: its client id, user and address.
func (a *Auditor) Client(r *session.Record) string { return a.clientOf(r).String() }

// Observe audits r, after the other stages have annotated it. Its findings
// go before those r already carries, each about r's packet.
func (a *Auditor) Observe(r *session.Record) {
	c := a.clientOf(r)
	var found []session.Finding
	p := &r.Packet
	switch p.Type {
	case decode.CONNECT:
		if p.FromClient {
			found = a.connect(r, c)
		}
	case decode.SUBSCRIBE:
		if p.FromClient {
			found = a.subscribe(r, c)
		}
	case decode.CONNACK:
		// mosquitto's %c patterns see the identifier it assigned to a
		// client that sent an empty one.
		if f := p.Field("mqtt.property.assigned_client_identifier"); f != nil && c.id == "" {
			c.id = string(f.Bytes)
		}
	case decode.PUBLISH:
		a.startFlow(r)
		found = a.publish(r, c)
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		a.ack(r)
	}
	if len(found) > 0 {
		r.Findings = append(found, r.Findings...)
	}
}

// connect learns who the client is and reports credentials sent in clear
// text.
func (a *Auditor) connect(r *session.Record, c *client) []session.Finding {
	p := &r.Packet
	c.addr = netip.AddrPortFrom(r.Src, r.SrcPort)
	c.id, c.user, c.anon = "", "", true
	if f := p.Field("mqtt.clientid"); f != nil {
		c.id = string(f.Bytes)
	}
	user := p.Field("mqtt.username")
	if user != nil {
		c.user, c.anon = string(user.Bytes), false
	}
	pass := p.Field("mqtt.passwd")
	if user == nil || pass == nil || r.Crypto.Scheme == "tls" {
		return nil
	}
	secret := "********"
	if a.opts.ShowSecrets {
		secret = fmt.Sprintf("%q", pass.Bytes)
	}
	f := session.Finding{Code: session.AuthCleartextCredentials,
		Text: fmt.Sprintf("user %q and password %s sent in clear text in CONNECT", c.user, secret)}
	if a.opts.Passwords != nil {
		// Credentials the broker rejects expose less than valid ones.
		switch a.opts.Passwords.Check(c.user, pass.Bytes) {
		case ValidPassword:
			f.Text += ": the password is VALID on this broker (password file)"
		case WrongPassword:
			f.Lower = session.SevMedium
			f.Text += ": the password is wrong for this user (password file)"
		default:
			f.Lower = session.SevMedium
			f.Text += ": the user is not in the password file"
		}
	}
	return []session.Finding{f}
}

// subscribe reports anonymous clients subscribing to everything. (ACL
// violations show up as deliveries: mosquitto grants every subscription and
// checks read access on each message it would deliver.)
func (a *Auditor) subscribe(r *session.Record, c *client) []session.Finding {
	if !c.anon {
		return nil
	}
	var found []session.Finding
	for _, f := range r.Packet.Fields {
		if f.Name != "mqtt.topic" {
			continue
		}
		filter := string(f.Bytes)
		if filter == "#" || filter == "$SYS/#" || strings.HasPrefix(filter, "$SYS/") && strings.HasSuffix(filter, "#") {
			found = append(found, session.Finding{Code: session.AuthAnonymousSubscription,
				Text: fmt.Sprintf("an anonymous client subscribed to %q", filter)})
		}
	}
	return found
}

// publish audits a PUBLISH against the ACL: the publisher's copy says
// whether it may write, the broker's copies whether it forwarded what it
// should have refused and whether their receivers may read them.
func (a *Auditor) publish(r *session.Record, c *client) []session.Finding {
	if a.opts.ACL == nil {
		return nil
	}
	p := &r.Packet
	topic := string(p.Topic)
	_, deniedWrite, first := a.denied.Link(r)
	if p.FromClient {
		if first {
			ok, _ := a.opts.ACL.Allowed(c.user, c.id, topic, Write)
			*deniedWrite = !ok
		}
		return nil
	}
	var found []session.Finding
	if *deniedWrite {
		found = append(found, session.Finding{Code: session.ACLViolation,
			Text: fmt.Sprintf("the broker forwarded a PUBLISH on %q that the ACL forbids its publisher to write", topic)})
	}
	if ok, rule := a.opts.ACL.Allowed(c.user, c.id, topic, Read); !ok {
		why := "no ACL line allows it"
		if rule != "" {
			why = "denied by " + rule
		}
		found = append(found, session.Finding{Code: session.ACLViolation,
			Text: fmt.Sprintf("the broker delivered a message on %q to a client the ACL does not allow to read it (%s)", topic, why)})
	}
	return found
}

// Package report turns everything mqtap notices in a capture into one
// security report: the findings of the decoder, of the key-exchange tracker
// and of the keyring schemes, plus the broker audit done here — clear-text
// credentials (checked against a mosquitto password file), anonymous
// wildcard subscriptions, ACL violations the broker carried, and QoS flows
// that never complete. Titles and advice come from the finding catalog
// (session.FindingCode).
package report

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis/audit"
)

// maxFrames is how many frame numbers an entry lists; Count has them all.
const maxFrames = 50

// Entry is one finding of the report: identical findings about the same
// client are merged, with the frames they were seen in.
type Entry struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Title    string   `json:"title"`
	Text     string   `json:"explanation"`
	Advice   string   `json:"advice"`
	Rule     string   `json:"rule,omitempty"`
	Frames   []int    `json:"frames"`
	Count    int      `json:"count"`
	Clients  []string `json:"clients"`

	sev session.Severity
}

// Options configure the broker audit.
type Options struct {
	ACL         *audit.ACL       // --acl: report traffic the broker carried against it
	Passwords   *audit.Passwords // --passwd: check leaked credentials against it
	ShowSecrets bool             // print captured passwords instead of masking them
}

// client is what the report knows about the client of one TCP connection.
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

// flowKey names one QoS flow: connection, sender side and packet id.
type flowKey struct {
	stream     int
	fromClient bool
	id         uint16
}

type flow struct {
	qos   uint8
	step  decode.Type // the acknowledgement expected next
	frame int
	topic string
}

// Report collects findings.
type Report struct {
	opts    Options
	entries []*Entry
	index   map[entryKey]*Entry
	clients map[int]*client
	flows   map[flowKey]*flow
	denied  session.Linker[bool] // PUBLISHes the ACL forbids, to see whether the broker forwards them
}

// entryKey identifies an entry: the same finding about several clients.
type entryKey struct {
	code session.FindingCode
	text string
}

// New returns an empty report.
func New(opts Options) *Report {
	return &Report{opts: opts, index: make(map[entryKey]*Entry), clients: make(map[int]*client),
		flows: make(map[flowKey]*flow)}
}

// Add records a finding seen in frames, about the given clients. The same
// finding (code and explanation) about several clients is one entry.
func (r *Report) Add(f session.Finding, frames []int, clients []string) {
	key := entryKey{f.Code, f.Text}
	e := r.index[key]
	if e == nil {
		sev := f.Severity()
		e = &Entry{Code: f.Code.String(), sev: sev, Severity: sev.String(), Title: f.Code.Title(), Text: f.Text,
			Advice: f.Code.Advice(), Rule: f.Rule, Clients: []string{}}
		r.index[key] = e
		r.entries = append(r.entries, e)
	}
	for _, c := range clients {
		if !slices.Contains(e.Clients, c) {
			e.Clients = append(e.Clients, c)
		}
	}
	for _, fr := range frames {
		e.Count++
		if len(e.Frames) < maxFrames {
			i, _ := slices.BinarySearch(e.Frames, fr)
			e.Frames = slices.Insert(e.Frames, i, fr)
		}
	}
	if len(frames) == 0 {
		e.Count++
	}
}

// clientOf returns the client of a record's connection.
func (r *Report) clientOf(rec *session.Record) *client {
	c := r.clients[rec.Stream]
	if c == nil {
		c = &client{anon: true}
		if rec.Packet.FromClient {
			c.addr = netip.AddrPortFrom(rec.Src, rec.SrcPort)
		} else {
			c.addr = netip.AddrPortFrom(rec.Dst, rec.DstPort)
		}
		r.clients[rec.Stream] = c
	}
	return c
}

// Observe adds a record's findings and audits it. Call it after the other
// stages (kex, protect) have annotated the record.
func (r *Report) Observe(rec *session.Record) {
	c := r.clientOf(rec)
	p := &rec.Packet
	switch p.Type {
	case decode.CONNECT:
		if p.FromClient {
			r.connect(rec, c)
		}
	case decode.SUBSCRIBE:
		if p.FromClient {
			r.subscribe(rec, c)
		}
	case decode.CONNACK:
		// mosquitto's %c patterns see the identifier it assigned to a
		// client that sent an empty one.
		if f := p.Field("mqtt.property.assigned_client_identifier"); f != nil && c.id == "" {
			c.id = string(f.Bytes)
		}
	case decode.PUBLISH:
		r.publish(rec, c)
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		r.ack(rec)
	}
	for _, f := range rec.Findings {
		if rec.Crypto.Copy && !aboutPacket(f.Code) {
			continue // reported with the publisher's copy of the message
		}
		r.Add(f, []int{rec.Frame}, []string{c.String()})
	}
}

// aboutPacket reports whether findings of code are about the packet that
// carries them (the decoder's), not about the message: a broker's copy of
// a message repeats the publisher's findings about the message.
func aboutPacket(code session.FindingCode) bool {
	switch code {
	case session.MQTTMalformed, session.MQTTProtocolViolation, session.MQTTResync, session.TCPGap:
		return true
	}
	return false
}

func (r *Report) connect(rec *session.Record, c *client) {
	p := &rec.Packet
	c.addr = netip.AddrPortFrom(rec.Src, rec.SrcPort)
	c.id, c.user, c.anon = "", "", true
	if f := p.Field("mqtt.clientid"); f != nil {
		c.id = string(f.Bytes)
	}
	user := p.Field("mqtt.username")
	if user != nil {
		c.user, c.anon = string(user.Bytes), false
	}
	pass := p.Field("mqtt.passwd")
	if user == nil || pass == nil || rec.Crypto.Scheme == "tls" {
		return
	}
	secret := "********"
	if r.opts.ShowSecrets {
		secret = fmt.Sprintf("%q", pass.Bytes)
	}
	f := session.Finding{Code: session.AuthCleartextCredentials,
		Text: fmt.Sprintf("user %q and password %s sent in clear text in CONNECT", c.user, secret)}
	if r.opts.Passwords != nil {
		// Credentials the broker rejects expose less than valid ones.
		switch r.opts.Passwords.Check(c.user, pass.Bytes) {
		case audit.ValidPassword:
			f.Text += ": the password is VALID on this broker (password file)"
		case audit.WrongPassword:
			f.Lower = session.SevMedium
			f.Text += ": the password is wrong for this user (password file)"
		default:
			f.Lower = session.SevMedium
			f.Text += ": the user is not in the password file"
		}
	}
	r.Add(f, []int{rec.Frame}, []string{c.String()})
}

// subscribe reports anonymous clients subscribing to everything. (ACL
// violations show up as deliveries: mosquitto grants every subscription and
// checks read access on each message it would deliver.)
func (r *Report) subscribe(rec *session.Record, c *client) {
	if !c.anon {
		return
	}
	for _, f := range rec.Packet.Fields {
		if f.Name != "mqtt.topic" {
			continue
		}
		filter := string(f.Bytes)
		if filter == "#" || filter == "$SYS/#" || strings.HasPrefix(filter, "$SYS/") && strings.HasSuffix(filter, "#") {
			r.Add(session.Finding{Code: session.AuthAnonymousSubscription,
				Text: fmt.Sprintf("an anonymous client subscribed to %q", filter)}, []int{rec.Frame}, []string{c.String()})
		}
	}
}

// publish audits a PUBLISH against the ACL and starts its QoS flow.
func (r *Report) publish(rec *session.Record, c *client) {
	p := &rec.Packet
	topic := string(p.Topic)
	if p.QoS > 0 && p.PacketID != 0 {
		r.flows[flowKey{rec.Stream, p.FromClient, p.PacketID}] = &flow{qos: p.QoS, step: decode.PUBACK + decode.Type(p.QoS-1), frame: rec.Frame, topic: topic}
	}
	if r.opts.ACL == nil {
		return
	}
	_, deniedWrite, first := r.denied.Link(rec)
	if p.FromClient {
		if first {
			ok, _ := r.opts.ACL.Allowed(c.user, c.id, topic, audit.Write)
			*deniedWrite = !ok
		}
		return
	}
	if *deniedWrite {
		r.Add(session.Finding{Code: session.ACLViolation,
			Text: fmt.Sprintf("the broker forwarded a PUBLISH on %q that the ACL forbids its publisher to write", topic)},
			[]int{rec.Frame}, []string{c.String()})
	}
	if ok, rule := r.opts.ACL.Allowed(c.user, c.id, topic, audit.Read); !ok {
		why := "no ACL line allows it"
		if rule != "" {
			why = "denied by " + rule
		}
		r.Add(session.Finding{Code: session.ACLViolation,
			Text: fmt.Sprintf("the broker delivered a message on %q to a client the ACL does not allow to read it (%s)", topic, why)},
			[]int{rec.Frame}, []string{c.String()})
	}
}

// ack advances a QoS flow.
func (r *Report) ack(rec *session.Record) {
	p := &rec.Packet
	// PUBACK, PUBREC and PUBCOMP travel against the PUBLISH; PUBREL with it.
	sender := !p.FromClient
	if p.Type == decode.PUBREL {
		sender = p.FromClient
	}
	k := flowKey{rec.Stream, sender, p.PacketID}
	fl := r.flows[k]
	if fl == nil || fl.step != p.Type {
		return
	}
	switch p.Type {
	case decode.PUBREC:
		fl.step = decode.PUBREL
		if f := p.Field("mqtt.pubrec.reason_code"); f != nil && f.Uint >= 0x80 {
			delete(r.flows, k) // a failed PUBREC ends the flow
		}
	case decode.PUBREL:
		fl.step = decode.PUBCOMP
	default:
		delete(r.flows, k)
	}
}

// Close reports the QoS flows that never completed.
func (r *Report) Close() {
	keys := make([]flowKey, 0, len(r.flows))
	for k := range r.flows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return r.flows[keys[i]].frame < r.flows[keys[j]].frame })
	for _, k := range keys {
		fl := r.flows[k]
		who := "broker"
		if k.fromClient {
			who = "client"
		}
		c := r.clients[k.stream]
		clients := []string{}
		if c != nil {
			clients = []string{c.String()}
		}
		r.Add(session.Finding{Code: session.QoSUnacknowledged,
			Text: fmt.Sprintf("the QoS %d PUBLISH (id=%d) on %q sent by the %s stopped before its %s", fl.qos, k.id, fl.topic, who, fl.step.WiresharkName())},
			[]int{fl.frame}, clients)
	}
}

// Entries returns the findings, most severe first, then by first frame.
func (r *Report) Entries() []*Entry {
	out := append([]*Entry(nil), r.entries...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].sev != out[j].sev {
			return out[i].sev > out[j].sev
		}
		return first(out[i]) < first(out[j])
	})
	return out
}

func first(e *Entry) int {
	if len(e.Frames) == 0 {
		return 1 << 62
	}
	return e.Frames[0]
}

// Summary counts occurrences per code.
func (r *Report) Summary() map[string]int {
	s := make(map[string]int)
	for _, e := range r.entries {
		s[e.Code] += e.Count
	}
	return s
}

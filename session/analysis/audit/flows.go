package audit

import (
	"fmt"
	"sort"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// flowKey names one QoS flow: connection, sender side and packet id.
type flowKey struct {
	stream     int
	fromClient bool
	id         uint16
}

// flow is a QoS 1 or 2 PUBLISH waiting for its acknowledgements.
type flow struct {
	qos   uint8
	step  decode.Type // the acknowledgement expected next
	frame int
	topic string
}

// startFlow starts the QoS flow of a PUBLISH.
func (a *Auditor) startFlow(r *session.Record) {
	p := &r.Packet
	if p.QoS > 0 && p.PacketID != 0 {
		a.flows[flowKey{r.Stream, p.FromClient, p.PacketID}] = &flow{qos: p.QoS,
			step: decode.PUBACK + decode.Type(p.QoS-1), frame: r.Frame, topic: string(p.Topic)}
	}
}

// ack advances a QoS flow.
func (a *Auditor) ack(r *session.Record) {
	p := &r.Packet
	// PUBACK, PUBREC and PUBCOMP travel against the PUBLISH; PUBREL with it.
	sender := !p.FromClient
	if p.Type == decode.PUBREL {
		sender = p.FromClient
	}
	k := flowKey{r.Stream, sender, p.PacketID}
	fl := a.flows[k]
	if fl == nil || fl.step != p.Type {
		return
	}
	switch p.Type {
	case decode.PUBREC:
		fl.step = decode.PUBREL
		if f := p.Field("mqtt.pubrec.reason_code"); f != nil && f.Uint >= 0x80 {
			delete(a.flows, k) // a failed PUBREC ends the flow
		}
	case decode.PUBREL:
		fl.step = decode.PUBCOMP
	default:
		delete(a.flows, k)
	}
}

// Unfinished is a finding known only at the end of the capture, with the
// frame and the client it is about.
type Unfinished struct {
	session.Finding
	Frame   int
	Clients []string // the client, when the audit knows it
}

// Close ends the audit and reports the QoS flows that never completed, in
// the order of their PUBLISH.
func (a *Auditor) Close() []Unfinished {
	keys := make([]flowKey, 0, len(a.flows))
	for k := range a.flows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return a.flows[keys[i]].frame < a.flows[keys[j]].frame })
	out := make([]Unfinished, 0, len(keys))
	for _, k := range keys {
		fl := a.flows[k]
		who := "broker"
		if k.fromClient {
			who = "client"
		}
		u := Unfinished{Frame: fl.frame, Finding: session.Finding{Code: session.QoSUnacknowledged,
			Text: fmt.Sprintf("the QoS %d PUBLISH (id=%d) on %q sent by the %s stopped before its %s", fl.qos, k.id, fl.topic, who, fl.step.WiresharkName())}}
		if c := a.clients[k.stream]; c != nil {
			u.Clients = []string{c.String()}
		}
		out = append(out, u)
	}
	return out
}

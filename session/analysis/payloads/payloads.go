// Package payloads is the analysis stage that says how each PUBLISH's
// payload decodes.
//
// For every PUBLISH it sets the record's session.Value: the format and
// compression named by the first keyring rule with a payload table for the
// topic, else by the MQTT 5 Content Type (and Payload Format Indicator),
// else Sparkplug B for a topic of the spBv1.0 namespace, else none (JSON
// and numbers are then recognised by their content, when a reader asks).
// A payload whose format was named is decoded at once, so that one which
// is not that format is a payload.malformed finding (a decompression bomb
// or a nesting past the bounds an mqtap.limit one); the others decode only
// when a field, filter or view asks (session.Record.DecodedValue).
//
// Sparkplug B payloads keep state: metric aliases are resolved from the
// NBIRTH and DBIRTH of the same edge node, births and deaths reset them,
// and the sequence numbers each connection carries for an edge node are
// checked (sparkplug.seq-gap).
package payloads

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// Stage is the payload stage. It is not safe for concurrent use, but for
// Spec, which the terminal UI calls from other goroutines.
type Stage struct {
	store *keys.Store
	mu    sync.Mutex
	rules map[*keys.PayloadRule]*compiled // rules seen, compiled once
	spark *sparkplug
	// report receives errors of rules loaded after New (a reload).
	report func(error)
}

// compiled is a rule's payload table made ready: its Spec, or why not.
type compiled struct {
	spec payload.Spec
	why  string
	err  error
}

// New returns the stage for the rules of store (nil: no rules). Every
// rule's payload table is checked and its .proto compiled now: an unknown
// format or compression, or a .proto that does not compile, is an error
// naming FILE:LINE of the keyring.
func New(store *keys.Store) (*Stage, error) {
	s := &Stage{store: store, rules: map[*keys.PayloadRule]*compiled{}, spark: newSparkplug()}
	var errs []error
	for _, r := range store.Rules() {
		if r.Payload != nil {
			if c := s.compile(r.Payload); c.err != nil {
				errs = append(errs, c.err)
			}
		}
	}
	return s, errors.Join(errs...)
}

// ReportTo makes the stage report the errors of rules it first meets after
// New (keys reloaded while a live capture runs) to report, once each.
func (s *Stage) ReportTo(report func(error)) { s.report = report }

// compile returns the compiled form of a rule's payload table, compiling
// it on first use.
func (s *Stage) compile(pr *keys.PayloadRule) *compiled {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.rules[pr]; c != nil {
		return c
	}
	c := &compiled{why: "rule " + pr.Source}
	c.spec, c.err = specOf(pr)
	s.rules[pr] = c
	if c.err != nil && s.report != nil {
		s.report(c.err)
	}
	return c
}

// specOf checks a rule's payload table and compiles its .proto.
func specOf(pr *keys.PayloadRule) (payload.Spec, error) {
	var spec payload.Spec
	if pr.Format != "" {
		f, ok := payload.ParseFormat(pr.Format)
		if !ok {
			return spec, fmt.Errorf("keys: %s: payload.format: unknown format %q (want %s)", pr.Source, pr.Format, strings.Join(payload.FormatNames(), ", "))
		}
		spec.Format = f
	}
	if pr.Compression != "" {
		c, ok := payload.ParseCompression(pr.Compression)
		if !ok {
			return spec, fmt.Errorf("keys: %s: compression: unknown compression %q (want zlib, gzip or deflate)", pr.CompressionSource, pr.Compression)
		}
		spec.Compression = c
	}
	switch {
	case spec.Format == payload.Protobuf && pr.Proto != "":
		if pr.Message == "" {
			return spec, fmt.Errorf("keys: %s: payload has a proto but no message (the full name of the message, e.g. factory.Reading)", pr.Source)
		}
		schema, err := payload.CompileProto(pr.Proto, pr.Message)
		if err != nil {
			return spec, fmt.Errorf("keys: %s: payload.proto: %w", pr.ProtoSource, err)
		}
		spec.Schema = schema
	case pr.Proto != "" || pr.Message != "":
		if spec.Format != payload.Protobuf {
			return spec, fmt.Errorf("keys: %s: payload: proto and message are for format \"protobuf\", not %q", pr.Source, pr.Format)
		}
		return spec, fmt.Errorf("keys: %s: payload has a message but no proto (the .proto file that declares it)", pr.Source)
	}
	return spec, nil
}

// Spec returns how the payload of a PUBLISH decodes, what named its
// format, and whether one was named (see the package doc). It reads only
// the record's topic and properties, so the terminal UI may call it again
// on a record it decodes anew (not for Sparkplug B, whose state only
// Observe keeps).
func (s *Stage) Spec(r *session.Record) (spec payload.Spec, why string, claimed bool) {
	p := &r.Packet
	if rule := s.store.PayloadRuleFor(p.Topic); rule != nil {
		c := s.compile(rule.Payload)
		if c.err == nil {
			return c.spec, c.why, c.spec.Format != payload.None
		}
	}
	if spec, why, ok := propertiesSpec(p); ok {
		return spec, why, spec.Format != payload.None
	}
	if payload.IsSparkplugTopic(p.Topic) {
		return payload.Spec{Format: payload.SparkplugB}, "Sparkplug B topic", true
	}
	return payload.Spec{}, "", false
}

// propertiesSpec reads the Content Type and Payload Format Indicator of an
// MQTT 5 PUBLISH.
func propertiesSpec(p *decode.Packet) (payload.Spec, string, bool) {
	ct, utf8 := string(p.ContentType), p.PayloadFormat == 1
	if ct != "" {
		if f, c, ok := payload.FromContentType(ct); ok {
			return payload.Spec{Format: f, Compression: c}, "content type " + ct, true
		}
	}
	if utf8 {
		return payload.Spec{UTF8: true}, "payload format indicator UTF-8", true
	}
	return payload.Spec{}, "", false
}

// Observe sets the Value of a PUBLISH record, decodes it at once when its
// format was named, and raises the findings of that decoding.
func (s *Stage) Observe(r *session.Record) {
	if r.Packet.Type != decode.PUBLISH || r.ValueInput() == nil {
		return
	}
	v := &r.Value
	v.Spec, v.Why, v.Claimed = s.Spec(r)
	if !v.Claimed {
		return
	}
	if v.Spec.Format == payload.SparkplugB && v.Spec.Compression == payload.NoCompression {
		s.spark.observe(r)
		return
	}
	if e := r.ValueError(); e != nil {
		addDecodeFinding(r, e)
	}
}

// addDecodeFinding raises the finding of a payload that did not decode as
// its named format: mqtap.limit when a bound stopped it, else
// payload.malformed.
func addDecodeFinding(r *session.Record, e *payload.Error) {
	code, text := session.PayloadMalformed, fmt.Sprintf("payload is not %s (%s): %s", e.Format, r.Value.Why, e.Error())
	if e.Limit {
		code, text = session.LimitReached, fmt.Sprintf("payload (%s) not decoded: %s", r.Value.Why, e.Error())
	}
	r.Findings = append(r.Findings, session.Finding{Code: code, Text: text})
}

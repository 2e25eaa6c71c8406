// Package analysis is the chain of analyses every command runs on records.
//
// # Order
//
// The order is fixed here, so that no command repeats it:
//
//  1. TLS: the pipeline decrypts TLS itself with the key logs of the key
//     store (Chain.Options puts the store in the pipeline options);
//  2. key exchanges: the lab's Diffie-Hellman exchanges are rebuilt and
//     their Fernet messages decrypted (package kex);
//  3. keyring schemes: HMAC, RSA-OAEP and ECDSA rules of a keyring are
//     applied per topic (package protect);
//  4. payload formats: how each PUBLISH's payload decodes, after any
//     decryption, and its value when a rule, the content type or the
//     Sparkplug B topic names its format (package payloads);
//  5. audits: the broker audit of the findings report (package audit):
//     credentials in clear text checked against a mosquitto password file,
//     anonymous subscriptions to everything, traffic a mosquitto ACL
//     forbids, QoS flows that never complete. Only the findings command
//     enables it (EnableAudit), and it runs on the records the report
//     covers (Audit): after the display filter, which sees the records as
//     the first three stages left them.
//
// Each stage sees what the stages before it wrote into the record (a
// PUBLISH decrypted from TLS, then its Fernet plaintext, then its value). Read, sniff, tap,
// sessions, findings, export and the terminal UI all build their chain with
// New.
package analysis

import (
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis/audit"
	"github.com/mqtap/mqtap/session/analysis/kex"
	"github.com/mqtap/mqtap/session/analysis/payloads"
	"github.com/mqtap/mqtap/session/analysis/protect"
)

// Chain runs the analysis stages on each record, in order. It is not safe
// for concurrent use: one pipeline feeds it.
type Chain struct {
	store   *keys.Store
	tracker *kex.Tracker
	checker *protect.Checker
	values  *payloads.Stage
	auditor *audit.Auditor // nil unless EnableAudit
}

// New returns the chain for the keys of store (nil: no keys; the stages
// still report what they can see without keys). The error is that of a
// keyring rule's payload table (an unknown format, a .proto that does not
// compile), naming FILE:LINE.
func New(store *keys.Store) (*Chain, error) {
	values, err := payloads.New(store)
	if err != nil {
		return nil, err
	}
	return &Chain{store: store, tracker: kex.NewTracker(store), checker: protect.New(store), values: values}, nil
}

// Options returns opts with the chain's keys, so that the pipeline decrypts
// TLS before the other stages run.
func (c *Chain) Options(opts session.Options) session.Options {
	if c.store != nil {
		opts.Keys = c.store
	}
	return opts
}

// Keys is the chain's key store (nil when none was given).
func (c *Chain) Keys() *keys.Store { return c.store }

// EnableAudit adds the last stage, the broker audit, and returns it: it
// names the client of each record and has the findings known only at the
// end (Auditor.Close).
func (c *Chain) EnableAudit(opts audit.Options) *audit.Auditor {
	c.auditor = audit.New(opts)
	return c.auditor
}

// Observe runs the stages before the audit on r.
func (c *Chain) Observe(r *session.Record) {
	c.tracker.Observe(r)
	c.checker.Observe(r)
	c.values.Observe(r)
}

// Values is the payload stage, which the terminal UI asks again how a
// record it decodes anew decodes (payloads.Stage.Spec).
func (c *Chain) Values() *payloads.Stage { return c.values }

// Audit runs the last stage on r, a record the report covers, after
// Observe. It does nothing unless EnableAudit was called.
func (c *Chain) Audit(r *session.Record) {
	if c.auditor != nil {
		c.auditor.Observe(r)
	}
}

// ReloadKeys makes the key-exchange stage re-read the key files when a
// message needs a key it does not have yet (live captures, where keys are
// written while mqtap runs); report receives reload errors.
func (c *Chain) ReloadKeys(report func(error)) {
	c.tracker.ReloadKeys(report)
	c.values.ReportTo(report)
}

// Close ends the analysis and returns the findings known only at the end
// (key exchanges never answered).
func (c *Chain) Close() []session.Finding { return c.tracker.Close() }

// Exchanges lists the key exchanges rebuilt so far, in the order they
// started.
func (c *Chain) Exchanges() []*kex.Exchange { return c.tracker.Exchanges() }

// Package model holds what the terminal UI shows, apart from the views.
//
// It is an index of a capture's MQTT records and what mqtap learned about
// them (key exchanges, topics, findings, statistics).
//
// A Capture keeps every record in two temporary spool files, not in memory:
// a file of fixed-size rows (the packet list's columns, so row i is read
// with one ReadAt at i*rowSize) and a file of variable-size blobs (the raw
// MQTT packet, the Info text, the decryption results and findings). A
// record's fields are decoded again on demand for the detail and hex panes
// and for display filters. Memory stays bounded whatever the capture's size:
// a small cache of rows, the endpoint table and the aggregates.
//
// One goroutine feeds a Capture (the pipeline's Handler, Flush, Finish);
// any number of goroutines read it. The feeding goroutine only runs the
// analysis chain and copies each record into a batch; a goroutine of the
// Capture's own builds the rows and blobs and writes them (index.go).
// Records become visible to readers when they are flushed: Flush (which
// waits for the records handed so far) at idle points, and automatically
// every 4096 records or 100 ms.
package model

import (
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// Options configure a Capture.
type Options struct {
	Keys       *keys.Store // --keys: DH keys and keyring rules (nil: none)
	ReloadKeys bool        // live sources: read the keys again when an exchange has none
	Dir        string      // directory of the spool files ("": the system's temporary directory)
	// OnKeyError receives key reload errors (nil: ignored).
	OnKeyError func(error)
}

// State is how far the source has got.
type State struct {
	Records int    // records readers can see (Len)
	Done    bool   // the source ended (Finish was called)
	Err     error  // why it ended, when it failed
	Message string // the source's latest message (a truncated file, a reconnection, a key file that failed to load)
}

// Row is one line of the packet list.
type Row struct {
	Index      int // record index, from 0
	Frame      int // frame.number (for a tap: the packet number)
	Time       time.Time
	Relative   time.Duration // since the first record's frame
	Src, Dst   string        // "addr:port"
	Type       decode.Type
	Length     int // frame length (tap: the packet's length)
	Stream     int // tcp.stream
	FromClient bool
	Direct     bool   // received from a broker by mqtap tap: no frame, no TCP
	Topic      string // PUBLISH topic, alias resolved ("" for other types)
	Info       string // the Info column, with the plaintext of a decrypted message, as mqtap read prints it
	Decrypt    string // mqtap.decrypt: "ok", "no-key", "failed" or ""
	Verify     string // mqtap.verify: "ok", "bad", "no-key" or ""
	Findings   int    // number of findings
	Severity   session.Severity
	Malformed  bool
}

// SessionInfo is one key exchange and its outcome.
type SessionInfo struct {
	ID         string // "le0nh4rt#1"
	NetID      string
	Requester  string // "clientid@addr:port"
	Responders []string
	Status     string // "ok", "no-key", "failed", "unanswered"
	KDF        string // HKDF variant that verified, when decrypted
	KeySide    string // "requester" or "responder": whose private key decrypted it
	KeyFile    string
	GroupBits  int
	Decrypted  int
	Failed     int
	NoKey      int
	Findings   []string
	Frame      int // frame of the request
}

// TopicNode is one level of the topic tree.
type TopicNode struct {
	Name       string       // this level ("salle-1"); "" for the root
	Path       string       // the whole topic up to this level ("capteurs/salle-1")
	Messages   int          // PUBLISH packets on this exact topic
	Total      int          // on this topic and every topic below it
	Retained   bool         // the last message on this exact topic had the retain flag
	Last       string       // the last payload on this exact topic, as text (the plaintext when decrypted)
	LastHex    bool         // Last is hex because the payload is not UTF-8 text
	LastRecord int          // record index of that message (-1 when none)
	Children   []*TopicNode // sorted by name
	// Uncounted, on the root, is the PUBLISH packets on topics past the
	// first 100,000, which the tree does not count.
	Uncounted int
}

// FindingRef is a finding and where it was seen.
type FindingRef struct {
	Record int // record index, -1 for a finding about the whole capture (kex.unanswered)
	Frame  int
	session.Finding
}

// Count is a name and how often it was seen.
type Count struct {
	Name  string
	Count int
}

// Stats are the statistics view's numbers.
type Stats struct {
	Packets   int
	Streams   int // MQTT connections
	ByType    [16]int
	Topics    []Count // PUBLISH per topic, most first (at most 50)
	Clients   []Count // packets per client id (the CONNECT's, or the address when none was seen), most first (at most 50)
	PerSecond []int   // packets per second of capture time, from the first record
	Bytes     int64   // frame bytes of the records
	// ClientsUncounted is the packets of clients past the first 100,000,
	// which Clients does not count.
	ClientsUncounted int
	// LatePackets is the packets past PerSecond's 100,000 seconds (about
	// 28 hours of capture time), which its last second counts.
	LatePackets     int
	topicsUncounted int // PUBLISH packets on topics past the first 100,000 (TopicNode.Uncounted)
}

// Options returns opts with the capture's keys, so that the pipeline
// decrypts TLS before the capture's analysis chain runs on its records,
// and with an OnTCPFrame that counts the connections' frames.
func (c *Capture) Options(opts session.Options) session.Options {
	return c.hookFrames(c.chain.Options(opts))
}

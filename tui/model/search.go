// Searching records (the TUI's ctrl-f): the next record, in either
// direction from a starting one and wrapping around, whose text contains a
// string, whose bytes contain a byte string, or that matches a display
// filter. Chunks of records are searched in parallel, in search order; the
// search stops as soon as the first match is certain.

package model

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
)

// SearchKind is what a search looks for, as in Wireshark's Find Packet.
type SearchKind int

// Search kinds.
const (
	// SearchString finds a string, ignoring the case of ASCII letters, in
	// what is read without decoding the packet again: its summary line
	// (the Info, Source, Destination and Protocol columns; the Info holds
	// a decrypted plaintext), its bytes (the raw MQTT packet, so every
	// topic, client id, property and payload, and the decrypted
	// plaintext), the value decoded from a named payload format (as the
	// JSON text mqtap.value shows) and mqtap's text about it (session,
	// decryption, findings).
	SearchString SearchKind = iota
	// SearchHex finds a byte string in the raw MQTT packet or in the
	// decrypted plaintext.
	SearchHex
	// SearchFilter finds a packet that matches a display filter.
	SearchFilter
	// SearchDetails finds a string as SearchString does, or in the
	// packet's whole text as mqtap read -V prints it: its detail tree with
	// the fields' titles, named and formatted values, times and decoded
	// payload values. Each packet the cheaper checks miss is decoded and
	// written out, which takes several microseconds.
	SearchDetails
)

// String names the kind as the search bar shows it.
func (k SearchKind) String() string {
	switch k {
	case SearchHex:
		return "hex"
	case SearchFilter:
		return "filter"
	case SearchDetails:
		return "details"
	}
	return "string"
}

// Search is a compiled search.
type Search struct {
	Kind   SearchKind
	Text   string         // as typed
	needle []byte         // the string, lowered (SearchString), or the bytes (SearchHex)
	f      *filter.Filter // SearchFilter
}

// NewSearch compiles a search of kind for text: a string, hex bytes
// ("7b:22", "7b22", "7b 22", "0x7b22") or a display filter.
func NewSearch(kind SearchKind, text string) (*Search, error) {
	s := &Search{Kind: kind, Text: text}
	switch kind {
	case SearchString, SearchDetails:
		if text == "" {
			return nil, errors.New("nothing to search for")
		}
		s.needle = lowerASCII(nil, []byte(text))
	case SearchHex:
		b, err := ParseHex(text)
		if err != nil {
			return nil, err
		}
		s.needle = b
	case SearchFilter:
		f, err := filter.Compile(text)
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		s.f = f
	default:
		return nil, fmt.Errorf("unknown search kind %d", kind)
	}
	return s, nil
}

// ParseHex parses a byte string written in hex: pairs of digits, optionally
// separated by colons, spaces, dashes or dots, with an optional 0x prefix
// ("7b:22", "7b22", "7b 22 0a", "0x7b22").
func ParseHex(text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	digits := strings.Map(func(r rune) rune {
		switch r {
		case ':', ' ', '-', '.':
			return -1
		}
		return r
	}, t)
	if digits == "" {
		return nil, errors.New("no hex bytes to search for (e.g. 7b:22 or 7b22)")
	}
	if len(digits)%2 != 0 {
		return nil, fmt.Errorf("hex bytes %q: odd number of digits", text)
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("hex bytes %q: not hex digits (e.g. 7b:22 or 7b22)", text)
	}
	return b, nil
}

// lowerASCII appends src to dst with ASCII letters lowered.
func lowerASCII(dst, src []byte) []byte {
	n := len(dst)
	dst = append(dst, src...)
	lowerInPlace(dst[n:])
	return dst
}

// lowerInPlace lowers the ASCII letters of b, eight bytes at a time.
func lowerInPlace(b []byte) {
	const ones = 0x0101010101010101
	le := binary.LittleEndian
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := le.Uint64(b[i:])
		low := w & (0x7f * ones)
		ge := low + (0x80-'A')*ones   // a byte's top bit: >= 'A'
		gt := low + (0x80-'Z'-1)*ones // > 'Z'
		upper := ge &^ gt &^ w & (0x80 * ones)
		le.PutUint64(b[i:], w|upper>>2)
	}
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// searchChunk is the number of records one worker searches at a time.
const searchChunk = 4096

// span is a run of records searched in one direction: lo to hi-1, upwards,
// or hi-1 down to lo when down is set.
type span struct {
	lo, hi int
	down   bool
}

// searchOrder returns the chunks of records to search, in search order:
// from the record after (before, backward) the one at after to the end (the
// start), then from the start (the end) round to it. A negative after
// starts at the first (backward: the last) record, without wrapping.
func searchOrder(n, after int, backward bool) (chunks []span, wrapAt int) {
	var runs []span
	switch {
	case after < 0 || after >= n:
		runs = []span{{0, n, backward}}
	case backward:
		runs = []span{{0, after, true}, {after, n, true}}
	default:
		runs = []span{{after + 1, n, false}, {0, after + 1, false}}
	}
	wrapAt = -1
	for i, r := range runs {
		if i == 1 {
			wrapAt = len(chunks)
		}
		var part []span
		for lo := r.lo; lo < r.hi; lo += searchChunk {
			part = append(part, span{lo, min(lo+searchChunk, r.hi), r.down})
		}
		if r.down {
			for a, b := 0, len(part)-1; a < b; a, b = a+1, b-1 {
				part[a], part[b] = part[b], part[a]
			}
		}
		chunks = append(chunks, part...)
	}
	if wrapAt < 0 {
		wrapAt = len(chunks)
	}
	return chunks, wrapAt
}

// Find searches the records from the one at index after on, forward or
// backward, wrapping around, for the first that matches s. Only the records
// in sel are searched (nil: every record; sel is sorted). It returns the
// record's index, or -1, and whether the search wrapped round to find it.
// The chunks are searched by one goroutine per CPU; a cancelled ctx stops
// it with ctx's error. progress, when set, is called (from those
// goroutines, one call at a time) after every chunk with the records
// searched and the total.
func (c *Capture) Find(ctx context.Context, s *Search, sel []int, after int, backward bool, progress func(done, total int)) (idx int, wrapped bool, err error) {
	n := c.Len()
	chunks, wrapAt := searchOrder(n, after, backward)
	if len(chunks) == 0 {
		return -1, false, nil
	}
	m := newMatcher(c, s)
	found := make([]int, len(chunks)) // per chunk: the match, -1 none, -2 not searched
	for k := range found {
		found[k] = -2
	}
	var next, done atomic.Int64
	var progressMu sync.Mutex
	var best atomic.Int64 // the first chunk in search order known to match
	best.Store(int64(len(chunks)))
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(chunks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := m.scratch()
			for {
				k := next.Add(1) - 1
				if k >= best.Load() || ctx.Err() != nil || failed.Load() != nil {
					return
				}
				got, err := sc.searchChunk(chunks[k], sel)
				if err != nil {
					failed.Store(err)
					return
				}
				found[k] = got
				if d := done.Add(int64(chunks[k].hi - chunks[k].lo)); progress != nil {
					progressMu.Lock()
					progress(int(d), n)
					progressMu.Unlock()
				}
				if got >= 0 {
					for {
						b := best.Load()
						if k >= b || best.CompareAndSwap(b, k) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return -1, false, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return -1, false, err
	}
	if b := int(best.Load()); b < len(chunks) {
		return found[b], b >= wrapAt, nil
	}
	return -1, false, nil
}

// matcher is what every worker of one search shares.
type matcher struct {
	c         *Capture
	s         *Search
	endpoints []bool   // endpoint index -> its "addr:port" contains the string
	types     [16]bool // packet type -> its name (the Protocol column) contains the string
}

// newMatcher prepares a search: for a string, the endpoints whose text
// contains it.
func newMatcher(c *Capture, s *Search) *matcher {
	m := &matcher{c: c, s: s}
	if s.Kind == SearchString || s.Kind == SearchDetails {
		c.epMu.RLock()
		m.endpoints = make([]bool, len(c.endpoints))
		var buf []byte
		for i, ep := range c.endpoints {
			buf = lowerASCII(buf[:0], []byte(ep.String()))
			m.endpoints[i] = bytes.Contains(buf, s.needle)
		}
		c.epMu.RUnlock()
		for t := range m.types {
			buf = lowerASCII(buf[:0], []byte(decode.Type(t).String()))
			m.types[t] = bytes.Contains(buf, s.needle)
		}
	}
	return m
}

// scratch returns one worker's state.
func (m *matcher) scratch() *searcher {
	sc := &searcher{matcher: m}
	if m.s.Kind == SearchDetails {
		sc.text = &textSink{}
		// Verbose text output cannot fail to be created.
		sc.out, _ = output.New(sc.text, output.Options{Format: output.Text, Verbose: true})
	}
	return sc
}

// searcher is one worker's state: buffers reused from record to record.
type searcher struct {
	*matcher
	buf   []byte // the chunk's rows and blobs
	lower []byte
	rec   session.Record
	out   *output.Writer
	text  *textSink
}

// textSink collects what the -V writer flushes.
type textSink struct{ b []byte }

// Write appends p.
func (t *textSink) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	return len(p), nil
}

// searchChunk returns the first record of chunk sp, in its direction, that
// is in sel (nil: all) and matches, or -1.
func (sc *searcher) searchChunk(sp span, sel []int) (int, error) {
	lo, hi := sp.lo, sp.hi
	var members []int
	if sel != nil {
		a := sort.SearchInts(sel, lo)
		b := sort.SearchInts(sel, hi)
		if a == b {
			return -1, nil
		}
		members = sel[a:b]
		lo, hi = members[0], members[len(members)-1]+1
	}
	rows, blobs, reuse, err := sc.c.chunk(lo, hi, sc.buf)
	sc.buf = reuse
	if err != nil {
		return -1, err
	}
	count := hi - lo
	if members != nil {
		count = len(members)
	}
	at := func(j int) int { // the j-th record to search, in the chunk's direction
		if sp.down {
			j = count - 1 - j
		}
		if members != nil {
			return members[j]
		}
		return lo + j
	}
	// A string is looked for cheaply in every record first (the summary
	// and the blob); for SearchDetails the detail text is written out only
	// for the records before the first cheap match.
	limit := count
	if k := sc.s.Kind; k == SearchString || k == SearchDetails {
		for j := 0; j < count; j++ {
			ok, err := sc.cheap(lo, at(j)-lo, rows, blobs)
			if err != nil {
				return -1, err
			}
			if ok {
				limit = j
				break
			}
		}
		if k == SearchString {
			if limit < count {
				return at(limit), nil
			}
			return -1, nil
		}
	}
	for j := 0; j < limit; j++ {
		ok, err := sc.match(lo, at(j)-lo, rows, blobs)
		if err != nil {
			return -1, err
		}
		if ok {
			return at(j), nil
		}
	}
	if limit < count {
		return at(limit), nil
	}
	return -1, nil
}

// blobOf returns the k-th record's blob of a chunk.
func blobOf(rows, blobs []byte, k int) ([]byte, bool) {
	le := binary.LittleEndian
	row := rows[k*rowSize:]
	off := int64(le.Uint64(row[36:])) - int64(le.Uint64(rows[36:]))
	size := int64(le.Uint32(row[44:]))
	if off < 0 || off+size > int64(len(blobs)) {
		return nil, false
	}
	return blobs[off : off+size], true
}

// cheap reports whether the k-th record of a chunk holds the string where
// SearchString looks, reading the packet list's columns from its row and
// only decoding the packet when its blob holds the string: its Info text
// and topic, raw packet, plaintext, decoded value, and mqtap's text fields.
func (sc *searcher) cheap(lo, k int, rows, blobs []byte) (bool, error) {
	row := rows[k*rowSize:]
	if sc.types[row[48]&15] {
		return true, nil
	}
	le := binary.LittleEndian
	for _, at := range []int{28, 32} {
		if i := int(le.Uint32(row[at:])); i < len(sc.endpoints) && sc.endpoints[i] {
			return true, nil
		}
	}
	b, ok := blobOf(rows, blobs, k)
	if !ok {
		return false, fmt.Errorf("record %d: corrupt index", lo+k)
	}
	sc.lower = lowerASCII(sc.lower[:0], b)
	if !bytes.Contains(sc.lower, sc.s.needle) {
		return false, nil
	}
	// The blob holds it: in one of its fields (not across two)?
	if err := sc.c.chunkRecord(lo, k, rows, blobs, &sc.rec); err != nil {
		return false, err
	}
	r := &sc.rec
	d := blobReader{b: b}
	info, topic := d.bytes(), d.bytes()
	has := func(part []byte) bool {
		sc.lower = lowerASCII(sc.lower[:0], part)
		return bytes.Contains(sc.lower, sc.s.needle)
	}
	if has(info) || has(topic) || has(r.Packet.Raw) || has(r.Crypto.Plaintext) {
		return true, nil
	}
	// A value decoded from a named format (CBOR, MessagePack, protobuf,
	// Sparkplug B, compressed), which the blob keeps as JSON text: its
	// numbers, enum names and inflated text are not in the raw bytes.
	if _, js, err := r.DecodedValue(); err == nil && has(js) {
		return true, nil
	}
	cr := &r.Crypto
	for _, t := range []string{cr.Session, cr.Scheme, cr.Kex, cr.Verify, cr.Decrypt, cr.Reason, cr.Key, cr.KDF} {
		if has([]byte(t)) {
			return true, nil
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if has([]byte(f.Rule)) || has([]byte(f.Text)) {
			return true, nil
		}
	}
	return false, nil
}

// match reports whether the k-th record of a chunk matches the search.
func (sc *searcher) match(lo, k int, rows, blobs []byte) (bool, error) {
	s := sc.s
	switch s.Kind {
	case SearchFilter:
		if topic, ok := s.f.RequiredEqual("mqtt.topic"); ok && otherTopic(rows, blobs, k, topic) {
			return false, nil
		}
		if typ, ok := s.f.RequiredUint("mqtt.msgtype"); ok && uint64(rows[k*rowSize+48]) != typ {
			return false, nil
		}
	case SearchHex:
		b, ok := blobOf(rows, blobs, k)
		if !ok {
			return false, fmt.Errorf("record %d: corrupt index", lo+k)
		}
		if !bytes.Contains(b, s.needle) {
			return false, nil
		}
	}
	if err := sc.c.chunkRecord(lo, k, rows, blobs, &sc.rec); err != nil {
		return false, err
	}
	r := &sc.rec
	switch s.Kind {
	case SearchFilter:
		return s.f.Match(r), nil
	case SearchHex:
		return bytes.Contains(r.Packet.Raw, s.needle) || bytes.Contains(r.Crypto.Plaintext, s.needle), nil
	}
	// The string, in the record's text as mqtap read -V prints it.
	sc.text.b = sc.text.b[:0]
	if err := sc.out.Write(r); err != nil {
		return false, fmt.Errorf("record %d: %w", lo+k, err)
	}
	if err := sc.out.Flush(); err != nil {
		return false, fmt.Errorf("record %d: %w", lo+k, err)
	}
	lowerInPlace(sc.text.b)
	return bytes.Contains(sc.text.b, s.needle), nil
}

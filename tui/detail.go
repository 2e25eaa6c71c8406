package tui

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/keys/tlskeys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/output"
)

// nodeRef is what a detail tree node refers to: a stable key (to keep the
// selection and the expanded subtrees from one packet to the next) and the
// bytes it covers, in the raw packet or in the decrypted plaintext.
type nodeRef struct {
	key       string
	label     string // the node's text without the expansion marker, escaped
	text      string // the same, not escaped (what y copies)
	off, n    int
	hasRange  bool
	decrypted bool
	field     string        // the field the line shows (a, f, F), "" when none
	lit       string        // its value as a display filter literal, "" to test its presence
	val       *decode.Field // or its value, made a literal when asked (fieldLiteral)
}

// plaintextOf returns the decrypted or verified plaintext of a record, nil
// when there is none.
func plaintextOf(r *session.Record) []byte {
	c := &r.Crypto
	if len(c.Plaintext) > 0 && (c.Decrypt == "ok" || c.Verify == "ok") {
		return c.Plaintext
	}
	return nil
}

// title returns the start of a record field's line in the tree: its title
// and ": ".
func title(f *session.RecordField) string { return f.Title + ": " }

// secondBlock returns what the hex pane shows beside the packet: the
// plaintext of a decrypted payload, or the WebSocket frame the packet came
// in as on the wire (its header, and its masked payload when the packet
// filled it uncompressed).
func secondBlock(r *session.Record) ([]byte, string) {
	if pt := plaintextOf(r); pt != nil {
		return pt, "Decrypted (" + strconv.Itoa(len(pt)) + " bytes)"
	}
	if r.WebSocket == nil {
		return nil, ""
	}
	f := &r.WSFrame
	wire := append([]byte(nil), f.Header[:f.HeaderLen]...)
	if f.RSV&4 != 0 || f.PayloadLen != uint64(len(r.Packet.Raw)) {
		return wire, "WebSocket frame header on the wire (its payload is compressed or holds more than this packet)"
	}
	wire = append(wire, r.Packet.Raw...)
	heading := "WebSocket frame on the wire (" + strconv.Itoa(len(wire)) + " bytes)"
	if f.Masked {
		decode.UnmaskWS(wire[f.HeaderLen:], wire[f.HeaderLen:], f.MaskKey, 0)
		heading = "WebSocket frame on the wire (" + strconv.Itoa(len(wire)) + " bytes, payload masked)"
	}
	return wire, heading
}

// treeBuilder builds the detail tree of one record.
type treeBuilder struct {
	a    *App
	seen map[string]int // occurrences of a key so far, to make keys unique
}

// node makes a tree node with the terminal's colours.
func (b *treeBuilder) node(parentKey, name, text string, ref nodeRef) *tview.TreeNode {
	key := parentKey + "/" + name
	n := b.seen[key]
	b.seen[key] = n + 1
	ref.key = key + "#" + strconv.Itoa(n)
	ref.text = sanitize(text)
	ref.label = tview.Escape(ref.text)
	return tview.NewTreeNode(ref.label).
		SetReference(&ref).
		SetTextStyle(tcell.StyleDefault).
		SetSelectedTextStyle(tcell.StyleDefault.Reverse(true))
}

// keyOf returns a node's key.
func keyOf(n *tview.TreeNode) string {
	if ref, ok := n.GetReference().(*nodeRef); ok {
		return ref.key
	}
	return ""
}

// expand sets a node's expansion: the user's choice for its key when there
// is one, else def.
func (b *treeBuilder) expand(n *tview.TreeNode, def bool) {
	if v, ok := b.a.expanded[keyOf(n)]; ok {
		def = v
	}
	n.SetExpanded(def)
}

// showDetail fills the detail tree and the hex pane with a record.
func (a *App) showDetail(r *session.Record) {
	b := &treeBuilder{a: a, seen: map[string]int{}}
	root := tview.NewTreeNode("")
	root.AddChild(b.frameNode(r))
	if r.WebSocket != nil {
		root.AddChild(b.webSocketNode(r))
	}
	root.AddChild(b.mqttNode(&r.Packet))
	f, _, _ := r.DecodedValue()
	if c := &r.Crypto; c.Scheme != "" || c.Session != "" || len(r.Findings) > 0 || r.TLSVersion != 0 || f != payload.None {
		root.AddChild(b.mqtapNode(r))
	}

	for _, c := range root.GetChildren() {
		c.Walk(func(n, _ *tview.TreeNode) bool {
			markNode(n)
			return true
		})
	}
	a.tree.SetRoot(root)
	second, heading := secondBlock(r)
	a.hex.setData(r.Packet.Raw, second, heading)
	a.tree.SetCurrentNode(a.rememberedNode(root))
	a.onTreeSelect(a.tree.GetCurrentNode())
}

// frameNode is the subtree of the frame (for mqtap tap, of the packet
// received from the broker), collapsed unless the user expanded it.
func (b *treeBuilder) frameNode(r *session.Record) *tview.TreeNode {
	var frame *tview.TreeNode
	src := netip.AddrPortFrom(r.Src.Unmap(), r.SrcPort).String()
	dst := netip.AddrPortFrom(r.Dst.Unmap(), r.DstPort).String()
	when := r.Time.UTC().Format("2006-01-02 15:04:05.000000000 UTC")
	if r.Direct {
		frame = b.node("", "frame", "Packet "+strconv.Itoa(r.Frame)+": "+strconv.Itoa(r.FrameLen)+
			" bytes received from the broker, "+when+", connection "+strconv.Itoa(r.Stream), nodeRef{field: "frame.number", lit: strconv.Itoa(r.Frame)})
	} else {
		frame = b.node("", "frame", "Frame "+strconv.Itoa(r.Frame)+": "+strconv.Itoa(r.FrameLen)+
			" bytes on wire, "+when+", TCP stream "+strconv.Itoa(r.Stream), nodeRef{field: "frame.number", lit: strconv.Itoa(r.Frame)})
	}
	fk := keyOf(frame)
	frame.AddChild(b.node(fk, "time", title(session.FieldTimeEpoch)+when, nodeRef{field: session.FieldTimeEpoch.Name, lit: timeLiteral(r.Time.UnixNano())}))
	frame.AddChild(b.node(fk, "relative", title(session.FieldTimeRelative)+formatSeconds(r.Relative)+" seconds", nodeRef{field: session.FieldTimeRelative.Name, lit: timeLiteral(int64(r.Relative))}))
	if ifc := r.Interface; ifc != nil {
		label := title(session.FieldInterfaceID) + strconv.Itoa(ifc.ID)
		if ifc.Name != "" {
			label += " (" + ifc.Name + ")"
		}
		frame.AddChild(b.node(fk, "iface", label, nodeRef{field: session.FieldInterfaceID.Name, lit: strconv.Itoa(ifc.ID)}))
	}
	if !r.Direct {
		frame.AddChild(b.node(fk, "protocols", "["+title(session.FieldProtocols)+r.ProtocolChain().String()+"]", nodeRef{field: session.FieldProtocols.Name, lit: quote(r.ProtocolChain().String())}))
	}
	srcRef, dstRef := addrRefs(r)
	frame.AddChild(b.node(fk, "src", "Source: "+src, srcRef))
	frame.AddChild(b.node(fk, "dst", "Destination: "+dst, dstRef))
	dir := "broker → client"
	if r.Packet.FromClient {
		dir = "client → broker"
	}
	if r.Direct {
		frame.AddChild(b.node(fk, "stream", "Received by mqtap from the broker (connection "+strconv.Itoa(r.Stream)+")", nodeRef{}))
	} else {
		frame.AddChild(b.node(fk, "stream", title(session.FieldStream)+strconv.Itoa(r.Stream)+" ("+dir+")", nodeRef{field: session.FieldStream.Name, lit: strconv.Itoa(r.Stream)}))
	}
	b.expand(frame, false)
	return frame
}

// webSocketNode is the subtree of the WebSocket frame that completed the
// packet, collapsed unless the user expanded it.
func (b *treeBuilder) webSocketNode(r *session.Record) *tview.TreeNode {
	ws := b.node("", "websocket", r.WSFrame.Title(), nodeRef{field: "websocket"})
	wk := keyOf(ws)
	for k, l := range r.WSFrame.Lines(r.WebSocket) {
		ws.AddChild(b.node(wk, strconv.Itoa(k), l, nodeRef{}))
	}
	b.expand(ws, false)
	return ws
}

// mqttNode is the MQTT packet's subtree: every field at its depth, then
// the problems found, in red.
func (b *treeBuilder) mqttNode(p *decode.Packet) *tview.TreeNode {
	mq := b.node("", "mqtt", "MQ Telemetry Transport Protocol, "+decode.Info(p), nodeRef{off: 0, n: len(p.Raw), hasRange: true})
	b.expand(mq, true)
	stack := []*tview.TreeNode{mq}
	for i := range p.Fields {
		f := &p.Fields[i]
		depth := int(f.Depth) + 1
		if depth > len(stack) {
			depth = len(stack)
		}
		stack = stack[:depth]
		parent := stack[depth-1]
		label := decode.Label(p, f)
		if f.Name == "mqtt.passwd" {
			label = "Password: ******** (the bytes pane shows it)"
		}
		n := b.node(keyOf(parent), f.Name, label, nodeRef{off: f.Off, n: f.Len, hasRange: f.Len > 0 || f.Off > 0, field: f.Name, val: packetFieldValue(f)})
		parent.AddChild(n)
		if (f.Name == "mqtt.msg" || f.Name == "mqtt.willmsg") && output.Printable(f.Bytes) {
			n.AddChild(b.node(keyOf(n), "text", "[As text: "+string(f.Bytes)+"]", nodeRef{off: f.Off, n: f.Len, hasRange: true}))
		}
		stack = append(stack, n)
	}
	// Subtrees below the first level start collapsed, as in Wireshark.
	for _, c := range mq.GetChildren() {
		c.Walk(func(n, _ *tview.TreeNode) bool {
			b.expand(n, false)
			return true
		})
	}
	for _, pr := range p.Problems {
		text := "[Protocol Violation: " + pr.Text
		ref := nodeRef{off: pr.Off, n: pr.Len, hasRange: pr.Len > 0, field: session.FieldFindings.Name, lit: quote(session.MQTTProtocolViolation.String())}
		if pr.Severity == decode.Malformed {
			text = "[Malformed Packet: " + pr.Text
			ref.field, ref.lit = session.FieldMalformed.Name, ""
		}
		if pr.Rule != "" {
			text += " (" + pr.Rule + ")"
		}
		n := b.node(keyOf(mq), "problem", text+"]", ref)
		n.SetTextStyle(tcell.StyleDefault.Foreground(tcell.ColorRed))
		mq.AddChild(n)
	}
	return mq
}

// mqtapNode is the subtree of what mqtap learned about the record: TLS,
// session, decryption, verification, findings.
func (b *treeBuilder) mqtapNode(r *session.Record) *tview.TreeNode {
	c := &r.Crypto
	mt := b.node("", "mqtap", "mqtap", nodeRef{})
	b.expand(mt, true)
	add := func(parent *tview.TreeNode, name, title, value string, ref nodeRef) *tview.TreeNode {
		if value == "" {
			return nil
		}
		n := b.node(keyOf(parent), name, title+value, ref)
		parent.AddChild(n)
		return n
	}
	if r.TLSVersion != 0 {
		suite := fmt.Sprintf("0x%04x", r.TLSSuite)
		if s, ok := tlskeys.SuiteByID(r.TLSSuite); ok {
			suite = s.Name
		}
		add(mt, "tls", "TLS: ", tlskeys.VersionName(r.TLSVersion)+", "+suite+" (decrypted with the key log)", nodeRef{field: "tls"})
	}
	add(mt, "session", title(session.FieldSession), c.Session, textRef(session.FieldSession, c.Session))
	add(mt, "scheme", title(session.FieldScheme), c.Scheme, textRef(session.FieldScheme, c.Scheme))
	add(mt, "kex", title(session.FieldKex), c.Kex, textRef(session.FieldKex, c.Kex))
	if c.Message > 0 {
		add(mt, "message", title(session.FieldMessage), strconv.Itoa(c.Message), nodeRef{field: session.FieldMessage.Name, lit: strconv.Itoa(c.Message)})
	}
	if c.Copy {
		add(mt, "copy", "Copy: ", "the broker's forward of a message seen before", nodeRef{})
	}
	add(mt, "verify", title(session.FieldVerify), c.Verify, textRef(session.FieldVerify, c.Verify))
	outcome := mt
	if d := add(mt, "decrypt", title(session.FieldDecrypt), c.Decrypt, textRef(session.FieldDecrypt, c.Decrypt)); d != nil {
		outcome = d
		if c.Decrypt != "ok" {
			d.SetTextStyle(tcell.StyleDefault.Foreground(tcell.ColorRed))
		}
	}
	add(outcome, "reason", title(session.FieldDecryptError), c.Reason, textRef(session.FieldDecryptError, c.Reason))
	add(outcome, "key", title(session.FieldKey), c.Key, textRef(session.FieldKey, c.Key))
	add(outcome, "kdf", title(session.FieldKDF), c.KDF, textRef(session.FieldKDF, c.KDF))
	if !c.TokenTime.IsZero() {
		add(outcome, "token_time", title(session.FieldTokenTime), c.TokenTime.UTC().Format("2006-01-02 15:04:05 UTC"), nodeRef{field: session.FieldTokenTime.Name, lit: strconv.FormatInt(c.TokenTime.Unix(), 10)})
	}
	if pt := plaintextOf(r); pt != nil {
		ref := nodeRef{off: 0, n: len(pt), hasRange: true, decrypted: true}
		if utf8.Valid(pt) {
			ref.field, ref.val = session.FieldPlaintext.Name, &decode.Field{Kind: decode.KindString, Bytes: pt}
			add(outcome, "plaintext", title(session.FieldPlaintext), string(pt), ref)
		} else {
			ref.field, ref.val = session.FieldPlaintextHex.Name, &decode.Field{Kind: decode.KindBytes, Bytes: pt}
			add(outcome, "plaintext", title(session.FieldPlaintextHex), hex.EncodeToString(pt), ref)
		}
	}
	b.valueNodes(mt, r)
	for _, f := range r.Findings {
		sev := f.Severity()
		n := add(mt, "finding", title(session.FieldFindings), f.Code.String()+" ("+sev.String()+"): "+f.Text, textRef(session.FieldFindings, f.Code.String()))
		if sev >= session.SevHigh {
			n.SetTextStyle(tcell.StyleDefault.Foreground(tcell.ColorRed).Bold(true))
		} else if sev >= session.SevMedium {
			n.SetTextStyle(tcell.StyleDefault.Bold(true))
		}
	}
	for _, c := range mt.GetChildren() {
		b.expand(c, true)
	}
	return mt
}

// valueNodes adds the decoded value of a record under the mqtap node: its
// format (and what named it), then the value as a tree of its members, or
// why it did not decode. Objects and arrays with many members start
// collapsed.
func (b *treeBuilder) valueNodes(mt *tview.TreeNode, r *session.Record) {
	f, js, err := r.DecodedValue()
	if f == payload.None {
		return
	}
	text := title(session.FieldPayloadFormat) + f.String()
	if r.Value.Why != "" {
		text += " (" + r.Value.Why + ")"
	}
	fn := b.node(keyOf(mt), "payload_format", text, textRef(session.FieldPayloadFormat, f.String()))
	mt.AddChild(fn)
	if err != nil {
		n := b.node(keyOf(fn), "malformed", "Malformed: "+err.Error(), nodeRef{})
		n.SetTextStyle(tcell.StyleDefault.Foreground(tcell.ColorRed))
		fn.AddChild(n)
		return
	}
	parents := []*tview.TreeNode{mt}
	var fields []string // the field name of the member at each depth (mqtap.value.<path>)
	payload.Tree(js, func(depth int, name string, v []byte) {
		parents = parents[:depth+1]
		field := session.FieldValue.Name
		if fields = fields[:depth]; depth > 0 {
			field = valueMember(fields[depth-1], name)
		}
		fields = append(fields, field)
		if depth == 0 {
			name = session.FieldValue.Title
		}
		kind := payload.KindOf(v)
		line := sanitize(name)
		switch kind {
		case payload.KindObject, payload.KindArray:
		case payload.KindString:
			line += ": " + sanitize(payload.Unquote(v))
		default:
			line += ": " + string(v)
		}
		n := b.node(keyOf(parents[depth]), "value."+name, line, nodeRef{field: field, val: &decode.Field{Kind: session.KindJSON, Bytes: v}})
		parents[depth].AddChild(n)
		if kind == payload.KindObject || kind == payload.KindArray {
			b.expand(n, depth < 2 || len(v) < 200)
		}
		parents = append(parents, n)
	})
}

// rememberedNode returns the node to select in a new tree: the one with the
// key selected before, or its closest visible ancestor, else the MQTT node.
func (a *App) rememberedNode(root *tview.TreeNode) *tview.TreeNode {
	var found, fallback *tview.TreeNode
	var path []*tview.TreeNode
	var walk func(n *tview.TreeNode) bool
	walk = func(n *tview.TreeNode) bool {
		if k := keyOf(n); k == "/mqtt#0" {
			fallback = n
		}
		if a.treeKey != "" && keyOf(n) == a.treeKey {
			// Select the topmost collapsed ancestor when the node is hidden.
			for _, anc := range path {
				if !anc.IsExpanded() {
					found = anc
					return true
				}
			}
			found = n
			return true
		}
		path = append(path, n)
		for _, c := range n.GetChildren() {
			if walk(c) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	for _, c := range root.GetChildren() {
		if walk(c) {
			break
		}
	}
	if found != nil {
		return found
	}
	return fallback
}

// onTreeSelect highlights the selected node's bytes in the hex pane.
func (a *App) onTreeSelect(n *tview.TreeNode) {
	if n == nil {
		a.hex.highlight(0, 0, false)
		return
	}
	ref, ok := n.GetReference().(*nodeRef)
	if !ok {
		a.hex.highlight(0, 0, false)
		return
	}
	a.treeKey = ref.key
	if !ref.hasRange {
		a.hex.highlight(0, 0, false)
		return
	}
	a.hex.highlight(ref.off, ref.n, ref.decrypted)
}

// toggleTreeNode expands or collapses the selected subtree (Enter, Space).
func (a *App) toggleTreeNode() {
	n := a.tree.GetCurrentNode()
	if n == nil || len(n.GetChildren()) == 0 {
		return
	}
	a.setExpanded(n, !n.IsExpanded())
}

// expandTreeNode expands the selected subtree (→) or collapses it, moving
// to the parent when it is collapsed already (←).
func (a *App) expandTreeNode(open bool) {
	n := a.tree.GetCurrentNode()
	if n == nil {
		return
	}
	if len(n.GetChildren()) > 0 && n.IsExpanded() != open {
		a.setExpanded(n, open)
		return
	}
	if !open {
		path := a.tree.GetPath(n)
		// path is root … parent, n; the root is hidden (top level 1).
		if len(path) >= 3 {
			a.tree.SetCurrentNode(path[len(path)-2])
			a.onTreeSelect(path[len(path)-2])
		}
	}
}

// expandAll expands or collapses every subtree.
func (a *App) expandAll(open bool) {
	root := a.tree.GetRoot()
	if root == nil {
		return
	}
	for _, c := range root.GetChildren() {
		c.Walk(func(n, _ *tview.TreeNode) bool {
			if len(n.GetChildren()) > 0 {
				a.setExpanded(n, open)
			}
			return true
		})
	}
	if !open {
		// The selected node may be hidden now: select its top-level ancestor.
		if path := a.tree.GetPath(a.tree.GetCurrentNode()); len(path) >= 2 {
			a.tree.SetCurrentNode(path[1])
			a.onTreeSelect(path[1])
		}
	}
}

// setExpanded expands or collapses a node and remembers the choice for the
// next packets.
func (a *App) setExpanded(n *tview.TreeNode, open bool) {
	n.SetExpanded(open)
	markNode(n)
	if k := keyOf(n); k != "" {
		a.expanded[k] = open
	}
}

// markNode prefixes a detail tree node that has children with ▸ when it is
// collapsed and ▾ when it is expanded.
func markNode(n *tview.TreeNode) {
	if ref, ok := n.GetReference().(*nodeRef); ok {
		n.SetText(expansionMarker(n) + ref.label)
	}
}

// expansionMarker returns the prefix that shows whether a node is expanded.
func expansionMarker(n *tview.TreeNode) string {
	switch {
	case len(n.GetChildren()) == 0:
		return ""
	case n.IsExpanded():
		return "▾ "
	}
	return "▸ "
}

// onTreeClick toggles a subtree when its node is clicked again; prev is the
// node selected before the click.
func (a *App) onTreeClick(prev, n *tview.TreeNode) {
	if n != nil && n == prev && len(n.GetChildren()) > 0 {
		a.setExpanded(n, !n.IsExpanded())
	}
}

// onHexClick selects the innermost detail tree node covering a clicked
// byte.
func (a *App) onHexClick(off int, decrypted bool) {
	root := a.tree.GetRoot()
	if root == nil {
		return
	}
	var best *tview.TreeNode
	var bestLen int
	var path []*tview.TreeNode
	var bestPath []*tview.TreeNode
	var walk func(n *tview.TreeNode)
	walk = func(n *tview.TreeNode) {
		path = append(path, n)
		if ref, ok := n.GetReference().(*nodeRef); ok && ref.hasRange && ref.decrypted == decrypted &&
			off >= ref.off && off < ref.off+ref.n && (best == nil || ref.n <= bestLen) {
			best, bestLen = n, ref.n
			bestPath = append(bestPath[:0], path...)
		}
		for _, c := range n.GetChildren() {
			walk(c)
		}
		path = path[:len(path)-1]
	}
	walk(root)
	if best == nil {
		return
	}
	for _, anc := range bestPath[:len(bestPath)-1] {
		if anc != root && !anc.IsExpanded() {
			a.setExpanded(anc, true)
		}
	}
	a.tree.SetCurrentNode(best)
	a.onTreeSelect(best)
}

// treeEdge selects the first or the last visible node of a tree whose
// nodes are shown from level topLevel (tview's Home and End only scroll).
func (a *App) treeEdge(t *tview.TreeView, topLevel int, last bool) {
	root := t.GetRoot()
	if root == nil {
		return
	}
	var visible []*tview.TreeNode
	var walk func(n *tview.TreeNode, level int)
	walk = func(n *tview.TreeNode, level int) {
		if level >= topLevel {
			visible = append(visible, n)
		}
		if n.IsExpanded() || level < topLevel {
			for _, c := range n.GetChildren() {
				walk(c, level+1)
			}
		}
	}
	walk(root, 0)
	if len(visible) == 0 {
		return
	}
	n := visible[0]
	if last {
		n = visible[len(visible)-1]
	}
	t.SetCurrentNode(n)
	if t == a.tree {
		a.onTreeSelect(n)
	}
}

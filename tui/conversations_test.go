package tui

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

// feedFrames runs a capture file through the pipeline into c as mqtap
// tui does, with the capture's options (c.Options: the TCP frames reach
// the connections table), calling each (when set) after every frame.
func feedFrames(c *model.Capture, path string, each func()) error {
	r, err := pcaps.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := session.NewPipeline(r.LinkType(), c.Options(session.Options{}), c.Handler())
	if err != nil {
		return err
	}
	for {
		data, ci, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := p.Frame(data, ci); err != nil {
			return err
		}
		if each != nil {
			each()
		}
	}
	if err := p.Close(); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	c.Finish(nil)
	return nil
}

// convLine returns the screen line of the conversations view that holds
// all of parts, or "".
func (u *ui) convLine(parts ...string) string {
	for _, line := range u.lines() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return line
		}
	}
	return ""
}

// firstConvRow returns the first data row of the conversations view.
func (u *ui) firstConvRow() string {
	lines := u.lines()
	for i, line := range lines {
		if strings.Contains(line, "Client ID") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// clickText clicks the first occurrence of s on the screen.
func (u *ui) clickText(s string) {
	u.t.Helper()
	for y, line := range u.lines() {
		if i := strings.Index(line, s); i >= 0 {
			x := utf8.RuneCountInString(line[:i]) + 1
			u.screen.InjectMouse(x, y, tcell.Button1, tcell.ModNone)
			u.screen.InjectMouse(x, y, tcell.ButtonNone, tcell.ModNone)
			return
		}
	}
	u.t.Fatalf("%q is not on the screen:\n%s", s, u.text())
}

// TestConversationsView opens C on the lab sample: one row per connection
// with its client id and tshark's frame and byte counts; < > r and a click
// on a header sort; Enter filters the packet list to the connection.
func TestConversationsView(t *testing.T) {
	c := newCapture(t, labSession, labKeys)
	if err := feedFrames(c, labSession, nil); err != nil {
		t.Fatal(err)
	}
	u := start(t, c, 220, 30, Options{})
	u.typeText("C")
	u.waitFor("stream 2's row", func(string) bool { return u.convLine("le0nh4rt", "127.0.0.1:44386") != "" })
	// Stream 2: le0nh4rt's first connection; tshark -z conv,tcp counts 16
	// frames and 2857 bytes from the client, 12 and 2514 from the broker.
	row := u.convLine("le0nh4rt", "127.0.0.1:44386")
	for _, want := range []string{" 5.0 ", "127.0.0.1:1884", "DISCONNECT by client: Normal disconnection", " 16 ", " 2857 ", " 12 ", " 2514 "} {
		if !strings.Contains(row, want) {
			t.Errorf("stream 2's row lacks %q: %q", want, row)
		}
	}
	if u.convLine("Stream ▲") == "" {
		t.Errorf("the header does not show the sort column:\n%s", u.text())
	}

	u.typeText(">")
	u.waitText("Client ID ▲")
	u.waitFor("cosmo42 first", func(string) bool { return strings.Contains(u.firstConvRow(), "cosmo42") })
	u.typeText("r")
	u.waitText("Client ID ▼")
	u.waitFor("responder-py first", func(string) bool { return strings.Contains(u.firstConvRow(), "responder-py") })
	u.waitText("connections sorted by Client ID, descending")

	u.clickText("Bytes C→B")
	u.waitText("Bytes C→B ▲")
	u.waitFor("the fewest bytes first", func(string) bool { return strings.Contains(u.firstConvRow(), " 2857 ") })
	u.clickText("Bytes C→B")
	u.waitText("Bytes C→B ▼")
	u.waitFor("the most bytes first", func(string) bool { return strings.Contains(u.firstConvRow(), "responder-py") })

	u.typeText("g")
	u.key(tcell.KeyEnter)
	u.waitText("filter: tcp.stream == 0")
	u.waitText("29/115 packets") // responder-py: 15 packets to the broker, 14 back
}

// TestConversationsSizes: the view fits the smallest and largest
// terminals (80x24 to 250x80); the help lists its keys and commands.
func TestConversationsSizes(t *testing.T) {
	c := newCapture(t, labSession, "")
	if err := feedFrames(c, labSession, nil); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{80, 24}, {250, 80}} {
		u := start(t, c, size[0], size[1], Options{})
		u.typeText("C")
		u.waitText("Conversations (MQTT connections)")
		u.waitFor("stream 2's row", func(string) bool { return u.convLine("le0nh4rt", "127.0.0.1:44386") != "" })
		if size[0] == 250 && u.convLine("le0nh4rt", "2857", "2514", "0.119795") == "" {
			t.Errorf("250 columns do not show stream 2's whole row:\n%s", u.text())
		}
		u.app.Stop()
	}
	help := (&App{keys: keyTable(), commands: commandTable()}).helpText()
	for _, want := range []string{"Conversations view", "sort by the column to the left", ":conversations (:connections :conv)"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help lacks %q", want)
		}
	}
}

// TestConversationsEmpty: a capture without MQTT shows a message.
func TestConversationsEmpty(t *testing.T) {
	c := newCapture(t, "empty.pcap", "")
	c.Finish(nil)
	u := start(t, c, 80, 24, Options{})
	u.typeText("C")
	u.waitText("no MQTT connections")
	u.key(tcell.KeyEnter) // nothing to filter to
	u.typeText("<>r")
	u.waitText("no MQTT connections")
	u.key(tcell.KeyEscape)
	u.waitGone("no MQTT connections")
}

// TestConversationsLive: the view follows a capture as it grows, and the
// :conversations command opens it.
func TestConversationsLive(t *testing.T) {
	c := newCapture(t, labSession, labKeys)
	u := start(t, c, 200, 30, Options{Live: true})
	u.typeText(":conversations")
	u.key(tcell.KeyEnter)
	u.waitText("no MQTT connections")
	fed := make(chan error, 1)
	go func() {
		fed <- feedFrames(c, labSession, func() {
			time.Sleep(8 * time.Millisecond) // about 2 s: the open view refreshes once a second
			c.Flush()
		})
	}()
	u.waitFor("a connection while the capture grows", func(s string) bool {
		return strings.Contains(s, "responder-py") && !strings.Contains(s, "│ done │")
	})
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
	u.key(tcell.KeyEscape)
	u.typeText("C")
	u.waitFor("the seven connections", func(s string) bool {
		return strings.Contains(s, "Conversations (MQTT connections)") && strings.Count(s, "127.0.0.1:1884") == 7
	})
}

// manyConnections feeds n connections of one CONNECT each (no TCP
// frames, as mqtap tap gives). The CONNECT is decoded once; each record
// overwrites its client id in place (the handler copies the record).
func manyConnections(tb testing.TB, c *model.Capture, n int) {
	tb.Helper()
	h := c.Handler()
	t0 := time.Unix(1700000000, 0)
	broker := netip.MustParseAddr("10.0.0.1")
	const idLen = 11 // dev-NNNNNNN
	raw := append([]byte{0x10, 12 + idLen, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, idLen}, make([]byte, idLen)...)
	var rec session.Record
	var mq decode.Conn
	mq.Decode(raw, true, &rec.Packet)
	for i := range n {
		copy(raw[14:], fmt.Sprintf("dev-%07d", i))
		rec.Frame, rec.Time, rec.Relative = i+1, t0.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond
		rec.FrameLen, rec.Stream, rec.FirstSeen = 54+len(raw), i, true
		rec.Src, rec.SrcPort = netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), uint16(1024+i%60000)
		rec.Dst, rec.DstPort = broker, 1883
		if err := h(&rec); err != nil {
			tb.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		tb.Fatal(err)
	}
	c.Finish(nil)
}

// TestConversationsMany: many connections (BenchmarkConversations1M
// opens a million): the view is a virtual table, G goes to the last one
// and r reverses the order.
func TestConversationsMany(t *testing.T) {
	const n = 100_000
	c := newCapture(t, "many.pcap", "")
	manyConnections(t, c, n)
	u := start(t, c, 120, 30, Options{})
	u.typeText("C")
	u.waitText("dev-0000000")
	u.typeText("G")
	u.waitText(fmt.Sprintf("dev-%07d", n-1))
	u.typeText("r")
	u.waitText("Stream ▼")
	u.waitFor("the last connection first", func(string) bool {
		return strings.Contains(u.firstConvRow(), fmt.Sprintf("dev-%07d", n-1))
	})
}

// BenchmarkConversations1M opens the conversations view of a million
// connections and sorts it by client id, descending; it reports the time
// until the first screen shows and until the sorted one does.
func BenchmarkConversations1M(b *testing.B) {
	const n = 1_000_000
	c, err := model.New("many.pcap", model.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	manyConnections(b, c, n)
	last := fmt.Sprintf("dev-%07d", n-1)
	for b.Loop() {
		screen := tcell.NewSimulationScreen("UTF-8")
		if err := screen.Init(); err != nil {
			b.Fatal(err)
		}
		screen.SetSize(120, 30)
		a, err := New(c, screen, Options{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run() }()
		// shows waits until the screen's first conversation row holds s.
		shows := func(s string) {
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				var first string
				ch := make(chan struct{})
				a.app.QueueUpdate(func() {
					cells, w, h := screen.GetContents()
					lines := linesOf(cells, w, h)
					for i, line := range lines {
						if strings.Contains(line, "Client ID") && i+1 < len(lines) {
							first = lines[i+1]
						}
					}
					close(ch)
				})
				<-ch
				if strings.Contains(first, s) {
					return
				}
			}
			b.Fatalf("the conversations view never showed %q first", s)
		}
		began := time.Now()
		screen.InjectKey(tcell.KeyRune, 'C', tcell.ModNone)
		shows("dev-0000000")
		first := time.Since(began)
		began = time.Now()
		screen.InjectKey(tcell.KeyRune, '>', tcell.ModNone)
		screen.InjectKey(tcell.KeyRune, 'r', tcell.ModNone)
		shows(last)
		sorted := time.Since(began)
		a.Stop()
		<-done
		b.ReportMetric(float64(first.Microseconds())/1000, "first-screen-ms")
		b.ReportMetric(float64(sorted.Microseconds())/1000, "sort-ms")
	}
}

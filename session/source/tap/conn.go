package tap

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tapConn is a broker connection that hands a copy of everything it reads
// to the tapper. It reads from the network in blocks of up to readBufSize
// bytes and serves paho's small reads from that block, so a chunk is what
// one network read returned, not one of paho's byte-sized reads.
type tapConn struct {
	net.Conn
	t             *tapper
	n             int
	local, broker netip.AddrPort

	rmu     sync.Mutex // serialises Read
	buf     []byte
	pending []byte // read from the network, not yet returned
	rerr    error  // the network read error, returned once pending is empty

	emu   sync.Mutex // orders this connection's chunks
	ended bool

	closeOnce sync.Once
	closeErr  error
}

// Read implements net.Conn.
func (c *tapConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.pending) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		n, err := c.Conn.Read(c.buf)
		now := time.Now()
		if n > 0 {
			c.pending = c.buf[:n]
			c.emit(Chunk{Conn: c.n, Local: c.local, Broker: c.broker, Data: bytes.Clone(c.buf[:n]), Time: now})
		}
		if err != nil {
			c.rerr = err
			if !errors.Is(err, net.ErrClosed) {
				c.t.noteReason(c.n, describe(err))
			}
			c.end()
			if n == 0 {
				return 0, err
			}
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Close implements net.Conn; it also ends the connection's chunks.
func (c *tapConn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.Conn.Close() })
	c.end()
	return c.closeErr
}

// emit sends a data chunk unless the connection has ended.
func (c *tapConn) emit(ch Chunk) {
	c.emu.Lock()
	defer c.emu.Unlock()
	if !c.ended {
		c.t.send(ch)
	}
}

// end sends the connection's Closed chunk, once.
func (c *tapConn) end() {
	c.emu.Lock()
	defer c.emu.Unlock()
	if c.ended {
		return
	}
	c.ended = true
	c.t.mu.Lock()
	delete(c.t.open, c)
	c.t.mu.Unlock()
	c.t.send(Chunk{Conn: c.n, Local: c.local, Broker: c.broker, Time: time.Now(), Closed: true})
}

// addrPort converts a TCP address (IPv4-mapped addresses unmapped).
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if ta, ok := a.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	} else if a != nil {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

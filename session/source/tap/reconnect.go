// autopaho's connection callbacks: dialling, the delay before each
// reconnect, refused and failed attempts, a connection coming up, and why
// one was lost.

package tap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// dial is autopaho's AttemptConnection: it opens the network connection
// and wraps it so that every read is also handed to the caller.
func (t *tapper) dial(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
	// autopaho passes its own context here, not the one bounded by
	// ConnectTimeout: bound the dial (and TLS handshake) ourselves.
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	switch {
	case t.ws:
		var wc *WSConn
		wc, err = DialWebSocket(ctx, u, DialOptions{TLSConfig: t.tlsCfg})
		if err == nil {
			t.mu.Lock()
			t.noProto = wc.Subprotocol == ""
			t.mu.Unlock()
			c = wc
		}
	case t.tlsCfg != nil:
		d := tls.Dialer{Config: t.tlsCfg}
		c, err = d.DialContext(ctx, "tcp", u.Host)
	default:
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.conns++
	tc := &tapConn{
		Conn:   c,
		t:      t,
		n:      t.conns,
		local:  addrPort(c.LocalAddr()),
		broker: addrPort(c.RemoteAddr()),
		buf:    make([]byte, readBufSize),
	}
	t.open[tc] = struct{}{}
	t.mu.Unlock()
	// autopaho writes from several goroutines; paho's packet writer holds
	// the Locker of this wrapper for each packet.
	return packets.NewThreadSafeConn(tc), nil
}

// backoff is autopaho's ReconnectBackoff: the delay before attempt (0 for
// the first one) of a connection cycle. The initial cycle starts at once;
// after a lost connection the delays are 0.5s, 1s, 2s, ... up to
// MaxBackoff.
func (t *tapper) backoff(attempt int) time.Duration {
	t.mu.Lock()
	reconnecting, stopping, why := t.everUp, t.fatal != nil, t.lastErr
	t.mu.Unlock()
	if !reconnecting {
		if attempt == 0 {
			return 0
		}
		return firstBackoff // not reached: a failed first attempt ends Run
	}
	d := delay(attempt+1, t.cfg.MaxBackoff)
	if attempt > 0 && !stopping && t.runCtx.Err() == nil {
		t.logf("reconnecting to %s in %v (attempt %d): %s", t.display, d, attempt+1, why)
	}
	return d
}

// delay is the wait before reconnect attempt n (1-based): 0.5s doubled
// n-1 times, at most maxDelay.
func delay(n int, maxDelay time.Duration) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// permanent reports whether a CONNACK refusal will not go away by
// retrying.
func permanent(code byte) bool {
	switch code {
	case 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C:
		return true
	}
	return false
}

// onConnectError is autopaho's OnConnectError: a connection attempt failed.
func (t *tapper) onConnectError(err error) {
	var ce *autopaho.ConnackError
	refused := errors.As(err, &ce) && ce.ReasonCode >= 0x80
	t.mu.Lock()
	first := !t.everUp
	t.mu.Unlock()
	switch {
	case refused && (first || permanent(ce.ReasonCode)):
		t.fail(&refusedError{server: t.display, code: ce.ReasonCode, reason: ce.Reason, err: err})
	case first:
		t.fail(fmt.Errorf("connecting to %s: %w", t.display, connectCause(err)))
	default:
		why := describe(connectCause(err))
		if refused {
			why = "the broker refused the connection: " + connackText(ce.ReasonCode, ce.Reason)
		}
		t.mu.Lock()
		t.lastErr = why
		t.mu.Unlock()
	}
}

// connectCause strips autopaho's "failed to connect to URL: " wrapping.
func connectCause(err error) error {
	var ce *autopaho.ConnackError
	if errors.As(err, &ce) {
		return err
	}
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", connectTimeout, err)
	}
	return err
}

// onUp is autopaho's OnConnectionUp: CONNACK accepted the connection.
func (t *tapper) onUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	t.mu.Lock()
	first := !t.everUp
	t.everUp = true
	t.upConn = t.conns
	n := t.conns
	t.reason, t.reasonSet, t.reasonCh = "", false, make(chan struct{})
	noProto := t.noProto
	t.mu.Unlock()
	if first {
		t.logf("connected to %s (MQTT 5, client ID %q)", t.display, t.clientID)
	} else {
		t.logf("reconnected to %s (connection %d)", t.display, n)
	}
	if noProto && !t.warnedProto {
		t.warnedProto = true
		t.logf("warning: %s chose no WebSocket subprotocol (MQTT-6.0.0-4: it must choose \"mqtt\"); the connection works anyway", t.display)
	}
	t.workers.Add(1)
	go t.subscribe(cm, first)
}

// noteReason records why connection n (if it is the one that was up) was
// lost; the first reason wins.
func (t *tapper) noteReason(n int, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n != t.upConn || t.reasonSet {
		return
	}
	t.reason, t.reasonSet = why, true
	close(t.reasonCh)
}

// onClientError is paho's OnClientError (called by autopaho in a
// goroutine): the connection that was up failed.
func (t *tapper) onClientError(err error) {
	t.mu.Lock()
	n := t.upConn
	t.mu.Unlock()
	t.noteReason(n, describe(err))
}

// onServerDisconnect is paho's OnServerDisconnect (called in a goroutine):
// the broker sent DISCONNECT.
func (t *tapper) onServerDisconnect(d *paho.Disconnect) {
	reason := ""
	if d.Properties != nil {
		reason = d.Properties.ReasonString
	}
	t.mu.Lock()
	n := t.upConn
	t.mu.Unlock()
	t.noteReason(n, "the broker sent DISCONNECT: "+disconnectText(d.ReasonCode, reason))
}

// onDown is autopaho's OnConnectionDown: the connection that was up is
// gone. It logs why (waiting briefly for paho's callbacks, which autopaho
// runs in goroutines) and lets autopaho reconnect unless Run is ending.
func (t *tapper) onDown() bool {
	t.mu.Lock()
	ch := t.reasonCh
	t.mu.Unlock()
	timer := time.NewTimer(reasonWait)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	case <-t.runCtx.Done():
	}
	t.mu.Lock()
	why, stopping := t.reason, t.fatal != nil
	t.lastErr = ""
	t.mu.Unlock()
	if stopping || t.runCtx.Err() != nil {
		return false
	}
	if why == "" {
		why = "connection closed"
	}
	t.logf("lost the connection to %s: %s; reconnecting", t.display, why)
	return true
}

// describe turns a connection error into a short phrase.
func describe(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the broker closed the connection"
	}
	return err.Error()
}

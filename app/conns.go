package app

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// DefaultMaxConnections is the cap on open HTTP connections when
// Config.MaxConnections is zero: the process's file limit less a reserve
// for what else holds files (database, webhook deliveries, linked
// WhatsApp accounts, SMTP, logs), or half the limit when it is small, and
// never more than maxDefaultConnections.
func DefaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1024
	}
	files := int(min(lim.Cur, 1<<30))
	return max(1, min(maxDefaultConnections, max(files/2, files-fileReserve)))
}

// fileReserve: 256 delivery workers each with a connection and as many
// kept idle, plus the database pool and the linked accounts' sockets.
const fileReserve = 1024

// maxDefaultConnections: an idle connection holds about 15 KiB (measured:
// its goroutine's 8 KiB stack and its buffers), so 10,000 cost ~150 MiB,
// and are more than proxies, API clients and browsers keep open in practice.
const maxDefaultConnections = 10_000

// connLimit caps the connections a server holds open at once. At the cap
// it closes the connection idle the longest to make room (safe for
// HTTP/1.1: a client retries an idempotent request on a keep-alive
// connection the server closed, or opens a new one), and with none idle it
// stops accepting until one closes.
//
// Not accepting, rather than accepting and closing at once: a connection
// left in the kernel's accept queue is served as soon as another closes,
// so its user sees a slower answer instead of an error, and it costs no
// file descriptor meanwhile; when the queue is full, the client's kernel
// retries the handshake, backing off by itself.
type connLimit struct {
	max int

	mu      sync.Mutex
	open    int // accepted and not yet closed, or reserved for the next Accept
	most    int // the most open at once, for tests
	idle    *list.List
	changed chan struct{} // a token when a connection closed or went idle
}

func newConnLimit(n int) *connLimit {
	return &connLimit{max: n, idle: list.New(), changed: make(chan struct{}, 1)}
}

// listener wraps ln so that its Accept keeps to the cap; the server
// serving it must call l.connState on every change of state.
func (l *connLimit) listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, limit: l, done: make(chan struct{})}
}

// signal notes that a slot may be free, or an idle connection closable.
func (l *connLimit) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// reserve waits until one more connection may be open, closing the
// connection idle the longest if that makes room; false when done closes.
func (l *connLimit) reserve(done <-chan struct{}) bool {
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.most = max(l.most, l.open)
			l.mu.Unlock()
			return true
		}
		var oldest *limitedConn
		if e := l.idle.Front(); e != nil {
			oldest = e.Value.(*limitedConn)
		}
		l.mu.Unlock()
		if oldest != nil {
			// Its Close frees a slot, taken on the next turn. The server
			// may mark it active meanwhile: a request that raced in is then
			// lost, as with http.Server.Shutdown closing idle connections,
			// and an HTTP/1.1 client retries it.
			_ = oldest.Close()
			continue
		}
		select {
		case <-l.changed:
		case <-done:
			return false
		}
	}
}

// connState is the http.Server's ConnState: it keeps the idle
// connections in the order they went idle.
func (l *connLimit) connState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.idle != nil {
		l.idle.Remove(lc.idle)
		lc.idle = nil
	}
	if state == http.StateIdle && !lc.closed {
		lc.idle = l.idle.PushBack(lc)
		l.signal()
	}
}

// counts returns how many connections are open, how many of them idle,
// and the most ever open at once.
func (l *connLimit) counts() (open, idle, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.idle.Len(), l.most
}

type limitedListener struct {
	net.Listener
	limit     *connLimit
	done      chan struct{}
	closeOnce sync.Once
}

// Accept takes a connection from the kernel only when the cap allows one.
// One goroutine calls it (http.Server's loop): a wake-up is one token.
func (ln *limitedListener) Accept() (net.Conn, error) {
	if !ln.limit.reserve(ln.done) {
		return nil, net.ErrClosed
	}
	c, err := ln.Listener.Accept()
	if err != nil {
		ln.limit.release()
		return nil, err
	}
	return &limitedConn{Conn: c, limit: ln.limit}, nil
}

func (ln *limitedListener) Close() error {
	ln.closeOnce.Do(func() { close(ln.done) })
	return ln.Listener.Close()
}

// release frees a slot.
func (l *connLimit) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
	l.signal()
}

// limitedConn is an accepted connection, whose first Close frees its slot.
type limitedConn struct {
	net.Conn
	limit  *connLimit
	idle   *list.Element // in limit.idle while idle; guarded by limit.mu
	closed bool          // guarded by limit.mu
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	l := c.limit
	l.mu.Lock()
	if c.closed {
		l.mu.Unlock()
		return err
	}
	c.closed = true
	if c.idle != nil {
		l.idle.Remove(c.idle)
		c.idle = nil
	}
	l.open--
	l.mu.Unlock()
	l.signal()
	return err
}

// CloseWrite lets http.Server half-close a TCP connection after an error
// answer, so the client reads the answer instead of a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

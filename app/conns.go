package app

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
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
// A connection that has sent nothing since it was accepted for longer than
// silentAfter is closed as well, after the idle ones: otherwise clients
// that open connections and stay silent, each for the 10 s the server
// gives a request's header, could hold every slot, and then no one would
// be accepted.
//
// Not accepting, rather than accepting and closing at once: a connection
// left in the kernel's accept queue is served as soon as another closes,
// so its user sees a slower answer instead of an error, and it costs no
// file descriptor meanwhile; when the queue is full, the client's kernel
// retries the handshake, backing off by itself.
type connLimit struct {
	max int

	mu      sync.Mutex
	open    int           // accepted and not yet closed, or reserved for the next Accept
	most    int           // the most open at once, for tests
	idle    *list.List    // idle keep-alive connections, oldest first
	silent  *list.List    // connections that have sent nothing yet, oldest first
	changed chan struct{} // a token when a connection closed or went idle
	now     func() time.Time
}

// silentAfter is how long a connection may have sent nothing before it may
// be closed to make room at the cap: a client sends its request at once
// after connecting, and a browser's speculative connection, closed, is
// opened again when needed.
const silentAfter = 2 * time.Second

func newConnLimit(n int) *connLimit {
	return &connLimit{max: n, idle: list.New(), silent: list.New(), changed: make(chan struct{}, 1), now: time.Now}
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
// connection idle the longest, or else the one silent the longest beyond
// silentAfter, if that makes room; false when done closes.
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
		var wake *time.Timer // when the oldest silent connection may be closed
		if e := l.idle.Front(); e != nil {
			oldest = e.Value.(*limitedConn)
		} else if e := l.silent.Front(); e != nil {
			c := e.Value.(*limitedConn)
			if wait := c.accepted.Add(silentAfter).Sub(l.now()); wait <= 0 {
				oldest = c
			} else {
				wake = time.NewTimer(wait)
			}
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
		var woken <-chan time.Time
		if wake != nil {
			woken = wake.C
		}
		select {
		case <-l.changed:
		case <-woken:
		case <-done:
			return false
		}
		if wake != nil {
			wake.Stop()
		}
	}
}

// connState is the http.Server's ConnState: it keeps the idle
// connections in the order they went idle, and the silent ones (new, not
// a byte read yet) in the order they were accepted.
func (l *connLimit) connState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.silent != nil {
		l.silent.Remove(lc.silent)
		lc.silent = nil
	}
	if state == http.StateNew && !lc.closed {
		lc.silent = l.silent.PushBack(lc)
		return
	}
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
	return &limitedConn{Conn: c, limit: ln.limit, accepted: ln.limit.now()}, nil
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
	limit    *connLimit
	accepted time.Time
	idle     *list.Element // in limit.idle while idle; guarded by limit.mu
	silent   *list.Element // in limit.silent while new; guarded by limit.mu
	closed   bool          // guarded by limit.mu
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
	if c.silent != nil {
		l.silent.Remove(c.silent)
		c.silent = nil
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

package deliver_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chathook/chathook/deliver"
)

// TestStuckWriteEnds: a connection whose peer never reads, as a RabbitMQ
// under a memory or disk alarm does not. A write of 64 MB, more than the
// sockets' buffers hold, returns a deadline error once the write bound
// passes, rather than hanging (and with it the Send and the shutdown).
// Before, the AMQP connection had no write deadline. The 30 s is only a
// safety net; the bound is 200 ms.
func TestStuckWriteEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // held open, never read
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	peer := <-accepted
	t.Cleanup(func() { peer.Close() })

	conn := deliver.WriteBounded(raw, 200*time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Write(make([]byte, 64<<20))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the stuck write returned %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write to a peer that never reads still blocks after 30 s")
	}
}

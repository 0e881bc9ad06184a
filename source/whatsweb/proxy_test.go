package whatsweb_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chathook/chathook/source/whatsweb"
)

// proxyListener is a proxy on loopback that records where each client
// asked to go, and refuses to take it there.
type proxyListener struct {
	ln      net.Listener
	mu      sync.Mutex
	targets []string
}

func (p *proxyListener) record(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets = append(p.targets, target)
}

func (p *proxyListener) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// startProxy serves one protocol, "http" (CONNECT) or "socks5", until
// the test ends.
func startProxy(t *testing.T, protocol string) *proxyListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxyListener{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if protocol == "http" {
					p.refuseHTTP(c)
				} else {
					p.refuseSOCKS5(c)
				}
			}()
		}
	}()
	return p
}

// refuseHTTP reads a CONNECT and answers 403.
func (p *proxyListener) refuseHTTP(c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	p.record(req.Method + " " + req.Host)
	io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
}

// refuseSOCKS5 takes the greeting without authentication, reads the
// CONNECT request (RFC 1928) and answers "connection not allowed".
func (p *proxyListener) refuseSOCKS5(c net.Conn) {
	r := bufio.NewReader(c)
	head := make([]byte, 2)
	if _, err := io.ReadFull(r, head); err != nil || head[0] != 5 {
		return
	}
	if _, err := io.ReadFull(r, make([]byte, head[1])); err != nil {
		return
	}
	c.Write([]byte{5, 0})
	req := make([]byte, 4)
	if _, err := io.ReadFull(r, req); err != nil {
		return
	}
	var host string
	switch req[3] {
	case 1, 4: // IPv4, IPv6
		ip := make([]byte, map[byte]int{1: 4, 4: 16}[req[3]])
		if _, err := io.ReadFull(r, ip); err != nil {
			return
		}
		host = net.IP(ip).String()
	case 3: // a name
		n, err := r.ReadByte()
		if err != nil {
			return
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(r, name); err != nil {
			return
		}
		host = string(name)
	default:
		return
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(r, port); err != nil {
		return
	}
	p.record("CONNECT " + net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port)))))
	c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
}

// With --whatsapp-proxy, a QR account's connection to WhatsApp goes
// through the proxy: both kinds are asked for WhatsApp's websocket
// host, and the proxy refusing it fails the connection (nothing goes
// around it).
func TestWhatsmeowDialsThroughTheProxy(t *testing.T) {
	for _, protocol := range []string{"http", "socks5"} {
		t.Run(protocol, func(t *testing.T) {
			px := startProxy(t, protocol)
			e := newEnv(t, sqliteOpener(t))
			m, err := whatsweb.New(context.Background(), whatsweb.Config{
				Store: e.st, Owner: "a", Now: e.clock.Now,
				Network: whatsweb.Whatsmeow{Proxy: protocol + "://" + px.ln.Addr().String()},
				Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close(context.Background()) })
			_, err = m.Pair(context.Background(), whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com"})
			if err == nil {
				t.Fatal("pairing started although the proxy refused every connection")
			}
			got := px.seen()
			if len(got) == 0 || got[0] != "CONNECT web.whatsapp.com:443" {
				t.Fatalf("the proxy saw %q, want CONNECT web.whatsapp.com:443 (pairing: %v)", got, err)
			}
		})
	}
}

// CheckProxy takes what whatsmeow can dial through, and names what is
// wrong with anything else without repeating a password.
func TestCheckProxy(t *testing.T) {
	for _, ok := range []string{"", "socks5://127.0.0.1:1080", "http://proxy.example:3128", "https://u:p@proxy.example:443", "socks5://u:p@[::1]:1080/"} {
		if err := whatsweb.CheckProxy(ok); err != nil {
			t.Errorf("CheckProxy(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"proxy.example:3128", "ftp://proxy.example:21", "socks4://h:1", "http://proxy.example",
		"socks5://:1080", "http://h:1/path", "http://h:1?x=1", "http://u:s3cret@h", "::nope"} {
		err := whatsweb.CheckProxy(bad)
		if err == nil {
			t.Errorf("CheckProxy(%q) took it", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckProxy(%q) repeats the password: %v", bad, err)
		}
	}
}

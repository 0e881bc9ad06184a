package deliver_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/chathook/chathook/deliver"
)

// refusedAddrs holds an address of every range the dialer must refuse:
// the plain ones, the reserved IPv4 ranges, and the IPv6 forms that embed
// a private IPv4 address.
var refusedAddrs = []string{
	"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "fd00:ec2::254",
	"100.64.0.1", "0.0.0.0", "0.1.2.3", "198.18.0.1", "198.19.255.254", "240.0.0.1", "255.255.255.254", "224.0.0.1",
	"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::ffff:0:127.0.0.1", "fec0::1",
	"64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::10.1.2.3", "64:ff9b:1::8.8.8.8", "64:ff9b:1::127.0.0.1",
	"2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101:1::1",
	"2001:0:808:808::80ff:fffe", "2001:0:a00:1::f7f7:f7f7", "2001:0:808:808::ffff:ffff",
	"192.0.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "100::1", "2001:2::1", "3fff::1",
}

// Every refused range is refused by a real dial of the dispatcher's
// client, before it connects: the error is the address check's, not a
// timeout or an unreachable network.
func TestDialRefusesEveryRange(t *testing.T) {
	dial := deliver.NewClient(1, false).Transport.(*http.Transport).DialContext
	for _, addr := range refusedAddrs {
		t.Run(addr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := dial(ctx, "tcp", net.JoinHostPort(addr, "443"))
			if err == nil {
				conn.Close()
				t.Fatalf("dial %s connected", addr)
			}
			if !errors.Is(err, deliver.ErrPrivateTarget) {
				t.Errorf("dial %s: %v, want the private address refusal", addr, err)
			}
		})
	}
}

// A listener on loopback, reached by its address, its IPv4-mapped form or
// a name, never sees a connection from the refusing client; the client
// that allows private targets reaches it, so the refusal is the check's.
func TestDialRefusedBeforeConnecting(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			host := map[string]string{"tcp4": "127.0.0.1", "tcp6": "::1"}[network]
			ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			targets := []string{net.JoinHostPort(host, port), net.JoinHostPort("localhost", port)}
			if network == "tcp4" {
				targets = append(targets, net.JoinHostPort("::ffff:127.0.0.1", port))
			}
			dial := deliver.NewClient(1, false).Transport.(*http.Transport).DialContext
			for _, target := range targets {
				conn, err := dial(context.Background(), "tcp", target)
				if err == nil {
					conn.Close()
					t.Errorf("dial %s connected", target)
				} else if !errors.Is(err, deliver.ErrPrivateTarget) {
					t.Errorf("dial %s: %v, want the private address refusal", target, err)
				}
			}
			// A connect that had happened would be waiting in the backlog.
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
			if conn, err := ln.Accept(); err == nil {
				conn.Close()
				t.Error("the listener accepted a connection from the refusing client")
			}

			allowed := deliver.NewClient(1, true).Transport.(*http.Transport).DialContext
			conn, err := allowed(context.Background(), "tcp", net.JoinHostPort(host, port))
			if err != nil {
				t.Fatalf("with private targets allowed: %v", err)
			}
			conn.Close()
		})
	}
}

// Public addresses, embedded ones included, pass the check (they are not
// dialled: the test machine need not reach the internet).
func TestDialAllowsPublic(t *testing.T) {
	for _, addr := range []string{
		"8.8.8.8", "198.17.255.254", "198.20.0.1", "223.255.255.254", "2606:4700::1111", "2001:4860:4860::8888",
		"::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:0:808:808::f7f7:f7f7",
	} {
		address := netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String()
		if err := deliver.RefusePrivate("tcp", address, nil); err != nil {
			t.Errorf("%s refused: %v", address, err)
		}
	}
}

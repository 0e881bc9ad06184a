package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// A service started with --whatsapp-proxy connects the QR accounts it
// claims through that proxy: a linked account's connection is a CONNECT
// to WhatsApp's websocket host at the proxy (which refuses it here).
func TestWhatsAppProxyCarriesTheAccountsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var asked []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				mu.Lock()
				asked = append(asked, req.Method+" "+req.Host)
				mu.Unlock()
				io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
			}()
		}
	}()

	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{
		WhatsAppProxy: "http://" + ln.Addr().String(), AccountLease: accountLease,
	}})
	linkAccount(t, svc, svc.NewWorkspace(t, "acme"))
	chathooktest.Eventually(t, "the connection at the proxy", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if asked[0] != "CONNECT web.whatsapp.com:443" {
		t.Errorf("the proxy was asked %q, want CONNECT web.whatsapp.com:443", asked)
	}
}

// A proxy whatsmeow cannot use stops app.New, naming the setting.
func TestWhatsAppProxyRefusedAtStart(t *testing.T) {
	st, err := app.OpenStore(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = app.New(app.Config{BaseURL: "http://127.0.0.1:1", WhatsAppProxy: "ftp://proxy.example:21"}, st)
	if err == nil || !strings.Contains(err.Error(), "--whatsapp-proxy") {
		t.Fatalf("app.New with an ftp proxy: %v", err)
	}
}

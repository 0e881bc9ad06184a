package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/web"
	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// fakeWhatsApp is WhatsApp as the web tests reach it, behind
// whatsweb.Network: no server, but the events a whatsmeow client emits,
// as whatsmeow's own values, when the test says the phone acted.
type fakeWhatsApp struct {
	mu      sync.Mutex
	clients []*fakeClient
	round   int      // QR code batches handed out, so each batch differs
	down    bool     // WhatsApp cannot be reached
	phones  []string // numbers pairing codes were asked for
}

func (n *fakeWhatsApp) Client(dev *wastore.Device) whatsweb.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &fakeClient{n: n, dev: dev}
	n.clients = append(n.clients, c)
	return c
}

func (n *fakeWhatsApp) all() []*fakeClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*fakeClient(nil), n.clients...)
}

// waitClient waits for a connected client that match accepts.
func (n *fakeWhatsApp) waitClient(t *testing.T, what string, match func(*fakeClient) bool) *fakeClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range n.all() {
			if c.online() && match(c) {
				return c
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s", what)
	return nil
}

// unpaired is the client of the pairing under way.
func (n *fakeWhatsApp) unpaired(t *testing.T) *fakeClient {
	t.Helper()
	return n.waitClient(t, "client of a pairing", func(c *fakeClient) bool { return c.jid() == "" })
}

type fakeClient struct {
	n   *fakeWhatsApp
	dev *wastore.Device

	mu       sync.Mutex
	handlers []func(any)
	on       bool
	logouts  int
}

func (c *fakeClient) jid() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dev.ID == nil {
		return ""
	}
	return c.dev.ID.String()
}

func (c *fakeClient) online() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

func (c *fakeClient) loggedOut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logouts > 0
}

// Connect opens the socket: an unpaired device then gets its QR codes,
// a paired one is logged in, as from WhatsApp.
func (c *fakeClient) Connect(ctx context.Context) error {
	c.n.mu.Lock()
	down := c.n.down
	c.n.round++
	round := c.n.round
	c.n.mu.Unlock()
	if down {
		return errors.New("dial tcp: lookup web.whatsapp.com: no such host")
	}
	c.mu.Lock()
	c.on = true
	c.mu.Unlock()
	if c.jid() == "" {
		var codes []string
		for i := range 6 {
			codes = append(codes, fakeQR(round, i))
		}
		go c.emit(&events.QR{Codes: codes})
	} else {
		go c.emit(&events.Connected{})
	}
	return nil
}

// fakeQR is a QR code's content as long as WhatsApp's: a ref, then the
// noise key, identity key and adv secret in base64, comma-separated.
func fakeQR(round, i int) string {
	part := func(what string, n int) string {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s %d %d", what, round, i))
		return base64.StdEncoding.EncodeToString(append(sum[:], sum[:]...))[:n]
	}
	return "2@" + part("ref", 80) + "," + part("noise", 43) + "=," + part("identity", 43) + "=," + part("adv", 43) + "="
}

func (c *fakeClient) Disconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
}

// Logout removes the linked device and deletes its session, as
// whatsmeow's does.
func (c *fakeClient) Logout(ctx context.Context) error {
	c.mu.Lock()
	c.on = false
	c.logouts++
	c.mu.Unlock()
	return c.dev.Delete(ctx)
}

func (c *fakeClient) PairPhone(ctx context.Context, phone string) (string, error) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.phones = append(c.n.phones, phone)
	return "ABCD-EFGH", nil // whatsmeow hands the code out with its dash
}

func (c *fakeClient) AddEventHandler(fn func(evt any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, fn)
}

func (c *fakeClient) GroupName(ctx context.Context, group types.JID) (string, error) {
	return "", fmt.Errorf("group %s: item-not-found", group)
}

func (c *fakeClient) emit(evt any) {
	c.mu.Lock()
	hs := append([]func(any){}, c.handlers...)
	c.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}

// pair is the phone accepting the link, as whatsmeow's handlePair
// leaves it: the device saved with its JID and push name, PairSuccess,
// then the socket logged in.
func (c *fakeClient) pair(t *testing.T, jid, pushName string) {
	t.Helper()
	id, err := types.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.dev.ID = &id
	c.dev.PushName = pushName
	c.dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
	c.mu.Unlock()
	if err := c.dev.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.emit(&events.PairSuccess{ID: id, Platform: "android"})
	c.emit(&events.Connected{})
}

// withWhatsApp is a harness whose web UI links accounts through a real
// whatsweb.Manager on the harness's store and clock, over a fake
// WhatsApp; the manager runs (claims, reconnects) until the test ends.
func withWhatsApp(t *testing.T) (*harness, *fakeWhatsApp, *whatsweb.Manager) {
	t.Helper()
	wa := &fakeWhatsApp{}
	var m *whatsweb.Manager
	h := newHarnessWith(t, true, "", func(cfg *web.Config) {
		var err error
		m, err = whatsweb.New(context.Background(), whatsweb.Config{
			Store: cfg.Store, Network: wa, Owner: "web-test", Now: cfg.Now,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.WhatsApp = m
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h, wa, m
}

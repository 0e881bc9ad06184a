package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/source/whatsweb"
	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// fakeWhatsApp is WhatsApp for account connect's tests, behind
// whatsweb.Network: its clients emit whatsmeow's own events when the
// test says the phone acted.
type fakeWhatsApp struct {
	mu      sync.Mutex
	clients []*fakeClient
}

func (n *fakeWhatsApp) Client(dev *wastore.Device) whatsweb.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &fakeClient{dev: dev}
	n.clients = append(n.clients, c)
	return c
}

// client waits for the first client to be connected.
func (n *fakeWhatsApp) client(t *testing.T) *fakeClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n.mu.Lock()
		var c *fakeClient
		if len(n.clients) > 0 {
			c = n.clients[0]
		}
		n.mu.Unlock()
		if c != nil && c.online() {
			return c
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("account connect opened no connection")
	return nil
}

// fakeCodes are the QR codes an unpaired device gets.
var fakeCodes = []string{"2@first,bm9pc2U=,aWRlbnRpdHk=,YWR2", "2@second,bm9pc2U=,aWRlbnRpdHk=,YWR2"}

type fakeClient struct {
	dev      *wastore.Device
	mu       sync.Mutex
	handlers []func(any)
	on       bool
}

func (c *fakeClient) online() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

func (c *fakeClient) Connect(ctx context.Context) error {
	c.mu.Lock()
	c.on = true
	paired := c.dev.ID != nil
	c.mu.Unlock()
	if paired {
		go c.emit(&events.Connected{})
	} else {
		go c.emit(&events.QR{Codes: fakeCodes})
	}
	return nil
}

func (c *fakeClient) Disconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
}

func (c *fakeClient) Logout(ctx context.Context) error {
	c.Disconnect()
	return c.dev.Delete(ctx)
}

func (c *fakeClient) PairPhone(ctx context.Context, phone string) (string, error) {
	return "WXYZ-2345", nil
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
// leaves it: the device saved with its JID and push name, then
// PairSuccess and the socket logged in.
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

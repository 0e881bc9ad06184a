package web_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/web"
)

// withWhatsApp is a harness whose web UI links accounts through a real
// whatsweb.Manager on the harness's store and clock, over a fake
// WhatsApp; the manager runs (claims, reconnects) until the test ends.
func withWhatsApp(t *testing.T) (*harness, *whatswebtest.Network, *whatsweb.Manager) {
	t.Helper()
	wa := whatswebtest.New()
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

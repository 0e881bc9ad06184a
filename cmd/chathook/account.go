package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/store"
)

// closeTimeout bounds how long account connect waits, once paired or
// stopped, for its connection to close and its lease to be given back.
const closeTimeout = 15 * time.Second

// network is WhatsApp as account connect reaches it: nil, WhatsApp
// itself (whatsweb.Whatsmeow). This package's tests put a fake there,
// the only part of the command they replace.
var network whatsweb.Network

// accountConnect links a WhatsApp account from a terminal (the CLI contract): it
// prints each QR code (or the pairing code) until the phone confirms,
// then hands the account over to the serving instances and exits 0.
func accountConnect(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace, phone, email string
	s := newSettings("account connect", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	s.fs.StringVar(&phone, "phone", "", "link with an 8-character pairing code for this number (+ and country code) instead of a QR code")
	s.fs.StringVar(&email, "email", "", "the teammate connecting the account, sent as whatsapp_account.email (default: the workspace owner's)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" {
		return usageError(errors.New("account connect needs --workspace"), stderr)
	}
	err := errIfMissing(db, true)
	var st store.Store
	if err == nil {
		st, err = app.OpenStore(ctx, db)
	}
	if err != nil {
		fmt.Fprintln(stderr, "chathook:", oneLine(err))
		return 1
	}
	defer st.Close()
	ws, err := workspaceOf(ctx, st, workspace)
	if err != nil {
		fmt.Fprintln(stderr, "chathook:", err)
		return 1
	}
	if email == "" {
		email = ws.OwnerEmail
	}
	host, _ := os.Hostname()
	m, err := whatsweb.New(ctx, whatsweb.Config{
		Store:   st,
		Network: network,
		Owner:   fmt.Sprintf("cli-%s-%d", host, os.Getpid()),
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(stderr, "chathook:", err)
		return 1
	}
	c := &connectRun{out: stdout, updates: make(chan chathook.Pairing, 16)}
	p, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: ws.ID, Email: email, Phone: phone, OnUpdate: c.update})
	if err == nil {
		p, err = c.follow(ctx, p)
	}
	// Paired or not, this process lets go: the account's lease is given
	// back so that a serving instance takes its connection over.
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if cerr := m.Close(closeCtx); cerr != nil && err == nil {
		err = fmt.Errorf("closing the connection: %w", cerr)
	}
	var fe *ingest.FieldError
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "chathook: stopped before the phone linked the account")
		return 1
	case errors.As(err, &fe):
		return usageError(fmt.Errorf("--%s: %s", fe.Field, fe.Problem), stderr)
	case err != nil:
		fmt.Fprintln(stderr, "chathook:", err)
		return 1
	}
	acc, err := st.Account(closeCtx, ws.ID, p.AccountID)
	if err != nil {
		fmt.Fprintln(stderr, "chathook: paired, but the account could not be read:", err)
		return 1
	}
	fmt.Fprintf(stdout, "connected %s (%s)\n", acc.Phone, acc.FullName)
	return 0
}

// connectRun prints a pairing's codes as they come.
type connectRun struct {
	out     io.Writer
	updates chan chathook.Pairing
	qr      string // the QR code printed last
	code    string
}

// update is PairRequest.OnUpdate. It never blocks the connector: with
// the queue full, the update is dropped and a later one (which holds the
// whole pairing, not a change) tells the same and more.
func (c *connectRun) update(p chathook.Pairing) {
	select {
	case c.updates <- p:
	default:
	}
}

// follow prints p and every update after it until the pairing is paired
// (returned), failed or ctx ends (errors, in words).
func (c *connectRun) follow(ctx context.Context, p chathook.Pairing) (chathook.Pairing, error) {
	for {
		switch p.State {
		case chathook.PairingPaired:
			return p, nil
		case chathook.PairingFailed:
			if p.Err == "" {
				return p, errors.New("WhatsApp did not link the account")
			}
			return p, errors.New(p.Err)
		}
		c.show(p)
		select {
		case <-ctx.Done():
			return p, errors.New("stopped before the phone linked the account")
		case p = <-c.updates:
		}
	}
}

func (c *connectRun) show(p chathook.Pairing) {
	switch {
	case p.Code != "" && p.Code != c.code:
		c.code = p.Code
		fmt.Fprintf(c.out, "\nPairing code for %s: %s\n", p.Phone, p.Code)
		fmt.Fprintln(c.out, "On that phone: WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, and type the code.")
	case p.Code == "" && p.QR != "" && p.QR != c.qr:
		c.qr = p.QR
		fmt.Fprint(c.out, "\n"+whatsweb.QRTerminal(p.QR))
		fmt.Fprintln(c.out, "Scan it with WhatsApp on the phone: Settings → Linked devices → Link a device. A new code follows when WhatsApp changes it.")
	}
}

// accountList prints a workspace's connected accounts, one JSON object a
// line (the CLI contract), as GET /api/v1/accounts shows them.
func accountList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace, baseURL string
	s := newSettings("account list", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	// Unlike serve's, no default: this command cannot know the address
	// chathook serves on, and a wrong callback URL is worse than none.
	s.string(&baseURL, "base-url", "CHATHOOK_BASE_URL", "", "public URL of chathook, to print Cloud API numbers' callback_url (default: not printed)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" {
		return usageError(errors.New("account list needs --workspace"), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		if _, err := workspaceOf(ctx, st, workspace); err != nil {
			return err
		}
		accs, err := api.ListAccounts(ctx, st, workspace, baseURL)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, a := range accs {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	})
}

// workspaceOf reads the workspace a command names, saying in words when
// there is none.
func workspaceOf(ctx context.Context, st store.Store, id string) (chathook.Workspace, error) {
	ws, err := st.Workspace(ctx, id)
	if errors.Is(err, chathook.ErrNotFound) {
		return ws, fmt.Errorf("there is no workspace %q: workspace create prints the id", id)
	}
	return ws, err
}

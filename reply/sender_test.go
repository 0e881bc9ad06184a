package reply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
)

// linked opens a store with a workspace whose QR-linked account has a
// chat for each external id, and returns their ids in that order.
func linked(t *testing.T, externals ...string) (st store.Store, ws string, acc chathook.Account, chats []int64) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ws = uuid.NewString()
	if _, err := s.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "acme", OwnerEmail: "o@acme.example", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	acc, err = s.LinkAccount(ctx, ws, chathook.Account{Phone: "+15550000001", FullName: "Dana", Email: "dana@acme.example",
		JID: "15550000001:7@s.whatsapp.net", CreatedAt: t0}, "me", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var in []chathook.Incoming
	for i, ext := range externals {
		in = append(in, chathook.Incoming{Account: chathook.Account{Phone: acc.Phone},
			Chat:      chathook.Chat{ExternalID: ext, FullName: "x", IsGroup: strings.HasSuffix(ext, "@g.us")},
			MessageID: "m" + uuid.NewString()[:8], UUID: uuid.NewString(), Direction: chathook.Received,
			Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Text: "hi"})
	}
	res, err := s.Ingest(ctx, ws, t0, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		chats = append(chats, r.ChatID)
	}
	return s, ws, acc, chats
}

// phone is WhatsApp as the Sender sees it: one account online, every
// send recorded; send, when set, answers first (an error fails it).
type phone struct {
	account int64
	mu      sync.Mutex
	offline bool
	got     []chathook.Outgoing
	send    func(ctx context.Context, o chathook.Outgoing) error
}

func (p *phone) Online() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.offline {
		return nil
	}
	return []int64{p.account}
}

func (p *phone) Send(ctx context.Context, o chathook.Outgoing) (time.Time, error) {
	p.mu.Lock()
	send := p.send
	p.mu.Unlock()
	if send != nil {
		if err := send(ctx, o); err != nil {
			return time.Time{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, o)
	return t0, nil
}

func (p *phone) sent() []chathook.Outgoing {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chathook.Outgoing(nil), p.got...)
}

// clock is a Sender's time, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func state(t *testing.T, st store.Store, ws string, chat int64, id string) chathook.Reply {
	t.Helper()
	r, err := st.Reply(context.Background(), ws, chat, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestQueueRefusesNoPersonNorGroup: a chat the ingest API made may hold
// any id; a reply goes only to a person or a group. status@broadcast
// would post a Status, a broadcast list or newsletter reach many: they
// are refused at Queue, and a reply to one queued anyway (before this
// check) is failed at send without reaching WhatsApp.
func TestQueueRefusesNoPersonNorGroup(t *testing.T) {
	st, ws, acc, chats := linked(t, "status@broadcast", "120363000000000002@broadcast", "120363000000000003@newsletter",
		"+16505551234", "16505551234@s.whatsapp.net", "123456789012345@lid", "120363000000000001@g.us")
	ctx := context.Background()
	var cannot *reply.CannotSendError
	for _, chat := range chats[:3] {
		if _, err := reply.Queue(ctx, st, ws, chat, "hi", chathook.Teammate{}, t0); !errors.As(err, &cannot) ||
			!strings.Contains(cannot.Reason, "only to a person or a group") {
			t.Errorf("chat %d: %v, want a CannotSendError", chat, err)
		}
	}
	for _, chat := range chats[3:] {
		if r, err := reply.Queue(ctx, st, ws, chat, "hi", chathook.Teammate{}, t0); err != nil || r.WAID == "" {
			t.Errorf("chat %d: %+v (%v), want queued", chat, r, err)
		}
	}

	// Queued past Queue's check, as by a store written before it.
	r, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.NewString(), WorkspaceID: ws, ChatID: chats[0], WAID: reply.NewWhatsAppID(), Text: "my status"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	wa := &phone{account: acc.ID}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0 }})
	for s.Round(ctx) > 0 {
	}
	if got := state(t, st, ws, chats[0], r.ID); got.State != chathook.ReplyFailed || !strings.Contains(got.Error, "only to a person or a group") {
		t.Errorf("reply to status@broadcast %+v, want failed", got)
	}
	for _, o := range wa.sent() {
		if o.Chat.ID == chats[0] {
			t.Errorf("sent to %s", o.Chat.ExternalID)
		}
	}
	if n := len(wa.sent()); n != 4 {
		t.Errorf("%d replies sent, want the 4 to people and groups", n)
	}
}

// TestReplyThatMayHaveBeenSentIsUncertain: a reply given up after
// MaxWait when an attempt of it may have reached WhatsApp (its instance
// stopped mid-attempt, or WhatsApp did not answer in time) is
// uncertain, not failed: a teammate who reads "failed" sends it again,
// and the customer gets it twice. One whose attempts surely never left
// is failed.
func TestReplyThatMayHaveBeenSentIsUncertain(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		first func(st store.Store, s *reply.Sender, wa *phone, acc chathook.Account) // the first attempt
		want  chathook.ReplyState
	}{
		{"instance stopped", func(st store.Store, _ *reply.Sender, _ *phone, acc chathook.Account) {
			// Another instance claims it and is never heard of again.
			if out, err := st.ClaimReplies(ctx, "dead", store.ReplyClaim{Now: t0, Until: t0.Add(time.Minute), Web: []int64{acc.ID},
				Stale: t0.Add(-time.Hour), Limit: 10}); err != nil || len(out) != 1 {
				t.Fatalf("claimed %+v (%v)", out, err)
			}
		}, chathook.ReplyUncertain},
		{"WhatsApp did not answer", func(_ store.Store, s *reply.Sender, wa *phone, _ chathook.Account) {
			wa.send = func(context.Context, chathook.Outgoing) error {
				return &chathook.SendError{Retry: true, MaybeSent: true, Reason: "WhatsApp did not answer: timed out"}
			}
			s.Round(ctx)
		}, chathook.ReplyUncertain},
		{"never left", func(_ store.Store, s *reply.Sender, wa *phone, _ chathook.Account) {
			wa.send = func(context.Context, chathook.Outgoing) error {
				return &chathook.SendError{Retry: true, Reason: "the account is not connected to WhatsApp right now"}
			}
			s.Round(ctx)
		}, chathook.ReplyFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, ws, acc, chats := linked(t, "+16505551234")
			clk := &clock{now: t0}
			wa := &phone{account: acc.ID}
			s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: clk.Now})
			r, err := s.Queue(ctx, ws, chats[0], "on its way", chathook.Teammate{})
			if err != nil {
				t.Fatal(err)
			}
			c.first(st, s, wa, acc)
			// The account is offline from then on, past MaxWait.
			wa.mu.Lock()
			wa.offline, wa.send = true, nil
			wa.mu.Unlock()
			clk.set(t0.Add(reply.DefaultMaxWait + time.Minute))
			if n := s.Round(ctx); n != 1 {
				t.Fatalf("claimed %d", n)
			}
			got := state(t, st, ws, chats[0], r.ID)
			if got.State != c.want {
				t.Errorf("reply %+v, want %s", got, c.want)
			}
			if c.want == chathook.ReplyUncertain && !strings.HasPrefix(got.Error, "may have been sent: ") {
				t.Errorf("reason %q, want one that says it may have been sent", got.Error)
			}
			if n := len(wa.sent()); n != 0 {
				t.Errorf("%d sends reached WhatsApp", n)
			}
		})
	}
}

// TestCloudAPIReplyInDoubtIsUncertain: a Cloud API reply whose attempt's
// end is unknown is never sent again, and is uncertain.
func TestCloudAPIReplyInDoubtIsUncertain(t *testing.T) {
	st, ws, acc, direct, _ := number(t)
	ctx := context.Background()
	r, err := reply.Queue(ctx, st, ws, direct, "hi", chathook.Teammate{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := st.ClaimReplies(ctx, "dead", store.ReplyClaim{Now: t0, Until: t0.Add(time.Minute), Stale: t0.Add(-time.Hour), Limit: 10}); err != nil || len(out) != 1 {
		t.Fatalf("claimed %+v (%v)", out, err)
	}
	s := reply.New(reply.Config{Store: st, Owner: "me", CloudAPI: cloud{t}, Now: func() time.Time { return t0.Add(2 * time.Minute) }})
	if n := s.Round(ctx); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	if got := state(t, st, ws, direct, r.ID); got.State != chathook.ReplyUncertain || !strings.HasPrefix(got.Error, "may have been sent: ") {
		t.Errorf("reply %+v of %s, want uncertain", got, acc.Phone)
	}
}

// graph is Meta's Graph API on a loopback socket: it answers every
// send with a new wamid and records to whom.
func graph(t *testing.T) (cloudapi.Graph, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var to []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To string `json:"to"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		to = append(to, body.To)
		n := len(to)
		mu.Unlock()
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.%d"}]}`, n)
	}))
	t.Cleanup(srv.Close)
	return cloudapi.Graph{URL: srv.URL}, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), to...)
	}
}

// TestSendsAreSpaced: at SendRate 20 an account sends one reply every
// 3 s. Three queued at once: one is attempted now, the others are handed
// back to the store, due at +3 s and +6 s, unattempted and not in doubt:
// an instance that dies then leaves nothing uncertain, and the next one
// sends them at their turns, a Cloud API number's too.
func TestSendsAreSpaced(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []chathook.AccountKind{chathook.KindWeb, chathook.KindCloudAPI} {
		t.Run(string(kind), func(t *testing.T) {
			var st store.Store
			var ws string
			var acc chathook.Account
			var chats []int64
			g, to := graph(t)
			if kind == chathook.KindWeb {
				st, ws, acc, chats = linked(t, "+16505550001", "+16505550002", "+16505550003")
			} else {
				st, ws, acc, chats = numberWith(t, "+16505550001", "+16505550002", "+16505550003")
			}
			clk := &clock{now: t0}
			wa := &phone{account: acc.ID}
			newSender := func(owner string) *reply.Sender {
				return reply.New(reply.Config{Store: st, Owner: owner, WhatsApp: wa, CloudAPI: g, Now: clk.Now, SendRate: 20})
			}
			sends := func() int { return len(wa.sent()) + len(to()) }
			first := newSender("first")
			var ids []string
			for i, chat := range chats {
				clk.set(t0.Add(time.Duration(i) * time.Millisecond))
				r, err := first.Queue(ctx, ws, chat, "hi", chathook.Teammate{})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			if n := first.Round(ctx); n != 3 {
				t.Fatalf("claimed %d, want 3", n)
			}
			if n := sends(); n != 1 {
				t.Fatalf("%d sent at once, want 1", n)
			}
			if got := state(t, st, ws, chats[0], ids[0]); got.State != chathook.ReplySent {
				t.Errorf("the oldest %+v, want sent", got)
			}
			for i := 1; i < 3; i++ {
				if got := state(t, st, ws, chats[i], ids[i]); got.State != chathook.ReplyQueued || got.Attempts != 0 || got.Error != "" {
					t.Errorf("reply %d %+v, want queued, unattempted", i, got)
				}
			}
			first.Kill() // a crash: it holds nothing

			next := newSender("next")
			start := t0.Add(2 * time.Millisecond)
			for i, turn := range []time.Time{start.Add(3 * time.Second), start.Add(6 * time.Second)} {
				clk.set(turn.Add(-time.Millisecond))
				if n := next.Round(ctx); n != 0 {
					t.Errorf("claimed %d before +%ds", n, 3*(i+1))
				}
				clk.set(turn)
				if n := next.Round(ctx); n != 1 {
					t.Fatalf("claimed %d at +%ds, want 1", n, 3*(i+1))
				}
				got := state(t, st, ws, chats[i+1], ids[i+1])
				if got.State != chathook.ReplySent || got.Attempts != 1 {
					t.Errorf("reply %d at its turn %+v, want sent at its first attempt", i+1, got)
				}
			}
			if n := sends(); n != 3 {
				t.Errorf("%d sends, want 3", n)
			}
			for _, o := range wa.sent() {
				if o.InDoubt {
					t.Errorf("reply %s claimed in doubt", o.ID)
				}
			}
		})
	}
}

// TestDoubtOutlivesHandBack: a reply claimed in doubt (an instance died
// during its attempt) and handed back for its turn keeps its doubt: its
// open attempt is recorded as maybe sent, so giving it up later makes
// it uncertain, not failed.
func TestDoubtOutlivesHandBack(t *testing.T) {
	ctx := context.Background()
	st, ws, acc, chats := linked(t, "+16505550001", "+16505550002")
	var ids []string
	for i, chat := range chats {
		r, err := reply.Queue(ctx, st, ws, chat, "hi", chathook.Teammate{}, t0.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if out, err := st.ClaimReplies(ctx, "dead", store.ReplyClaim{Now: t0.Add(time.Second), Until: t0.Add(time.Minute),
		Web: []int64{acc.ID}, Stale: t0.Add(-time.Hour), Limit: 10}); err != nil || len(out) != 2 {
		t.Fatalf("claimed %+v (%v)", out, err)
	}
	wa := &phone{account: acc.ID}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0.Add(time.Minute) }, SendRate: 20})
	if n := s.Round(ctx); n != 2 {
		t.Fatalf("claimed %d", n)
	}
	if got := state(t, st, ws, chats[0], ids[0]); got.State != chathook.ReplySent {
		t.Errorf("the first %+v, want sent again under its id", got)
	}
	got := state(t, st, ws, chats[1], ids[1])
	if got.State != chathook.ReplyQueued || !strings.HasPrefix(got.Error, "may have been sent: ") || got.Attempts != 1 {
		t.Errorf("the second %+v, want queued, its open attempt recorded as maybe sent", got)
	}
}

// TestPacedRepliesKeepTheirOrder: an account's replies go out in the
// order they were queued, across its chats: while its turn has not come
// none is claimed, so a reply queued later in another chat does not
// jump ahead of one handed back.
func TestPacedRepliesKeepTheirOrder(t *testing.T) {
	ctx := context.Background()
	st, ws, acc, chats := linked(t, "+16505550001", "+16505550002", "+16505550003")
	clk := &clock{now: t0}
	wa := &phone{account: acc.ID}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: clk.Now, SendRate: 20})
	queue := func(chat int64, text string) {
		t.Helper()
		if _, err := s.Queue(ctx, ws, chat, text, chathook.Teammate{}); err != nil {
			t.Fatal(err)
		}
	}
	queue(chats[0], "a")
	clk.set(t0.Add(time.Millisecond))
	queue(chats[1], "b")
	s.Round(ctx) // a sent, b handed back to +3 s
	clk.set(t0.Add(time.Second))
	queue(chats[2], "c")
	if n := s.Round(ctx); n != 0 {
		t.Errorf("claimed %d before the account's turn", n)
	}
	for _, at := range []time.Duration{3 * time.Second, 6 * time.Second} {
		clk.set(t0.Add(at + time.Millisecond))
		s.Round(ctx)
	}
	var got []string
	for _, o := range wa.sent() {
		got = append(got, o.Text)
	}
	if strings.Join(got, "") != "abc" {
		t.Errorf("sent %q, want a, b, c in the order they were queued", got)
	}
}

// TestStopAfterClaimStartsNothing: a Sender whose ctx ends while it
// claims starts no attempt (WhatsApp would take a cancelled send as
// maybe sent); it hands what it claimed back, not in doubt.
func TestStopAfterClaimStartsNothing(t *testing.T) {
	st, ws, acc, chats := linked(t, "+16505550001")
	ctx, cancel := context.WithCancel(context.Background())
	wa := &phone{account: acc.ID, send: func(ctx context.Context, _ chathook.Outgoing) error {
		if ctx.Err() != nil {
			return &chathook.SendError{Retry: true, MaybeSent: true, Reason: "cut short: " + ctx.Err().Error()}
		}
		return nil
	}}
	r, err := reply.Queue(ctx, st, ws, chats[0], "hi", chathook.Teammate{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	s := reply.New(reply.Config{Store: cancelling{st, cancel}, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0 }})
	if n := s.Round(ctx); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	if got := state(t, st, ws, chats[0], r.ID); got.State != chathook.ReplyQueued || got.Attempts != 0 || got.Error != "" {
		t.Errorf("reply %+v, want queued, unattempted", got)
	}
	out, err := st.ClaimReplies(context.Background(), "next", store.ReplyClaim{Now: t0, Until: t0.Add(time.Minute),
		Web: []int64{acc.ID}, Stale: t0.Add(-time.Hour), Limit: 1})
	if err != nil || len(out) != 1 || out[0].InDoubt {
		t.Errorf("next claim %+v (%v), want the reply, not in doubt", out, err)
	}
}

// cancelling is a store whose ClaimReplies ends the claimer's ctx once
// it claimed: the claimer was stopped meanwhile.
type cancelling struct {
	store.Store
	cancel context.CancelFunc
}

func (c cancelling) ClaimReplies(ctx context.Context, owner string, rc store.ReplyClaim) ([]chathook.Outgoing, error) {
	out, err := c.Store.ClaimReplies(ctx, owner, rc)
	c.cancel()
	return out, err
}

// TestBannedOrOutdatedAccountSaysWhy: a reply of an account WhatsApp
// banned, or refuses as outdated, fails at once saying so.
func TestBannedOrOutdatedAccountSaysWhy(t *testing.T) {
	ctx := context.Background()
	until := t0.Add(26 * time.Hour)
	for _, c := range []struct {
		name string
		set  func(st store.Store, id int64) error
		want string
	}{
		{"banned", func(st store.Store, id int64) error { _, err := st.BanAccount(ctx, id, until, t0); return err },
			"WhatsApp banned this number until 2026-03-02 14:00 UTC: "},
		{"outdated", func(st store.Store, id int64) error {
			_, err := st.SetAccountState(ctx, id, chathook.AccountOutdated, t0)
			return err
		}, "WhatsApp refuses this chathook as outdated: update it, then press Reconnect"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, ws, acc, chats := linked(t, "+16505550001")
			r, err := reply.Queue(ctx, st, ws, chats[0], "hi", chathook.Teammate{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.set(st, acc.ID); err != nil {
				t.Fatal(err)
			}
			wa := &phone{account: acc.ID, offline: true}
			s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0.Add(time.Second) }})
			if n := s.Round(ctx); n != 1 {
				t.Fatalf("claimed %d", n)
			}
			if got := state(t, st, ws, chats[0], r.ID); got.State != chathook.ReplyFailed || !strings.HasPrefix(got.Error, c.want) {
				t.Errorf("reply %+v, want failed: %s…", got, c.want)
			}
		})
	}
}

// TestOutcomeNotOursIsNoFailure: an attempt whose lease ran out while
// another instance sent the reply logs that its outcome was not
// recorded, not "reply failed".
func TestOutcomeNotOursIsNoFailure(t *testing.T) {
	st, ws, acc, chats := linked(t, "+16505550001")
	ctx := context.Background()
	var logs bytes.Buffer
	wa := &phone{account: acc.ID}
	wa.send = func(_ context.Context, o chathook.Outgoing) error {
		later := t0.Add(time.Hour)
		out, err := st.ClaimReplies(ctx, "other", store.ReplyClaim{Now: later, Until: later.Add(time.Minute), Web: []int64{acc.ID},
			Stale: t0.Add(-time.Hour), Limit: 1})
		if err != nil || len(out) != 1 {
			t.Fatalf("other's claim %+v (%v)", out, err)
		}
		if _, err := st.ReplySent(ctx, "other", o.ID, o.WAID, later); err != nil {
			t.Fatal(err)
		}
		return &chathook.SendError{Reason: "refused"}
	}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r, err := s.Queue(ctx, ws, chats[0], "hi", chathook.Teammate{})
	if err != nil {
		t.Fatal(err)
	}
	s.Round(ctx)
	out := logs.String()
	if strings.Contains(out, "reply failed") || strings.Contains(out, "level=ERROR") || strings.Contains(out, "level=WARN") ||
		!strings.Contains(out, "msg=\"reply's outcome not recorded: another instance's attempt holds it, or it was sent meanwhile\"") {
		t.Errorf("logged:\n%s", out)
	}
	if got := state(t, st, ws, chats[0], r.ID); got.State != chathook.ReplySent {
		t.Errorf("reply %+v, want sent by the other", got)
	}
}

// TestSlowSendStallsOnlyItsChat: while WhatsApp keeps chat A's reply
// waiting, chat B's goes out.
func TestSlowSendStallsOnlyItsChat(t *testing.T) {
	st, ws, acc, chats := linked(t, "+16505550001", "+16505550002")
	a, b := chats[0], chats[1]
	started, release := make(chan struct{}), make(chan struct{})
	wa := &phone{account: acc.ID, send: func(ctx context.Context, o chathook.Outgoing) error {
		if o.ChatID == a {
			close(started)
			<-release
		}
		return nil
	}}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	ra, err := s.Queue(ctx, ws, a, "for A", chathook.Teammate{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	rb, err := s.Queue(ctx, ws, b, "for B", chathook.Teammate{})
	if err != nil {
		t.Fatal(err)
	}
	chathooktest.Eventually(t, "B's reply sent while A's is under way", func() bool {
		return state(t, st, ws, b, rb.ID).State == chathook.ReplySent
	})
	if got := state(t, st, ws, a, ra.ID); got.State != chathook.ReplyQueued {
		t.Errorf("A's reply %+v while WhatsApp holds it", got)
	}
	close(release)
	chathooktest.Eventually(t, "A's reply sent", func() bool { return state(t, st, ws, a, ra.ID).State == chathook.ReplySent })
}

// TestLostLeaseIsNotReplySent: an attempt that outlived its lease, while
// another took the reply and sent it, logs so, not "reply sent".
func TestLostLeaseIsNotReplySent(t *testing.T) {
	st, ws, acc, chats := linked(t, "+16505550001")
	ctx := context.Background()
	var logs bytes.Buffer
	wa := &phone{account: acc.ID}
	wa.send = func(_ context.Context, o chathook.Outgoing) error {
		// Meanwhile the lease ran out; another instance sent it.
		later := t0.Add(time.Hour)
		out, err := st.ClaimReplies(ctx, "other", store.ReplyClaim{Now: later, Until: later.Add(time.Minute), Web: []int64{acc.ID},
			Stale: t0.Add(-time.Hour), Limit: 1})
		if err != nil || len(out) != 1 {
			t.Fatalf("other's claim %+v (%v)", out, err)
		}
		if _, err := st.ReplySent(ctx, "other", o.ID, o.WAID, later); err != nil {
			t.Fatal(err)
		}
		return nil
	}
	s := reply.New(reply.Config{Store: st, Owner: "me", WhatsApp: wa, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := s.Queue(ctx, ws, chats[0], "hi", chathook.Teammate{}); err != nil {
		t.Fatal(err)
	}
	s.Round(ctx)
	out := logs.String()
	if strings.Contains(out, `msg="reply sent"`) || strings.Contains(out, "level=ERROR") ||
		!strings.Contains(out, `msg="reply sent by another instance's attempt, or its lease was lost"`) {
		t.Errorf("logged:\n%s", out)
	}
}

package live

import (
	"context"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// Store is a store.Store that publishes to a hub after every successful
// write that changes what the chat list or a chat page shows: Ingest,
// UpdateChat, QueueReply and the reply outcomes, RecordFacts and
// FinishDownload. Reads and every other write pass through untouched.
//
// MarkRead is not published: a chat page marks its chat read when it is
// fetched, so publishing it would make every open tab of that chat fetch
// again, and mark again, without end.
type Store struct {
	store.Store
	hub *Hub

	mu sync.Mutex
	// What later writes name only by id, learnt from the reads that hand
	// them out on this instance (the writer is the one that claimed).
	accounts    map[int64]string   // account → workspace
	replies     map[string]replyAt // reply id → where it is shown
	attachments map[int64]string   // attachment → workspace
}

type replyAt struct {
	workspace string
	chat      int64
}

// maxRemembered bounds each map of Store: a claim that is never settled
// (its lease lost) leaves an entry behind, so past this the oldest are
// not kept; a write the map cannot place publishes to every workspace.
const maxRemembered = 10000

// Wrap returns st publishing its changes to hub.
func Wrap(st store.Store, hub *Hub) *Store {
	return &Store{Store: st, hub: hub, accounts: map[int64]string{}, replies: map[string]replyAt{},
		attachments: map[int64]string{}}
}

func remember[K comparable, V any](mu *sync.Mutex, m map[K]V, k K, v V) {
	mu.Lock()
	defer mu.Unlock()
	if len(m) >= maxRemembered {
		clear(m) // rare, and only costs a wider change later
	}
	m[k] = v
}

func (s *Store) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	res, err := s.Store.Ingest(ctx, workspaceID, now, msgs)
	if err != nil {
		return res, err
	}
	var chats []int64
	for _, r := range res {
		// A skipped message is kept, so it shows; a duplicate changed nothing.
		if r.Status != chathook.Duplicate && r.ChatID != 0 {
			chats = append(chats, r.ChatID)
		}
	}
	s.hub.Publish(workspaceID, false, chats...)
	return res, nil
}

func (s *Store) UpdateChat(ctx context.Context, workspaceID string, chatID int64, u chathook.ChatUpdate) (chathook.Chat, error) {
	c, err := s.Store.UpdateChat(ctx, workspaceID, chatID, u)
	if err == nil {
		s.hub.Publish(workspaceID, false, chatID)
	}
	return c, err
}

func (s *Store) QueueReply(ctx context.Context, r chathook.Reply, now time.Time) (chathook.Reply, error) {
	out, err := s.Store.QueueReply(ctx, r, now)
	if err == nil {
		s.hub.Publish(r.WorkspaceID, false, r.ChatID)
	}
	return out, err
}

func (s *Store) ClaimReplies(ctx context.Context, owner string, c store.ReplyClaim) ([]chathook.Outgoing, error) {
	out, err := s.Store.ClaimReplies(ctx, owner, c)
	for _, o := range out {
		remember(&s.mu, s.replies, o.ID, replyAt{o.WorkspaceID, o.ChatID})
		remember(&s.mu, s.accounts, o.Account.ID, o.Account.WorkspaceID)
	}
	return out, err
}

// replyDone publishes a reply's change of state and forgets it.
func (s *Store) replyDone(id string) {
	s.mu.Lock()
	at, ok := s.replies[id]
	delete(s.replies, id)
	s.mu.Unlock()
	if !ok {
		s.hub.Publish("", true)
		return
	}
	s.hub.Publish(at.workspace, false, at.chat)
}

func (s *Store) ReplySent(ctx context.Context, owner, id, waID string, at time.Time) (bool, error) {
	queued, err := s.Store.ReplySent(ctx, owner, id, waID, at)
	if err == nil {
		s.replyDone(id)
	}
	return queued, err
}

func (s *Store) ReplyFailed(ctx context.Context, owner, id, reason string, retryAt, at time.Time) error {
	err := s.Store.ReplyFailed(ctx, owner, id, reason, retryAt, at)
	if err == nil {
		s.replyDone(id) // queued again or failed: the page shows its error either way
	}
	return err
}

func (s *Store) ReplyUncertain(ctx context.Context, owner, id, reason string, at time.Time) error {
	err := s.Store.ReplyUncertain(ctx, owner, id, reason, at)
	if err == nil {
		s.replyDone(id)
	}
	return err
}

func (s *Store) RecordFacts(ctx context.Context, accountID int64, now time.Time, facts []chathook.Fact) ([]chathook.FactResult, bool, error) {
	res, queued, err := s.Store.RecordFacts(ctx, accountID, now, facts)
	if err != nil {
		return res, queued, err
	}
	changed := false
	for _, r := range res {
		changed = changed || r == chathook.FactApplied
	}
	if changed {
		s.mu.Lock()
		ws, ok := s.accounts[accountID]
		s.mu.Unlock()
		// Facts name chats by their WhatsApp id, not ours: the whole
		// workspace is told, which a tab answers with one fetch.
		if !ok {
			ws = "" // an account this instance never handed out: every workspace
		}
		s.hub.Publish(ws, true)
	}
	return res, queued, nil
}

func (s *Store) ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, maxSize int64) ([]chathook.Download, error) {
	out, err := s.Store.ClaimDownloads(ctx, owner, now, lease, limit, maxSize)
	for _, d := range out {
		remember(&s.mu, s.attachments, d.ID, d.WorkspaceID)
	}
	return out, err
}

func (s *Store) FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error) {
	ok, err := s.Store.FinishDownload(ctx, owner, a, now, retryAt)
	if err == nil && ok && a.State != chathook.MediaPending {
		s.mu.Lock()
		ws, known := s.attachments[a.ID]
		delete(s.attachments, a.ID)
		s.mu.Unlock()
		if !known {
			ws = ""
		}
		s.hub.Publish(ws, true)
	}
	return ok, err
}

// The reads below hand out accounts that RecordFacts later names by id
// alone: whatsweb's claims and the Cloud API webhook's numbers.

func (s *Store) ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error) {
	out, err := s.Store.ClaimAccounts(ctx, owner, now, until, limit)
	for _, a := range out {
		remember(&s.mu, s.accounts, a.ID, a.WorkspaceID)
	}
	return out, err
}

func (s *Store) CloudAPINumbers(ctx context.Context, workspaceID string) ([]chathook.CloudAPINumber, error) {
	out, err := s.Store.CloudAPINumbers(ctx, workspaceID)
	for _, n := range out {
		remember(&s.mu, s.accounts, n.ID, workspaceID)
	}
	return out, err
}

func (s *Store) LinkAccount(ctx context.Context, workspaceID string, a chathook.Account, owner string, leaseUntil time.Time) (chathook.Account, error) {
	out, err := s.Store.LinkAccount(ctx, workspaceID, a, owner, leaseUntil)
	if err == nil {
		remember(&s.mu, s.accounts, out.ID, workspaceID)
	}
	return out, err
}

package whatsweb

import (
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// history stores the messages of a history sync (what WhatsApp sends of
// the past when a device is linked) with History set: they fill the
// chats' timelines and are never delivered. They go to the store in
// batches of at most ingest.MaxBatch, each in one transaction.
//
// whatsmeow acknowledged the sync's notification before it downloaded
// the history, and never hands it again: a batch the store refuses is
// tried again (storeHistory) rather than dropped. whatsmeow runs this on
// a goroutine of its own, apart from live messages, so the waits hold
// back only later history syncs.
func (c *conn) history(ctx context.Context, evt *events.HistorySync) {
	now := c.m.now()
	mp := c.mapper()
	c.mu.Lock()
	parser := c.parser
	c.mu.Unlock()
	if parser == nil { // a pairing not yet paired: no account to store it in
		return
	}
	stored := 0
	historyBatches(ctx, mp, parser.ParseWebMessage, evt.Data, c.rememberGroup, now, func(batch []chathook.Incoming) {
		if c.storeHistory(ctx, mp, now, batch) {
			stored += len(batch)
		}
	})
	c.m.log.Info("whatsapp history sync stored", "account_id", mp.acc.ID, "type", evt.Data.GetSyncType().String(),
		"conversations", len(evt.Data.GetConversations()), "messages", stored)
}

// historyAttempts is how many times a batch of history is tried: with
// historyRetry 1 s, over about two minutes.
const historyAttempts = 8

// storeHistory stores one batch of history, each attempt bounded by
// handleTimeout, historyAttempts times at most while ctx lasts (see
// retried). It reports whether the batch was stored.
func (c *conn) storeHistory(ctx context.Context, mp *mapper, now time.Time, batch []chathook.Incoming) bool {
	attempts, err := c.retried(ctx, historyAttempts, func() error {
		actx, cancel := context.WithTimeout(ctx, c.m.handleTimeout)
		defer cancel()
		_, err := c.m.cfg.Store.Ingest(actx, mp.acc.WorkspaceID, now, batch)
		return err
	}, func(err error, wait time.Duration) {
		c.m.log.Warn("whatsapp history not stored: trying again", "account_id", mp.acc.ID, "messages", len(batch),
			"retry_in", wait, "err", err)
	})
	if err != nil {
		c.m.log.Error("whatsapp history not stored: given up", "account_id", mp.acc.ID, "messages", len(batch),
			"attempts", attempts, "err", err)
	}
	return err == nil
}

// retried calls try until it succeeds, ctx ends, or it failed attempts
// times (0: no bound), waiting historyRetry after the first failure and
// twice as long each time up to a minute; warn hears of each failure
// that is tried again. It returns how many times try ran, and its last
// error.
func (c *conn) retried(ctx context.Context, attempts int, try func() error, warn func(err error, wait time.Duration)) (int, error) {
	wait := c.m.historyRetry
	for n := 1; ; n++ {
		err := try()
		if err == nil || n == attempts || ctx.Err() != nil {
			return n, err
		}
		warn(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, time.Minute)
	}
}

func (c *conn) rememberGroup(jid types.JID, subject string) {
	c.mu.Lock()
	c.groups[jid] = subject
	c.mu.Unlock()
}

// parseFunc is whatsmeow's Client.ParseWebMessage, which needs no
// connection.
type parseFunc func(chat types.JID, msg *waWeb.WebMessageInfo) (*events.Message, error)

// historyBatches maps a history sync's conversations to Incoming values
// and hands them to store in batches of at most ingest.MaxBatch, as they
// fill: a long history is never in memory whole. A group's subject is taken
// from its conversation (through remember), a chat's other address from
// the conversation's PnJID or LidJID.
func historyBatches(ctx context.Context, mp *mapper, parse parseFunc, data *waHistorySync.HistorySync,
	remember func(types.JID, string), now time.Time, store func([]chathook.Incoming)) {
	var batch []chathook.Incoming
	for _, conv := range data.GetConversations() {
		chat, err := types.ParseJID(conv.GetID())
		if err != nil {
			mp.log.Warn("whatsapp history conversation skipped: bad id", "account_id", mp.acc.ID, "err", err)
			continue
		}
		chat = chat.ToNonAD()
		var alt types.JID
		switch chat.Server {
		case types.GroupServer:
			if conv.GetName() != "" {
				remember(chat, conv.GetName())
			}
		case types.HiddenUserServer:
			alt, _ = types.ParseJID(conv.GetPnJID())
		case types.DefaultUserServer:
			alt, _ = types.ParseJID(conv.GetLidJID())
		}
		for _, hm := range conv.GetMessages() {
			wm := hm.GetMessage()
			if wm == nil || isEdit(wm) {
				continue
			}
			evt, err := parse(chat, wm)
			if err != nil {
				mp.log.Debug("whatsapp history message skipped", "account_id", mp.acc.ID, "err", err)
				continue
			}
			in, ok := mp.incoming(ctx, evt, alt, now, true)
			if !ok {
				continue
			}
			batch = append(batch, in)
			if len(batch) == ingest.MaxBatch {
				store(batch)
				batch = nil
			}
		}
	}
	if len(batch) > 0 {
		store(batch)
	}
}

// isEdit reports whether a history message is a protocol message, an
// edit among them: ParseWebMessage turns an edit into the edited text
// under the original's id, which would pass for a message.
func isEdit(wm *waWeb.WebMessageInfo) bool {
	evt := (&events.Message{RawMessage: wm.GetMessage()}).UnwrapRaw()
	return evt.IsEdit || evt.Message.GetProtocolMessage() != nil
}

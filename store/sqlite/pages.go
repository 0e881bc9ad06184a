package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

const messageColumns = tables.MessageColumns

func scanMessage(row scanner) (chathook.Message, error) { return tables.Message(row) }

// Chat returns one chat of a workspace.
func (s *Store) Chat(ctx context.Context, workspaceID string, chatID int64) (chathook.Chat, error) {
	return scanChat(s.r.QueryRowContext(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ? AND workspace_id = ?`,
		chatID, workspaceID))
}

// Messages reads one page of a chat's timeline through messages_timeline.
func (s *Store) Messages(ctx context.Context, workspaceID string, chatID int64, p store.Page) ([]chathook.Message, error) {
	q := `SELECT ` + tables.PageMessageColumns + ` FROM ` + tables.PageMessages + ` WHERE m.chat_id = ? AND m.workspace_id = ?`
	args := []any{chatID, workspaceID}
	desc := true // read backwards from the end or from Before, then turn round
	switch {
	case !p.After.IsZero():
		q += ` AND (m.sent_at, m.id) > (?, ?) ORDER BY m.sent_at, m.id`
		args = append(args, ms(p.After.At), p.After.ID)
		desc = false
	case !p.Before.IsZero():
		q += ` AND (m.sent_at, m.id) < (?, ?) ORDER BY m.sent_at DESC, m.id DESC`
		args = append(args, ms(p.Before.At), p.Before.ID)
	default:
		q += ` ORDER BY m.sent_at DESC, m.id DESC`
	}
	rows, err := s.r.QueryContext(ctx, q+` LIMIT ?`, append(args, p.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chathook.Message
	for rows.Next() {
		m, err := tables.PageMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if desc {
		slices.Reverse(out)
	}
	msgs := make([]*chathook.Message, len(out))
	for i := range out {
		msgs[i] = &out[i]
	}
	if err := attach(ctx, s.rs.get(sqlLoadAttachments), msgs); err != nil {
		return nil, fmt.Errorf("messages: attachments: %w", err)
	}
	if err := s.factsOf(ctx, msgs); err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	return out, nil
}

// MessageByUUID finds the message of a permalink.
func (s *Store) MessageByUUID(ctx context.Context, workspaceID, uuid string) (chathook.Message, error) {
	m, err := tables.PageMessage(s.r.QueryRowContext(ctx, `SELECT `+tables.PageMessageColumns+` FROM `+tables.PageMessages+`
		WHERE m.uuid = ? AND m.workspace_id = ?`, uuid, workspaceID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, chathook.ErrNotFound
	}
	if err != nil {
		return m, err
	}
	if err := attach(ctx, s.rs.get(sqlLoadAttachments), []*chathook.Message{&m}); err != nil {
		return m, fmt.Errorf("message: attachments: %w", err)
	}
	if err := s.factsOf(ctx, []*chathook.Message{&m}); err != nil {
		return m, fmt.Errorf("message: %w", err)
	}
	return m, nil
}

// attach reads the attachments of those of msgs that have some (see
// tables.Counted) with load, a statement of sqlLoadAttachments: one
// query for them all, and none when no message has any.
func attach(ctx context.Context, load *sql.Stmt, msgs []*chathook.Message) error {
	ids := tables.WithAttachments(msgs)
	if len(ids) == 0 {
		return nil
	}
	rows, err := load.QueryContext(ctx, idList(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	return tables.Attach(rows, msgs)
}

// sqlLoadEdits and sqlLoadReactions read the earlier texts and the
// reactions of the messages of a JSON array of ids.
var (
	sqlLoadEdits     = tables.EditsOf(`IN (SELECT value FROM json_each(?))`)
	sqlLoadReactions = tables.ReactionsOf(`IN (SELECT value FROM json_each(?))`)
)

// factsOf reads the edits and the reactions of those of msgs that have
// some (see tables.PageMessage): a query each, and none when no message
// has any.
func (s *Store) factsOf(ctx context.Context, msgs []*chathook.Message) error {
	for _, f := range []struct {
		ids   []int64
		query string
		fill  func(tables.Rows, []*chathook.Message) error
	}{
		{tables.WithEdits(msgs), sqlLoadEdits, tables.FillEdits},
		{tables.WithReactions(msgs), sqlLoadReactions, tables.FillReactions},
	} {
		if len(f.ids) == 0 {
			continue
		}
		rows, err := s.rs.get(f.query).QueryContext(ctx, idList(f.ids))
		if err != nil {
			return err
		}
		err = f.fill(rows, msgs)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

const sqlPending = `SELECT count(*) FROM deliveries
	WHERE lane IN (` + endpointLanes + `) AND state = 'pending' AND endpoint_id = ?1`

// Pending counts the deliveries of an endpoint that wait.
func (s *Store) Pending(ctx context.Context, workspaceID, endpointID string) (int, error) {
	var key int64
	if err := s.r.QueryRowContext(ctx, endpointKey, workspaceID, endpointID).Scan(&key); err != nil {
		return 0, notFound(err)
	}
	var n int
	err := s.r.QueryRowContext(ctx, sqlPending, key).Scan(&n)
	return n, err
}

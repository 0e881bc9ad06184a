package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// sqlHeads walks the lanes (see tables.Lane) that have pending deliveries
// in order, from after ?1 up to ?2, one index seek per lane (a loose index
// scan: the cost is the lanes looked at, not the deliveries waiting behind
// them), and returns those whose oldest pending delivery is due at ?3 and
// not leased, of enabled endpoints with a URL and not among the endpoints
// in the JSON array ?5: the lanes that may send now. An earlier delivery
// holds back the rest of its lane while it is leased or waits for a retry,
// so only a lane's head decides.
const sqlHeads = `WITH RECURSIVE walk(c) AS (
    SELECT (SELECT min(lane) FROM deliveries WHERE state = 'pending' AND lane > ?1)
  UNION ALL
    SELECT (SELECT min(lane) FROM deliveries WHERE state = 'pending' AND lane > walk.c)
    FROM walk WHERE walk.c IS NOT NULL AND walk.c < ?2
)
SELECT h.lane, h.id FROM walk
JOIN deliveries h ON h.id = (SELECT min(id) FROM deliveries WHERE lane = walk.c AND state = 'pending')
JOIN endpoints w ON w.id = h.endpoint_id
WHERE walk.c <= ?2 AND h.due_at <= ?3 AND h.lease_until < ?3 AND w.enabled = 1 AND w.url <> ''
  AND h.endpoint_id NOT IN (SELECT value FROM json_each(?5))
LIMIT ?4`

// sqlRun reads the oldest pending deliveries of a lane.
const sqlRun = `SELECT id, due_at, lease_until FROM deliveries WHERE lane = ? AND state = 'pending' ORDER BY id LIMIT ?`

const (
	sqlLease        = `UPDATE deliveries SET lease_until = ?, lease_owner = ? WHERE id IN (SELECT value FROM json_each(?))`
	sqlExtendLeases = `UPDATE deliveries SET lease_until = ?
		WHERE lease_owner = ? AND state = 'pending' AND id IN (SELECT value FROM json_each(?))`
	sqlRelease = `UPDATE deliveries SET lease_until = 0, lease_owner = ''
		WHERE lease_owner = ? AND state = 'pending' AND id IN (SELECT value FROM json_each(?))`
	// A claim reads its deliveries, then what their lanes share, once a
	// lane: 24 columns a delivery and 29 a lane instead of 53 a delivery
	// (each column read takes the connection's mutex in the driver).
	sqlLoadClaimed = `SELECT ` + tables.DeliveryOwnColumns + `
		FROM deliveries d LEFT JOIN messages m ON m.id = d.message_id
		WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`
	// A lane's endpoint is the one in its slot, not deleted: a deleted
	// endpoint's deliveries are never pending, so never claimed.
	// An account's lane (tables.AccountLane) has no chat.
	sqlLoadChats = `SELECT l.value, ` + tables.ChatContextColumns + `
		FROM json_each(?1) l
		JOIN chats c ON c.id = (l.value & ` + tables.SQLLaneChat + `)
		JOIN accounts a ON a.id = c.account_id
		JOIN endpoints w ON w.workspace_id = c.workspace_id AND w.slot = (l.value >> ` + tables.SQLSlotShift + `) AND w.deleted_at = 0
		UNION ALL
		SELECT l.value, ` + tables.AccountContextColumns + `
		FROM json_each(?1) l
		JOIN accounts a ON a.id = (l.value & ` + tables.SQLLaneAccount + `)
		JOIN endpoints w ON w.workspace_id = a.workspace_id AND w.slot = (l.value >> ` + tables.SQLSlotShift + `) AND w.deleted_at = 0
		WHERE (l.value & ` + tables.SQLAccountBit + `) <> 0`
)

// sqlLoadAttachments reads the attachments of the messages of a claim or
// a page that have any.
var sqlLoadAttachments = tables.AttachmentsOf(`IN (SELECT value FROM json_each(?))`)

// ClaimDue leases due deliveries; see store.Store. Chats take turns: each
// claim goes on from the chat after the last one the previous claim took,
// round the chats in id order, so a chat with a deep backlog cannot starve
// the others. A claimed chat gives a run of its oldest deliveries, as many
// as are due, up to store.RunShare.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int, skip ...int64) ([]chathook.Delivery, error) {
	tx, end, err := s.beginHot(ctx, true)
	if err != nil {
		return nil, err
	}
	defer end()
	s.mu.Lock()
	cursor := s.cursor
	s.mu.Unlock()
	skipped := []byte("[]")
	if len(skip) > 0 {
		if skipped, err = json.Marshal(skip); err != nil {
			return nil, err
		}
	}
	walk := headWalk{stmt: s.prep(ctx, tx, sqlHeads), now: ms(now), skipped: string(skipped), left: limit,
		spans: [][2]int64{{cursor, math.MaxInt64}}}
	if cursor > 0 {
		walk.spans = append(walk.spans, [2]int64{0, cursor}) // round again from the first chat
	}
	// The walk reads only as many chats as decide the share at first, and
	// more only while the claim has room: with 1,000 chats waiting, a claim
	// of 512 takes runs of 8 from 64 chats and need not read 512 heads.
	chats, err := walk.next(ctx, store.RunShareFrom(limit))
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(chats) == 0 {
		return nil, nil
	}
	share := store.RunShare(limit, len(chats))
	run := s.prep(ctx, tx, sqlRun)
	var ids []int64
	var last int64 // the last chat that gets a turn
	for i := 0; len(ids) < limit; i++ {
		if i == len(chats) {
			more, err := walk.next(ctx, store.RunsPerClaim)
			if err != nil {
				return nil, fmt.Errorf("claim: %w", err)
			}
			if len(more) == 0 {
				break
			}
			chats = append(chats, more...)
		}
		h := chats[i]
		last = h.chat
		if share == 1 { // as many chats as the limit: each gives its head
			ids = append(ids, h.delivery)
			continue
		}
		if ids, err = appendRun(ctx, run, ids, h.chat, min(share, limit-len(ids)), ms(now)); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	list := idList(ids)
	if _, err := s.prep(ctx, tx, sqlLease).ExecContext(ctx, ms(now.Add(leaseFor)), owner, list); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	out, err := s.loadClaimed(ctx, tx, list, len(ids))
	if err != nil {
		return nil, fmt.Errorf("claim: load: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cursor = last
	s.mu.Unlock()
	return out, nil
}

// loadClaimed reads the leased deliveries of list, n of them, in id order
// (sqlLoadClaimed), their lanes with chats (sqlLoadChats) and, only when
// a message of theirs has some, its attachments (sqlLoadAttachments). A
// delivery whose chat is gone is left out, as a join would leave it.
func (s *Store) loadClaimed(ctx context.Context, tx *sql.Tx, list string, n int) ([]chathook.Delivery, error) {
	out, err := loadOwn(ctx, s.prep(ctx, tx, sqlLoadClaimed), list, n)
	if err != nil || len(out) == 0 {
		return out, err
	}
	msgs := make([]*chathook.Message, len(out))
	for i := range out {
		msgs[i] = &out[i].Message
	}
	if err := attach(ctx, s.prep(ctx, tx, sqlLoadAttachments), msgs); err != nil {
		return nil, err
	}
	chats := s.prep(ctx, tx, sqlLoadChats)
	var lanes []int64
	index := map[int64]int{} // lane -> its place in lanes
	for _, d := range out {
		if _, ok := index[d.Lane]; !ok {
			index[d.Lane] = len(lanes)
			lanes = append(lanes, d.Lane)
		}
	}
	rows, err := chats.QueryContext(ctx, idList(lanes))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	shared := make([]chathook.Delivery, len(lanes)) // a lane's chat id stays 0 until it is read
	for rows.Next() {
		var c chathook.Delivery
		if err := tables.LaneContext(rows, &c); err != nil {
			return nil, err
		}
		shared[index[c.Lane]] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, d := range out {
		c := shared[index[d.Lane]]
		if c.Lane == 0 { // not read: its chat or endpoint is gone
			continue
		}
		d.Webhook, d.Account, d.Chat = c.Webhook, c.Account, c.Chat
		kept = append(kept, d)
	}
	return kept, nil
}

// loadOwn reads the DeliveryOwnColumns of list's deliveries.
func loadOwn(ctx context.Context, load *sql.Stmt, list string, n int) ([]chathook.Delivery, error) {
	rows, err := load.QueryContext(ctx, list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]chathook.Delivery, 0, n)
	for rows.Next() {
		d, err := tables.DeliveryOwn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// HandTo hands new deliveries of idle chats to r as they are stored; see
// store.HandOff.
func (s *Store) HandTo(r store.Receiver) (stop func()) {
	p := &r
	s.hand.Store(p)
	return func() { s.hand.CompareAndSwap(p, nil) }
}

var _ store.HandOff = (*Store)(nil)

// appendRun appends to ids a chat's oldest pending deliveries, up to n,
// as long as they are due and not leased.
func appendRun(ctx context.Context, run *sql.Stmt, ids []int64, chat int64, n int, now int64) ([]int64, error) {
	rows, err := run.QueryContext(ctx, chat, n)
	if err != nil {
		return ids, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, due, lease int64
		if err := rows.Scan(&id, &due, &lease); err != nil {
			return ids, err
		}
		if due > now || lease >= now {
			break
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// head is a lane that may send now, and its oldest pending delivery.
type head struct{ chat, delivery int64 }

// headWalk reads the heads of claimable chats (sqlHeads) page by page,
// through spans of chat ids (after, up to] in turn, up to left chats.
type headWalk struct {
	stmt    *sql.Stmt
	now     int64
	skipped string // JSON array of endpoints to pass over
	spans   [][2]int64
	left    int
}

// next reads up to n more heads; fewer when the walk has come round.
func (w *headWalk) next(ctx context.Context, n int) ([]head, error) {
	var out []head
	for n = min(n, w.left); len(out) < n && len(w.spans) > 0; {
		want := n - len(out)
		got, err := readHeads(w.stmt.QueryContext(ctx, w.spans[0][0], w.spans[0][1], w.now, want, w.skipped))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		if len(got) < want {
			w.spans = w.spans[1:] // this span has no more
		} else {
			w.spans[0][0] = got[len(got)-1].chat
		}
	}
	w.left -= len(out)
	return out, nil
}

func readHeads(rows *sql.Rows, err error) ([]head, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var heads []head
	for rows.Next() {
		var h head
		if err := rows.Scan(&h.chat, &h.delivery); err != nil {
			return nil, err
		}
		heads = append(heads, h)
	}
	return heads, rows.Err()
}

// sqlHoldRecovered keeps deliveries recovered while a later one of their
// chat was in flight behind that flight (see Recover): it pushes their due
// time along with the flight's lease. They are the chat's pending
// deliveries before its first held one that are not leased and not
// attempted since they were recovered; normally there are none, and
// finding that is one index seek per chat held.
const sqlHoldRecovered = `WITH held AS (
		SELECT lane, min(id) AS first FROM deliveries
		WHERE id IN (SELECT value FROM json_each(?3)) AND lease_owner = ?2 AND state = 'pending' GROUP BY lane)
	UPDATE deliveries SET due_at = ?1
	WHERE id IN (SELECT r.id FROM held JOIN deliveries r ON r.lane = held.lane AND r.state = 'pending' AND r.id < held.first)
		AND lease_until = 0 AND attempts = retry_from AND due_at < ?1`

// ExtendLeases keeps long-running claims from expiring, and what was
// recovered behind them waiting (see sqlHoldRecovered).
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	list := idList(ids)
	if _, err := s.ws.get(sqlExtendLeases).ExecContext(ctx, ms(until), owner, list); err != nil {
		return err
	}
	_, err := s.ws.get(sqlHoldRecovered).ExecContext(ctx, ms(until), owner, list)
	return err
}

// Release gives back leases without an attempt.
func (s *Store) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.ws.get(sqlRelease).ExecContext(ctx, owner, idList(ids))
	return err
}

// Finish records attempt outcomes in one transaction; see store.Store.
// The whole batch is written with a few set statements (the outcomes go
// in as one JSON array), not three statements per outcome: the writer is
// what every part of chathook waits for.
func (s *Store) Finish(ctx context.Context, outcomes []store.Finished) error {
	if len(outcomes) == 0 {
		return nil
	}
	tx, end, err := s.beginHot(ctx, true)
	if err != nil {
		return err
	}
	defer end()
	// One attempt of a delivery per statement: a repeat starts a new one.
	seen := map[int64]bool{}
	start := 0
	for i, o := range outcomes {
		if seen[o.DeliveryID] {
			if err := s.finish(ctx, tx, outcomes[start:i]); err != nil {
				return err
			}
			clear(seen)
			start = i
		}
		seen[o.DeliveryID] = true
	}
	if err := s.finish(ctx, tx, outcomes[start:]); err != nil {
		return err
	}
	return tx.Commit()
}

// Outcomes go into the set statements as rows of bound values, in chunks
// of one of these sizes; a chunk is padded with rows of id 0, which match
// no delivery. (Binding is cheaper than parsing them out of JSON.)
var finishChunks = []int{1, 8, 64}

// outcomeColumns are the values of one outcome, in the order bound.
const outcomeColumns = `k, id, state, due, finished, status, err, at, ms, url, logged`

// outcomeRows is "WITH o(...) AS (VALUES (...), ...)" for n outcomes.
func outcomeRows(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", strings.Count(outcomeColumns, ",")+1), ", ") + ")"
	return "WITH o(" + outcomeColumns + ") AS (VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + ")\n"
}

// keepDiscarded is the state an outcome leaves: a delivery the user
// discarded while its POST was under way stays discarded unless that POST
// got through; no retry brings it back. The log says what happened.
const keepDiscarded = `CASE WHEN deliveries.state = 'discarded' AND o.state <> 'delivered' THEN 'discarded' ELSE o.state END`

// sqlFinish and sqlLogAttempts hold, per chunk size, the statement that
// records a chunk's attempts on its deliveries and the one that logs them.
var sqlFinish, sqlLogAttempts = map[int]string{}, map[int]string{}

func init() {
	for _, n := range finishChunks {
		sqlFinish[n] = outcomeRows(n) + `UPDATE deliveries SET
			state = ` + keepDiscarded + `, attempts = attempts + 1, due_at = o.due, finished_at = o.finished, last_status = o.status,
			last_error = o.err, last_attempt_at = o.at, last_duration_ms = o.ms, lease_until = 0, lease_owner = ''
			FROM o WHERE deliveries.id = o.id RETURNING deliveries.id, deliveries.endpoint_id`
		sqlLogAttempts[n] = outcomeRows(n) + `INSERT INTO attempts
			(workspace_id, endpoint_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
			SELECT d.workspace_id, d.endpoint_id, d.id, d.event_id, d.kind, d.chat_id, d.messages, d.attempts, o.at, o.url,
				CASE WHEN d.state = 'discarded' AND o.logged = 'retrying' THEN 'failed' ELSE o.logged END, o.status, o.ms, o.err
			FROM o JOIN deliveries d ON d.id = o.id ORDER BY o.k`
		writerSQL = append(writerSQL, sqlFinish[n], sqlLogAttempts[n])
	}
}

const (
	sqlFailureCount = `SELECT workspace_id, public_id, description, url, consecutive_failures, enabled, last_error FROM endpoints WHERE id = ?`
	sqlSetFailures  = `UPDATE endpoints SET consecutive_failures = ?, last_error = ? WHERE id = ?`
	sqlDisable      = `UPDATE endpoints SET enabled = 0, disabled_reason = ?, disabled_at = ? WHERE id = ?`
	sqlQueueEmail   = `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at, endpoint, endpoint_name)
		VALUES (?, 'webhook_disabled', ?, ?, ?, ?, ?, ?)`
)

// finish records outcomes of distinct deliveries, then counts each
// endpoint's consecutive failures through them in order.
func (s *Store) finish(ctx context.Context, tx *sql.Tx, outcomes []store.Finished) error {
	workspaceOf := make(map[int64]int64, len(outcomes)) // delivery -> its endpoint
	for start := 0; start < len(outcomes); {
		n := finishChunks[len(finishChunks)-1]
		for _, size := range finishChunks {
			if size >= len(outcomes)-start {
				n = size
				break
			}
		}
		chunk := outcomes[start:min(start+n, len(outcomes))]
		if err := s.finishChunk(ctx, tx, start, chunk, n, workspaceOf); err != nil {
			return err
		}
		start += len(chunk)
	}
	for _, o := range outcomes {
		if _, ok := workspaceOf[o.DeliveryID]; !ok {
			return fmt.Errorf("finish delivery %d: %w", o.DeliveryID, sql.ErrNoRows)
		}
	}
	var order []int64 // endpoints in the order they first appear
	byWorkspace := map[int64][]store.Finished{}
	for _, o := range outcomes {
		ws := workspaceOf[o.DeliveryID]
		if _, ok := byWorkspace[ws]; !ok {
			order = append(order, ws)
		}
		byWorkspace[ws] = append(byWorkspace[ws], o)
	}
	for _, ws := range order {
		if err := s.countFailures(ctx, tx, ws, byWorkspace[ws]); err != nil {
			return err
		}
	}
	return nil
}

// finishChunk records and logs a chunk of at most n outcomes, whose first
// is outcome number first of the batch, noting each delivery's workspace.
func (s *Store) finishChunk(ctx context.Context, tx *sql.Tx, first int, chunk []store.Finished, n int, workspaceOf map[int64]int64) error {
	args := make([]any, 0, n*11)
	for i, o := range chunk {
		state, due, finished, logged := chathook.StateDelivered, ms(o.At), ms(o.At), chathook.StateDelivered
		switch {
		case o.OK():
		case o.RetryAt.IsZero():
			state, logged = chathook.StateFailed, chathook.StateFailed
		default:
			state, due, finished, logged = chathook.StatePending, ms(o.RetryAt), 0, chathook.StateRetrying
		}
		args = append(args, first+i, o.DeliveryID, state, due, finished, o.Status, o.Err, ms(o.At),
			o.Duration.Milliseconds(), o.URL, logged)
	}
	for range n - len(chunk) {
		args = append(args, 0, 0, "", 0, 0, 0, "", 0, 0, "", "")
	}
	updated, err := s.prep(ctx, tx, sqlFinish[n]).QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	for updated.Next() {
		var id, ws int64
		if err := updated.Scan(&id, &ws); err != nil {
			updated.Close()
			return err
		}
		workspaceOf[id] = ws
	}
	if err := updated.Close(); err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	if _, err := s.prep(ctx, tx, sqlLogAttempts[n]).ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("log attempts: %w", err)
	}
	return nil
}

// countFailures walks an endpoint's outcomes in order: a success resets
// its consecutive failures, a failure counts one (an Overlapped one only
// sets last_error), and the failure that reaches chathook.DisableAfter on
// an enabled endpoint disables it and queues exactly one owner email
// naming it, in this transaction.
func (s *Store) countFailures(ctx context.Context, tx *sql.Tx, endpoint int64, outcomes []store.Finished) error {
	var failures int
	var enabled bool
	var workspaceID, id, description, url, lastError string
	if err := s.prep(ctx, tx, sqlFailureCount).QueryRowContext(ctx, endpoint).Scan(&workspaceID, &id, &description, &url,
		&failures, &enabled, &lastError); err != nil {
		return fmt.Errorf("finish: endpoint: %w", err)
	}
	before, beforeError := failures, lastError
	for _, o := range outcomes {
		if o.OK() {
			failures = 0
			continue
		}
		lastError = o.Err
		if o.Overlapped {
			continue
		}
		failures++
		if failures < chathook.DisableAfter || !enabled {
			continue
		}
		enabled = false
		reason := fmt.Sprintf("disabled automatically after %d consecutive failed attempts", failures)
		if _, err := s.prep(ctx, tx, sqlDisable).ExecContext(ctx, reason, ms(o.At), endpoint); err != nil {
			return err
		}
		// The email goes out with the disable or not at all: one per disable.
		endpointID, name := tables.EmailEndpoint(id, description, url)
		if _, err := s.prep(ctx, tx, sqlQueueEmail).ExecContext(ctx, workspaceID, reason, o.Err, ms(o.At), ms(o.At),
			endpointID, name); err != nil {
			return err
		}
	}
	if failures == before && lastError == beforeError {
		return nil // the common case: successes of a healthy endpoint
	}
	_, err := s.prep(ctx, tx, sqlSetFailures).ExecContext(ctx, failures, lastError, endpoint)
	return err
}

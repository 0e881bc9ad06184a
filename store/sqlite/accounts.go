package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store/tables"
)

const accountColumns = tables.AccountColumns

func scanAccount(row scanner, extra ...any) (chathook.Account, error) {
	a, err := tables.Account(row, extra...)
	return a, notFound(err)
}

// LinkAccount records a newly paired device; see store.Accounts. The
// account of the same phone, if any, is taken over in place: its id, and
// with it its chats and messages, stay.
func (s *Store) LinkAccount(ctx context.Context, workspaceID string, a chathook.Account, owner string, leaseUntil time.Time) (chathook.Account, error) {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return a, err
	}
	defer tx.Rollback()
	var announced string
	if err := tx.QueryRowContext(ctx, `SELECT announced FROM accounts WHERE workspace_id = ? AND phone = ?`, workspaceID, a.Phone).
		Scan(&announced); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return a, err
	}
	linked, err := scanAccount(tx.QueryRowContext(ctx, `INSERT INTO accounts
			(workspace_id, phone, full_name, email, kind, state, jid, created_at, lease_owner, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, phone) DO UPDATE SET
			full_name = CASE WHEN excluded.full_name <> '' THEN excluded.full_name ELSE accounts.full_name END,
			email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE accounts.email END,
			kind = excluded.kind, state = excluded.state, jid = excluded.jid,
			created_at = CASE WHEN accounts.created_at = 0 THEN excluded.created_at ELSE accounts.created_at END,
			lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
			phone_number_id = '', `+tables.DropCloudAPICredentials+`
		RETURNING `+accountColumns,
		workspaceID, a.Phone, a.FullName, a.Email, chathook.KindWeb, chathook.AccountConnected, a.JID, ms(created),
		owner, ms(leaseUntil)))
	if err != nil {
		return linked, err
	}
	if err := announce(ctx, tx, announced, linked, created); err != nil {
		return linked, err
	}
	return linked, tx.Commit()
}

// announce records an account's move to its state (a, as written) at
// now, and queues the account event it makes for the endpoints that take
// it (see tables.Announcement), in tx.
func announce(ctx context.Context, tx *sql.Tx, announced string, a chathook.Account, now time.Time) error {
	typ, reason, after := tables.Announcement(announced, a)
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET state_at = ?, announced = ? WHERE id = ?`, ms(now), after, a.ID); err != nil {
		return fmt.Errorf("account state: %w", err)
	}
	if typ == "" {
		return nil
	}
	return queueAccountEvent(ctx, tx, a, typ, reason, now)
}

// queueAccountEvent queues an account event for every endpoint of the
// account's workspace that takes it.
func queueAccountEvent(ctx context.Context, tx *sql.Tx, a chathook.Account, typ, reason string, now time.Time) error {
	targets, err := readTargets(tx.QueryContext(ctx, sqlIngestTarget, a.WorkspaceID))
	if err != nil {
		return fmt.Errorf("account event: endpoints: %w", err)
	}
	queued, data := tables.AccountEvents(targets, a, typ, reason, event.NewID(now))
	return queueFixed(ctx, tx, a.WorkspaceID, 0, queued, data, now)
}

// queueFixed writes the deliveries of an event whose data is fixed now
// (an account's, a status), of chat (0: none).
func queueFixed(ctx context.Context, tx *sql.Tx, workspaceID string, chat int64, queued []tables.Queued, data []byte, at time.Time) error {
	for _, q := range queued {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries
				(workspace_id, endpoint_id, lane, chat_id, event_id, kind, type, data, due_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			workspaceID, q.Target.Key, q.Lane, chat, q.EventID, q.Kind, q.Type, string(data), ms(at), ms(at)); err != nil {
			return fmt.Errorf("%s: %w", q.Type, err)
		}
	}
	return nil
}

// AnnounceUnreachable tells endpoints of every account that has been
// reconnecting since before now - tables.Unreachable, after it was
// announced connected, that it is disconnected; see store.Accounts.
func (s *Store) AnnounceUnreachable(ctx context.Context, now time.Time) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `UPDATE accounts SET announced = ?
		WHERE announced = ? AND state = ? AND state_at <= ? RETURNING `+accountColumns,
		tables.AnnouncedDisconnected, tables.AnnouncedConnected, chathook.AccountConnecting, ms(now.Add(-tables.Unreachable)))
	if err != nil {
		return 0, err
	}
	lost, err := tables.Accounts(rows)
	rows.Close()
	if err != nil {
		return 0, err
	}
	for _, a := range lost {
		if err := queueAccountEvent(ctx, tx, a, event.AccountLost, tables.UnreachableReason, now); err != nil {
			return 0, err
		}
	}
	return len(lost), tx.Commit()
}

// Accounts returns a workspace's web and cloud API accounts, oldest first.
func (s *Store) Accounts(ctx context.Context, workspaceID string) ([]chathook.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE workspace_id = ? AND kind IN (?, ?) ORDER BY id`, workspaceID, chathook.KindWeb, chathook.KindCloudAPI)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Accounts(rows)
}

// Account returns one account of the workspace.
func (s *Store) Account(ctx context.Context, workspaceID string, id int64) (chathook.Account, error) {
	return scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ? AND workspace_id = ?`,
		id, workspaceID))
}

// SetAccountState records a web or Cloud API account's state; see store.Accounts. The
// read of the state before and the write are in one write transaction, so
// two callers at once cannot both see the move to logged_out.
func (s *Store) SetAccountState(ctx context.Context, accountID int64, state chathook.AccountState, now time.Time) (chathook.Account, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.Account{}, err
	}
	defer tx.Rollback()
	var announced string
	before, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+`, announced FROM accounts WHERE id = ?`, accountID), &announced)
	if err != nil {
		return before, err
	}
	if before.Kind == chathook.KindAPI {
		return before, fmt.Errorf("account %d was created by the ingest API: it has no connection state", accountID)
	}
	if tables.RemovedCloudAPINumber(before, state) {
		return before, fmt.Errorf("account %d is a removed Cloud API number: register it again (%w)", accountID, chathook.ErrNotFound)
	}
	release := ""
	if state != chathook.AccountBanned {
		release = `, state_until = 0` // a ban's end only means something while banned
	}
	if !state.WantsConnection() {
		release += `, lease_owner = '', lease_until = 0`
	}
	if before.Kind == chathook.KindCloudAPI && state == chathook.AccountDisconnected {
		release += `, ` + tables.DropCloudAPICredentials
	}
	a, err := scanAccount(tx.QueryRowContext(ctx, `UPDATE accounts SET state = ?`+release+` WHERE id = ? RETURNING `+accountColumns,
		state, accountID))
	if err != nil {
		return a, err
	}
	// The email goes out with the move or not at all: one per logout, or
	// per refusal as outdated.
	if state != before.State {
		var err error
		switch state {
		case chathook.AccountLoggedOut:
			err = queueAccountEmail(ctx, tx, a.WorkspaceID, "account_logged_out", tables.AccountLoggedOutReason(a), now)
		case chathook.AccountOutdated:
			err = queueAccountEmail(ctx, tx, a.WorkspaceID, "account_outdated", tables.AccountOutdatedReason(a), now)
		}
		if err != nil {
			return a, err
		}
	}
	if a.State != before.State {
		if err := announce(ctx, tx, announced, a, now); err != nil {
			return a, err
		}
	}
	return a, tx.Commit()
}

// queueAccountEmail queues an owner email about an account, in tx.
func queueAccountEmail(ctx context.Context, tx *sql.Tx, workspaceID, kind, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
		VALUES (?, ?, ?, '', ?, ?)`, workspaceID, kind, reason, ms(now), ms(now)); err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	return nil
}

// BanAccount records a temporary ban of a QR account; see
// store.Accounts. The read of the state before and the writes are one
// write transaction, so a ban emails and tells once.
func (s *Store) BanAccount(ctx context.Context, accountID int64, until, now time.Time) (chathook.Account, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.Account{}, err
	}
	defer tx.Rollback()
	var announced string
	before, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+`, announced FROM accounts WHERE id = ?`, accountID), &announced)
	if err != nil {
		return before, err
	}
	if before.Kind != chathook.KindWeb {
		return before, fmt.Errorf("account %d is not linked by QR code: only those are banned", accountID)
	}
	to := tables.BanMove(before.State)
	if to == "" {
		return before, nil
	}
	untilMS := ms(until)
	if to != chathook.AccountBanned {
		untilMS = 0
	}
	a, err := scanAccount(tx.QueryRowContext(ctx, `UPDATE accounts SET state = ?, state_until = ?, lease_owner = '', lease_until = 0
		WHERE id = ? RETURNING `+accountColumns, to, untilMS, accountID))
	if err != nil {
		return a, err
	}
	// A repeat only moves until; a disconnect asked for tells nobody.
	if before.State != chathook.AccountBanned && to == chathook.AccountBanned {
		if err := queueAccountEmail(ctx, tx, a.WorkspaceID, "account_banned", tables.AccountBannedReason(a, until), now); err != nil {
			return a, err
		}
		if err := announce(ctx, tx, announced, a, now); err != nil {
			return a, err
		}
	}
	return a, tx.Commit()
}

// ClaimAccounts leases web accounts to owner; see store.Accounts. Claims
// go through the one writer connection, in write transactions, so no two
// ever see the same free account.
func (s *Store) ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	web := tables.WantsConnection
	renewed, err := tx.ExecContext(ctx, `UPDATE accounts SET lease_until = ? WHERE lease_owner = ? AND `+web, ms(until), owner)
	if err != nil {
		return nil, fmt.Errorf("renew accounts: %w", err)
	}
	held, err := renewed.RowsAffected()
	if err != nil {
		return nil, err
	}
	if more := int64(limit) - held; more > 0 {
		// An account whose ban ended is taken up as connecting (the old
		// state is what CASE reads).
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET lease_owner = ?1, lease_until = ?2,
				state = CASE WHEN state = '`+string(chathook.AccountBanned)+`' THEN '`+string(chathook.AccountConnecting)+`' ELSE state END,
				state_at = CASE WHEN state = '`+string(chathook.AccountBanned)+`' THEN ?3 ELSE state_at END, state_until = 0
			WHERE id IN (SELECT id FROM accounts WHERE ((`+web+`) OR (`+fmt.Sprintf(tables.BanEnded, "?3")+`))
				AND lease_owner <> ?1 AND lease_until <= ?3 ORDER BY id LIMIT ?4)`,
			owner, ms(until), ms(now), more); err != nil {
			return nil, fmt.Errorf("claim accounts: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE lease_owner = ? AND `+web+` ORDER BY id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out, err := tables.Accounts(rows)
	if err != nil {
		return nil, err
	}
	rows.Close()
	return out, tx.Commit()
}

// ReleaseAccounts gives back owner's leases of ids.
func (s *Store) ReleaseAccounts(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.w.ExecContext(ctx, `UPDATE accounts SET lease_owner = '', lease_until = 0
		WHERE lease_owner = ? AND id IN (SELECT value FROM json_each(?))`, owner, idList(ids))
	return err
}

// SavePairing creates or updates a pairing. A pairing never moves to
// another workspace: an id of another workspace's is an error.
func (s *Store) SavePairing(ctx context.Context, p chathook.Pairing) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO pairings (`+tables.PairingColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, phone = excluded.phone, qr = excluded.qr, code = excluded.code,
			state = excluded.state, account_id = excluded.account_id, err = excluded.err, updated_at = excluded.updated_at
		WHERE pairings.workspace_id = excluded.workspace_id`,
		p.ID, p.WorkspaceID, p.Email, p.Phone, p.QR, p.Code, p.State, p.AccountID, p.Err, ms(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save pairing: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 { // the id is another workspace's
		return fmt.Errorf("save pairing %s: %w", p.ID, chathook.ErrNotFound)
	}
	return nil
}

// Pairing returns a pairing of the workspace.
func (s *Store) Pairing(ctx context.Context, workspaceID, id string) (chathook.Pairing, error) {
	p, err := tables.Pairing(s.r.QueryRowContext(ctx, `SELECT `+tables.PairingColumns+` FROM pairings WHERE id = ? AND workspace_id = ?`,
		id, workspaceID))
	return p, notFound(err)
}

// SessionDB is whatsmeow's handle on this database: a pool of its own on
// the same file and settings, so that its writes wait for the writer
// (busy_timeout, immediate transactions) instead of failing.
func (s *Store) SessionDB() (*sql.DB, string) { return s.session, "sqlite3" }

// AddCloudAPINumber registers a Cloud API number; see store.Accounts. The
// check for rivals and the upsert are one write transaction, so two
// registrations at once cannot both pass the check.
func (s *Store) AddCloudAPINumber(ctx context.Context, workspaceID string, a chathook.Account, appSecret, accessToken string, now time.Time) (chathook.Account, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.Account{}, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE workspace_id = ? AND (`+
		fmt.Sprintf(tables.CloudAPIRivals, "?", "?")+`)`, workspaceID, a.Phone, a.PhoneNumberID)
	if err != nil {
		return chathook.Account{}, err
	}
	rivals, err := tables.Accounts(rows)
	rows.Close()
	if err != nil {
		return chathook.Account{}, err
	}
	if err := tables.CloudAPIConflict(rivals, a); err != nil {
		return chathook.Account{}, err
	}
	added, err := scanAccount(tx.QueryRowContext(ctx, fmt.Sprintf(tables.AddCloudAPINumber, "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"),
		workspaceID, a.Phone, a.FullName, a.Email, chathook.KindCloudAPI, chathook.AccountConnecting,
		a.PhoneNumberID, a.VerifyToken, appSecret, accessToken, ms(now)))
	if err != nil {
		return added, err
	}
	return added, tx.Commit()
}

// CloudAPINumbers returns the workspace's Cloud API numbers not removed,
// with their app secrets and access tokens.
func (s *Store) CloudAPINumbers(ctx context.Context, workspaceID string) ([]chathook.CloudAPINumber, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tables.CloudAPINumberColumns+` FROM accounts
		WHERE workspace_id = ? AND kind = ? AND state <> ? ORDER BY id`, workspaceID, chathook.KindCloudAPI, chathook.AccountDisconnected)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.CloudAPINumbers(rows)
}

// SetAccessToken sets a Cloud API number's access token; see
// store.Accounts. One UPDATE checks and writes, so a removal at the same
// time either comes after it (and wipes the token) or leaves no row to set.
func (s *Store) SetAccessToken(ctx context.Context, workspaceID string, accountID int64, token string) (chathook.Account, error) {
	return scanAccount(s.w.QueryRowContext(ctx, fmt.Sprintf(tables.SetAccessToken, "?", "?", "?"), token, accountID, workspaceID))
}

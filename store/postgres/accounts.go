package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

const accountColumns = tables.AccountColumns

func scanAccount(row pgx.Row, extra ...any) (chathook.Account, error) {
	a, err := tables.Account(row, extra...)
	return a, noRows(err, chathook.ErrNotFound)
}

func collectAccounts(rows pgx.Rows, err error) ([]chathook.Account, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Accounts(rows)
}

// LinkAccount records a newly paired device; see store.Accounts. The
// account of the same phone, if any, is taken over in place: its id, and
// with it its chats and messages, stay.
func (s *Store) LinkAccount(ctx context.Context, workspaceID string, a chathook.Account, owner string, leaseUntil time.Time) (chathook.Account, error) {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var linked chathook.Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var announced string
		if err := tx.QueryRow(ctx, `SELECT announced FROM accounts WHERE workspace_id = $1 AND phone = $2 FOR UPDATE`,
			workspaceID, a.Phone).Scan(&announced); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var err error
		if linked, err = scanAccount(tx.QueryRow(ctx, `INSERT INTO accounts
			(workspace_id, phone, full_name, email, kind, state, jid, created_at, lease_owner, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (workspace_id, phone) DO UPDATE SET
			full_name = CASE WHEN excluded.full_name <> '' THEN excluded.full_name ELSE accounts.full_name END,
			email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE accounts.email END,
			kind = excluded.kind, state = excluded.state, jid = excluded.jid,
			created_at = CASE WHEN accounts.created_at = 0 THEN excluded.created_at ELSE accounts.created_at END,
			lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
			phone_number_id = '', `+tables.DropCloudAPICredentials+`
		RETURNING `+accountColumns,
			workspaceID, a.Phone, a.FullName, a.Email, chathook.KindWeb, chathook.AccountConnected, a.JID, ms(created),
			owner, ms(leaseUntil))); err != nil {
			return err
		}
		return announce(ctx, tx, announced, linked, created)
	})
	return linked, err
}

// Accounts returns a workspace's web and cloud API accounts, oldest first.
func (s *Store) Accounts(ctx context.Context, workspaceID string) ([]chathook.Account, error) {
	return collectAccounts(s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE workspace_id = $1 AND kind IN ($2, $3) ORDER BY id`, workspaceID, chathook.KindWeb, chathook.KindCloudAPI))
}

// Account returns one account of the workspace.
func (s *Store) Account(ctx context.Context, workspaceID string, id int64) (chathook.Account, error) {
	return scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1 AND workspace_id = $2`,
		id, workspaceID))
}

// SetAccountState records a web or Cloud API account's state; see store.Accounts. The
// account's row is locked (FOR UPDATE) from the read of its state before
// to the commit, so of two callers at once on any instances only one sees
// the move to logged_out and queues the email.
func (s *Store) SetAccountState(ctx context.Context, accountID int64, state chathook.AccountState, now time.Time) (chathook.Account, error) {
	var a chathook.Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var announced string
		before, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+`, announced FROM accounts WHERE id = $1 FOR UPDATE`, accountID),
			&announced)
		if err != nil {
			return err
		}
		if before.Kind == chathook.KindAPI {
			return fmt.Errorf("account %d was created by the ingest API: it has no connection state", accountID)
		}
		if tables.RemovedCloudAPINumber(before, state) {
			return fmt.Errorf("account %d is a removed Cloud API number: register it again (%w)", accountID, chathook.ErrNotFound)
		}
		release := ""
		if !state.WantsConnection() {
			release = `, lease_owner = '', lease_until = 0`
		}
		if before.Kind == chathook.KindCloudAPI && state == chathook.AccountDisconnected {
			release += `, ` + tables.DropCloudAPICredentials
		}
		// state_until is a ban's only: any state set here ends it.
		if a, err = scanAccount(tx.QueryRow(ctx, `UPDATE accounts SET state = $1, state_until = 0`+release+` WHERE id = $2 RETURNING `+accountColumns,
			state, accountID)); err != nil {
			return err
		}
		if a.State != before.State {
			if err := announce(ctx, tx, announced, a, now); err != nil {
				return err
			}
		}
		var kind, reason string
		switch {
		case before.State == state:
			return nil
		case state == chathook.AccountLoggedOut:
			kind, reason = "account_logged_out", tables.AccountLoggedOutReason(a)
		case state == chathook.AccountOutdated:
			kind, reason = "account_outdated", tables.AccountOutdatedReason(a)
		default:
			return nil
		}
		// The email goes out with the move or not at all: one per logout
		// (or refusal as outdated).
		_, err = tx.Exec(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
			VALUES ($1, $2, $3, '', $4, $4)`, a.WorkspaceID, kind, reason, ms(now))
		return err
	})
	return a, err
}

// ClaimAccounts leases web accounts to owner; see store.Accounts. New
// claims lock what they take FOR UPDATE SKIP LOCKED, and the lock re-reads
// the row as committed, so of instances claiming at once each account goes
// to one; a renewal matches only a lease still owner's, so it never takes
// back an account another instance took over meanwhile.
func (s *Store) ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error) {
	var out []chathook.Account
	web := tables.WantsConnection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET lease_until = $1 WHERE lease_owner = $2 AND `+web, ms(until), owner)
		if err != nil {
			return fmt.Errorf("renew accounts: %w", err)
		}
		if more := int64(limit) - tag.RowsAffected(); more > 0 {
			// An account whose ban ran out is taken up again as
			// connecting; the lock re-reads its ban, so one extended
			// meanwhile is passed over.
			if _, err := tx.Exec(ctx, `UPDATE accounts SET lease_owner = $1, lease_until = $2,
					state = CASE WHEN state = $5 THEN $6 ELSE state END,
					state_at = CASE WHEN state = $5 THEN $3 ELSE state_at END, state_until = 0
				WHERE id IN (
					SELECT id FROM accounts WHERE (`+web+` OR `+fmt.Sprintf(tables.BanEnded, "$3")+`)
					AND lease_owner <> $1 AND lease_until <= $3
					ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)`,
				owner, ms(until), ms(now), more, chathook.AccountBanned, chathook.AccountConnecting); err != nil {
				return fmt.Errorf("claim accounts: %w", err)
			}
		}
		out, err = collectAccounts(tx.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE lease_owner = $1 AND `+web+` ORDER BY id`,
			owner))
		return err
	})
	return out, err
}

// ReleaseAccounts gives back owner's leases of ids.
func (s *Store) ReleaseAccounts(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE accounts SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1 AND id = ANY($2)`,
		owner, ids)
	return err
}

// SavePairing creates or updates a pairing. A pairing never moves to
// another workspace: an id of another workspace's is an error.
func (s *Store) SavePairing(ctx context.Context, p chathook.Pairing) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO pairings (`+tables.PairingColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, phone = excluded.phone, qr = excluded.qr, code = excluded.code,
			state = excluded.state, account_id = excluded.account_id, err = excluded.err, updated_at = excluded.updated_at
		WHERE pairings.workspace_id = excluded.workspace_id`,
		p.ID, p.WorkspaceID, p.Email, p.Phone, p.QR, p.Code, p.State, p.AccountID, p.Err, ms(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save pairing: %w", err)
	}
	if tag.RowsAffected() == 0 { // the id is another workspace's
		return fmt.Errorf("save pairing %s: %w", p.ID, chathook.ErrNotFound)
	}
	return nil
}

// Pairing returns a pairing of the workspace.
func (s *Store) Pairing(ctx context.Context, workspaceID, id string) (chathook.Pairing, error) {
	p, err := tables.Pairing(s.pool.QueryRow(ctx, `SELECT `+tables.PairingColumns+` FROM pairings WHERE id = $1 AND workspace_id = $2`,
		id, workspaceID))
	return p, noRows(err, chathook.ErrNotFound)
}

// SessionDB is whatsmeow's handle on this database: database/sql over the
// store's own pool, so its connections count against the same limit.
func (s *Store) SessionDB() (*sql.DB, string) { return s.session, "postgres" }

// AddCloudAPINumber registers a Cloud API number; see store.Accounts. A
// workspace's registrations take turns under an advisory lock, so of two
// at once on any instances the second sees the first as a rival (a row
// lock could not: a row being inserted has none to wait on).
func (s *Store) AddCloudAPINumber(ctx context.Context, workspaceID string, a chathook.Account, appSecret, accessToken string, now time.Time) (chathook.Account, error) {
	var added chathook.Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('chathook cloud api numbers of ' || $1, 0))`,
			workspaceID); err != nil {
			return err
		}
		rivals, err := collectAccounts(tx.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE workspace_id = $1 AND (`+
			fmt.Sprintf(tables.CloudAPIRivals, "$2", "$3")+`)`, workspaceID, a.Phone, a.PhoneNumberID))
		if err != nil {
			return err
		}
		if err := tables.CloudAPIConflict(rivals, a); err != nil {
			return err
		}
		added, err = scanAccount(tx.QueryRow(ctx, fmt.Sprintf(tables.AddCloudAPINumber, "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"),
			workspaceID, a.Phone, a.FullName, a.Email, chathook.KindCloudAPI, chathook.AccountConnecting,
			a.PhoneNumberID, a.VerifyToken, appSecret, accessToken, ms(now)))
		return err
	})
	return added, err
}

// CloudAPINumbers returns the workspace's Cloud API numbers not removed,
// with their app secrets and access tokens.
func (s *Store) CloudAPINumbers(ctx context.Context, workspaceID string) ([]chathook.CloudAPINumber, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tables.CloudAPINumberColumns+` FROM accounts
		WHERE workspace_id = $1 AND kind = $2 AND state <> $3 ORDER BY id`, workspaceID, chathook.KindCloudAPI, chathook.AccountDisconnected)
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
	return scanAccount(s.pool.QueryRow(ctx, fmt.Sprintf(tables.SetAccessToken, "$1", "$2", "$3"), token, accountID, workspaceID))
}

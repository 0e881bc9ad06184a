package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// liveChannel is the NOTIFY channel of the schema chathook's tables are
// in: instances of another schema on the same server never hear them.
func (s *Store) liveChannel(ctx context.Context) (string, error) {
	s.channelMu.Lock()
	defer s.channelMu.Unlock()
	if s.channel != "" {
		return s.channel, nil
	}
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", err
	}
	ch := "chathook_live_" + schema
	if len(ch) > 63 { // PostgreSQL's longest identifier
		sum := sha256.Sum256([]byte(schema))
		ch = "chathook_live_" + hex.EncodeToString(sum[:16])
	}
	s.channel = ch
	return ch, nil
}

// Notify sends payload to every instance listening on this database's
// live channel (Listen). It is one statement on a pooled connection,
// outside any transaction: callers send it after their write committed.
func (s *Store) Notify(ctx context.Context, payload string) error {
	ch, err := s.liveChannel(ctx)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, ch, payload)
	return err
}

// listenBackoff is the wait before the first reconnect, doubled after
// each failure up to listenBackoffMax.
const (
	listenBackoff    = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// Listen calls heard with each payload Notify sends, from any instance,
// until ctx ends. It holds a connection of its own, outside the pool (a
// LISTEN lasts as long as its connection). When that connection breaks
// it connects again, with backoff, and calls reconnected once it listens
// again: what was sent meanwhile is lost. Each failure to listen (the
// database away at start-up too) goes to broken, and is tried again.
func (s *Store) Listen(ctx context.Context, heard func(payload string), reconnected func(), broken func(error)) error {
	ch := ""
	wait := listenBackoff
	for first := true; ; first = false {
		var err error
		if ch == "" {
			ch, err = s.liveChannel(ctx)
		}
		if err == nil {
			err = s.listenOnce(ctx, ch, heard, func() {
				wait = listenBackoff
				if !first {
					reconnected()
				}
			})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			broken(err)
		}
		if !first || err != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, listenBackoffMax)
		}
	}
}

// listenOnce listens on one connection until it breaks or ctx ends;
// listening is called once LISTEN took effect.
func (s *Store) listenOnce(ctx context.Context, ch string, heard func(string), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("live: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize()); err != nil {
		return fmt.Errorf("live: listen: %w", err)
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("live: wait: %w", err)
		}
		heard(n.Payload)
	}
}

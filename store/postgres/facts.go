package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook"
)

// SCAFFOLD: replaced by the store's implementation before this lands.
var errScaffold = errors.New("postgres: not implemented yet")

func (s *Store) RecordFacts(ctx context.Context, accountID int64, now time.Time, facts []chathook.Fact) ([]chathook.FactResult, bool, error) {
	return nil, false, errScaffold
}

func (s *Store) BanAccount(ctx context.Context, accountID int64, until, now time.Time) (chathook.Account, error) {
	return chathook.Account{}, errScaffold
}

func (s *Store) ReplyUncertain(ctx context.Context, owner, id, reason string, at time.Time) error {
	return errScaffold
}

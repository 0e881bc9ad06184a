package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

var errTODO = errors.New("replies: being written")

func (s *Store) QueueReply(ctx context.Context, r chathook.Reply, now time.Time) (chathook.Reply, error) {
	return r, errTODO
}
func (s *Store) Reply(ctx context.Context, workspaceID string, chatID int64, id string) (chathook.Reply, error) {
	return chathook.Reply{}, errTODO
}
func (s *Store) ClaimReplies(ctx context.Context, owner string, c store.ReplyClaim) ([]chathook.Outgoing, error) {
	return nil, errTODO
}
func (s *Store) ReplySent(ctx context.Context, owner, id, waID string, at time.Time) (bool, error) {
	return false, errTODO
}
func (s *Store) ReplyFailed(ctx context.Context, owner, id, reason string, retryAt, at time.Time) error {
	return errTODO
}

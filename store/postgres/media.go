package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook"
)

// TODO(issue 27): the downloads half of store.Media; replaced before landing.
var errMediaTODO = errors.New("not yet built")

func (s *Store) ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chathook.Download, error) {
	return nil, errMediaTODO
}

func (s *Store) FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error) {
	return false, errMediaTODO
}

func (s *Store) MediaFile(ctx context.Context, id int64) (chathook.Attachment, string, error) {
	return chathook.Attachment{}, "", errMediaTODO
}

func (s *Store) ExpireMedia(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return nil, errMediaTODO
}

package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/web"
)

// openSetup makes a one-time setup code when the database has no
// workspace, and prints the link that uses it on cfg.Console, for the
// person who started chathook: the web UI then creates the first
// workspace and its owner. The code is never logged.
//
// Each start on a database still without a workspace makes a new code,
// and the codes of earlier starts stay valid until a workspace exists:
// instances behind a load balancer start together, each printing its
// own link, and a newcomer must be able to use whichever they saw. Only
// hashes are stored, so an old link cannot be printed again; the first
// setup (or workspace create) deletes every code.
func (s *Service) openSetup(ctx context.Context) error {
	code, hash := web.NewSetupCode()
	err := s.store.AddSetupCode(ctx, hash, s.cfg.Now())
	if errors.Is(err, chathook.ErrConflict) {
		return nil // a workspace exists: setup is closed
	}
	if err != nil {
		return fmt.Errorf("first-run setup: %w", err)
	}
	link := strings.TrimSuffix(s.cfg.BaseURL, "/") + "/setup?code=" + url.QueryEscape(code)
	if s.cfg.Console == nil {
		s.cfg.Logger.Info("no workspace yet: create one with chathook workspace create")
		return nil
	}
	fmt.Fprintf(s.cfg.Console, "Open %s to create the first workspace\n", link)
	s.cfg.Logger.Info("no workspace yet: the setup link is printed above, not logged")
	return nil
}

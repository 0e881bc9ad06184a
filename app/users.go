package app

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/web"
)

// normalEmail lowercases an email and checks that it is one address.
func normalEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return "", fmt.Errorf("%q is not an email address", email)
	}
	return email, nil
}

// CheckNewUser says what is wrong with a user about to be added, before
// anything is written: a bad email or password, or an email in use.
func CheckNewUser(ctx context.Context, st store.Store, email, password string) error {
	email, err := normalEmail(email)
	if err != nil {
		return err
	}
	if err := web.CheckNewPassword(password); err != nil {
		return err
	}
	if _, _, err := st.UserByEmail(ctx, email); err == nil {
		return fmt.Errorf("%s can already sign in; change the password with chathook user password", email)
	} else if !errors.Is(err, chathook.ErrNotFound) {
		return err
	}
	return nil
}

// AddUser lets a person sign in to a workspace's web UI: its owner, or a
// teammate. Every user of a workspace sees all of it.
func AddUser(ctx context.Context, st store.Store, workspaceID, email, name, password string) (chathook.User, error) {
	email, err := normalEmail(email)
	if err != nil {
		return chathook.User{}, fmt.Errorf("--email: %w", err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return chathook.User{}, fmt.Errorf("--password: %w", err)
	}
	u, err := st.CreateUser(ctx, chathook.User{
		WorkspaceID: workspaceID, Email: email, Name: strings.TrimSpace(name), CreatedAt: time.Now().UTC(),
	}, hash)
	switch {
	case errors.Is(err, chathook.ErrConflict):
		return u, fmt.Errorf("%s can already sign in; change the password with chathook user password", email)
	case errors.Is(err, chathook.ErrNotFound):
		return u, fmt.Errorf("--workspace: no workspace %q", workspaceID)
	}
	return u, err
}

// SetPassword gives a user a new password and signs them out everywhere.
func SetPassword(ctx context.Context, st store.Store, email, password string) error {
	email, err := normalEmail(email)
	if err != nil {
		return fmt.Errorf("--email: %w", err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("--password: %w", err)
	}
	u, _, err := st.UserByEmail(ctx, email)
	if errors.Is(err, chathook.ErrNotFound) {
		return fmt.Errorf("--email: nobody signs in as %s; add them with chathook user add", email)
	}
	if err != nil {
		return err
	}
	return st.SetPassword(ctx, u.ID, hash)
}

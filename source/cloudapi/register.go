// Package cloudapi is the WhatsApp Business Platform (Cloud API) source:
// a workspace registers its numbers, and Meta POSTs their messages to
// /sources/cloud-api/{workspace_id}, signed with the app secret of the
// Meta app they belong to.
package cloudapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/store"
)

// Registration is a Cloud API number as a teammate registers it, in the
// words of POST /api/v1/accounts/cloud-api.
type Registration struct {
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	FullName           string `json:"full_name"`
	Email              string `json:"email"`
	AppSecret          string `json:"app_secret"`
	// VerifyToken is what the Meta app's verification handshake must
	// send; empty: NewVerifyToken chooses one.
	VerifyToken string `json:"verify_token"`
	// AccessToken is the Graph API token that sends the number's replies;
	// optional: without one the number receives but cannot send. Write-only
	// like the app secret.
	AccessToken string `json:"access_token"`
}

// Limits of a registration's fields.
const (
	maxPhoneNumberID = 32
	maxToken         = 256
	minAppSecret     = 8
	// Meta's access tokens are about 200 to 300 characters today; the
	// limit leaves room for longer ones without taking anything.
	maxAccessToken = 4096
)

// Account validates r and returns the account to register, its display
// phone number spelled as chathook spells phones ("+15550783881", from
// what a person types: ingest.ParsePhone). Every field is checked: the
// error joins one *ingest.FieldError a refused field (errors.Join, in the
// order of the fields), so that a form can show them all at once, and
// errors.As finds the first.
func (r Registration) Account() (chathook.Account, error) {
	var errs []error
	if r.PhoneNumberID == "" {
		errs = append(errs, fieldErr("phone_number_id", "required: the number's Phone number ID in the Meta app (WhatsApp → API Setup)"))
	} else if len(r.PhoneNumberID) > maxPhoneNumberID || strings.Trim(r.PhoneNumberID, "0123456789") != "" {
		errs = append(errs, fieldErr("phone_number_id", fmt.Sprintf("%q is not a phone number id: Meta's are digits only, as shown under the number on the API Setup page", r.PhoneNumberID)))
	}
	phone, err := ingest.ParsePhone("display_phone_number", international(r.DisplayPhoneNumber))
	if err != nil {
		errs = append(errs, err)
	}
	if err := ingest.CheckName("full_name", r.FullName); err != nil {
		errs = append(errs, err)
	}
	if err := ingest.CheckEmail("email", r.Email); err != nil {
		errs = append(errs, err)
	}
	switch {
	case r.AppSecret == "":
		errs = append(errs, fieldErr("app_secret", "required: the Meta app's App secret (App settings → Basic)"))
	case len(r.AppSecret) < minAppSecret || len(r.AppSecret) > maxToken || !visibleASCII(r.AppSecret):
		errs = append(errs, fieldErr("app_secret", fmt.Sprintf("must be %d to %d characters, letters, digits and punctuation, no spaces", minAppSecret, maxToken)))
	}
	token := r.VerifyToken
	if token == "" {
		token = NewVerifyToken()
	} else if len(token) > maxToken || !visibleASCII(token) {
		errs = append(errs, fieldErr("verify_token", fmt.Sprintf("must be 1 to %d characters, letters, digits and punctuation, no spaces", maxToken)))
	}
	if r.AccessToken != "" {
		if err := CheckAccessToken(r.AccessToken); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return chathook.Account{}, errors.Join(errs...)
	}
	return chathook.Account{
		Phone: phone, PhoneNumberID: r.PhoneNumberID, FullName: r.FullName, Email: r.Email,
		Kind: chathook.KindCloudAPI, VerifyToken: token,
	}, nil
}

// Phone spells a display phone number as chathook spells phones: Meta's
// "15550783881" and a person's "+1 (555) 078-3881" are both
// "+15550783881". What is not a number is returned as it was, to be
// refused with it.
func Phone(display string) string {
	digits := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(display))
	if digits == "" {
		return display
	}
	return "+" + strings.TrimPrefix(digits, "+")
}

// Register validates r and registers the number in the workspace, in
// state connecting until Meta calls. A taken phone or phone number id is
// a *chathook.ConflictError.
func Register(ctx context.Context, st store.Store, workspaceID string, r Registration, now time.Time) (chathook.Account, error) {
	a, err := r.Account()
	if err != nil {
		return a, err
	}
	return st.AddCloudAPINumber(ctx, workspaceID, a, r.AppSecret, r.AccessToken, now)
}

// CheckAccessToken reports whether token may be a Graph API access token:
// 1 to 4096 visible ASCII characters. The error is an *ingest.FieldError
// naming access_token, and never quotes the token.
func CheckAccessToken(token string) error {
	switch {
	case token == "":
		return fieldErr("access_token", "required: a System User access token from Meta Business Settings, with the whatsapp_business_messaging permission")
	case len(token) > maxAccessToken || !visibleASCII(token):
		return fieldErr("access_token", fmt.Sprintf("must be 1 to %d characters, letters, digits and punctuation, no spaces", maxAccessToken))
	}
	return nil
}

// SetAccessToken checks token and sets it as the access token of the
// Cloud API number id of the workspace, replacing any. chathook.ErrNotFound
// if id is not a Cloud API number of the workspace, or was removed.
func SetAccessToken(ctx context.Context, st store.Store, workspaceID string, id int64, token string) (chathook.Account, error) {
	if err := CheckAccessToken(token); err != nil {
		return chathook.Account{}, err
	}
	return st.SetAccessToken(ctx, workspaceID, id, token)
}

// Remove removes a Cloud API number of the workspace: it is listed as
// disconnected, and its app secret and verify token are gone, so Meta's
// calls for it are refused from then on. chathook.ErrNotFound if id is
// not a Cloud API number of the workspace.
func Remove(ctx context.Context, st store.Store, workspaceID string, id int64, now time.Time) error {
	a, err := st.Account(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	if a.Kind != chathook.KindCloudAPI {
		return fmt.Errorf("account %d is not a Cloud API number: %w", id, chathook.ErrNotFound)
	}
	_, err = st.SetAccountState(ctx, id, chathook.AccountDisconnected, now)
	return err
}

// NewVerifyToken returns a random verify token: 24 random bytes, 32
// characters that survive a copy and paste.
func NewVerifyToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CallbackURL is the URL to paste into the Meta app's WhatsApp →
// Configuration → Callback URL for the workspace's numbers.
func CallbackURL(baseURL, workspaceID string) string {
	return strings.TrimSuffix(baseURL, "/") + "/sources/cloud-api/" + workspaceID
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

func fieldErr(field, problem string) error {
	return &ingest.FieldError{Field: field, Problem: problem}
}

// international reads a display phone number without "+" as Meta writes
// it in its payloads' metadata ("15550783881"): always in international
// form, so its digits start with the country code. A number with "+" or
// "00" is left as typed.
func international(display string) string {
	v := strings.TrimSpace(display)
	if v == "" || strings.HasPrefix(v, "+") || strings.HasPrefix(v, "00") || v[0] < '1' || v[0] > '9' {
		return display
	}
	return "+" + v
}

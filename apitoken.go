package chathook

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// APIToken is one of a workspace's named API tokens. The token itself is
// shown once, when it is created; only its SHA-256 is stored, so neither
// the database nor any page or command can show it again.
type APIToken struct {
	ID          int64
	WorkspaceID string
	Name        string
	CreatedAt   time.Time
	// LastUsedAt is when a request last authenticated with the token, to
	// the minute (see store.TokenUseEvery); zero: never.
	LastUsedAt time.Time
}

// MaxTokenName is the longest name a token may have, in characters.
const MaxTokenName = 100

// TokenName returns name without surrounding white space, or says what is
// wrong with it: a token needs a name (what uses it: "CI", "Zapier"), of
// at most MaxTokenName characters, without control characters.
func TokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case !utf8.ValidString(name):
		return "", errors.New("a token's name must be UTF-8 text")
	case name == "":
		return "", errors.New("a token needs a name, e.g. what will use it")
	case utf8.RuneCountInString(name) > MaxTokenName:
		return "", fmt.Errorf("a token's name is at most %d characters", MaxTokenName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", errors.New("a token's name cannot hold control characters")
	}
	return name, nil
}

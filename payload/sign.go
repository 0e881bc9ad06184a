package payload

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret, as Standard Webhooks names it.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: whsec_ and 24 random bytes in
// base64, the size Svix and the Standard Webhooks libraries use.
func NewSecret() string {
	key := make([]byte, 24)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the HMAC key of a whsec_ secret.
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("must start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("must be " + SecretPrefix + " followed by base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("key must be 24 to 64 bytes")
	}
	return key, nil
}

// Signature returns the webhook-signature header value for a body:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body".
func Signature(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Signatures returns the webhook-signature header value for a body
// signed with each of keys, in that order, separated by spaces: the
// Standard Webhooks way of signing with several secrets at once, as
// during a rotation, where a receiver that knows any one of them accepts
// the POST.
func Signatures(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, key := range keys {
		sigs[i] = Signature(key, id, timestamp, body)
	}
	return strings.Join(sigs, " ")
}

// Verify reports whether header, a space-separated list of signatures as
// Standard Webhooks allows, holds a valid v1 signature of the body.
func Verify(key []byte, id string, timestamp int64, body []byte, header string) bool {
	want := Signature(key, id, timestamp, body)
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

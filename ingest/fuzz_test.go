package ingest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// FuzzMessage: whatever the body, Message answers a message or a
// *FieldError naming a field, never panics, and never lets through a
// string that is not valid UTF-8, a U+FFFD the client did not send, or a
// timestamp out of range. Its seed corpus, in testdata/fuzz/FuzzMessage,
// holds the spec's message, broken UTF-8 and surrogate escapes in several
// fields, out-of-range timestamps, and what the fuzzer found.
func FuzzMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := ingest.Message(body, now)
		if err != nil {
			checkError(t, err)
			return
		}
		checkIncoming(t, body, in)
	})
}

// FuzzBatch: the same for a batch, whose errors name the message; its
// corpus is FuzzMessage's and batches.
func FuzzBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		ins, err := ingest.Batch(body, now)
		if err != nil {
			checkError(t, err)
			if ins != nil {
				t.Errorf("a refused batch returned %d messages", len(ins))
			}
			return
		}
		if len(ins) == 0 || len(ins) > ingest.MaxBatch {
			t.Fatalf("%d messages accepted", len(ins))
		}
		for _, in := range ins {
			checkIncoming(t, body, in)
		}
		// Batch decodes a good batch in one pass: each message must come
		// out as it would alone.
		var w struct{ Messages []json.RawMessage }
		if err := json.Unmarshal(body, &w); err != nil || len(w.Messages) != len(ins) {
			t.Fatalf("accepted a batch of %d that decodes as %d (%v)", len(ins), len(w.Messages), err)
		}
		for i, raw := range w.Messages {
			alone, err := ingest.Message(raw, now)
			batched := ins[i]
			alone.UUID, batched.UUID = "", "" // new for every decode
			if err != nil || !reflect.DeepEqual(alone, batched) {
				t.Fatalf("messages[%d] in the batch is %+v, alone %+v (%v)", i, batched, alone, err)
			}
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var fe *ingest.FieldError
	if !errors.As(err, &fe) || fe.Field == "" || fe.Problem == "" {
		t.Fatalf("error %v (%T) is not a *FieldError naming a field", err, err)
	}
}

func checkIncoming(t *testing.T, body []byte, in chathook.Incoming) {
	t.Helper()
	// The client sent U+FFFD itself, raw or escaped, or it must not appear.
	sentFFFD := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
	strs := []string{in.Text, in.MessageID, string(in.Direction), in.SentByName,
		in.Account.Phone, in.Account.FullName, in.Account.Email, in.Chat.ExternalID, in.Chat.FullName, in.Chat.Phone}
	for _, p := range []*chathook.Person{in.Sender, in.Recipient} {
		if p != nil {
			strs = append(strs, p.FullName, p.Phone)
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Errorf("accepted invalid UTF-8 %q", s)
		}
		if !sentFFFD && strings.ContainsRune(s, utf8.RuneError) {
			t.Errorf("accepted %q: U+FFFD the client never sent", s)
		}
	}
	if strings.IndexByte(in.Text, 0) >= 0 {
		t.Errorf("accepted a NUL in text %q", in.Text)
	}
	if n := utf8.RuneCountInString(in.Text); n > ingest.MaxText {
		t.Errorf("accepted a text of %d characters", n)
	}
	if in.SkipReason == "" && strings.TrimSpace(in.Text) == "" {
		t.Errorf("accepted a message without text")
	}
	if in.Timestamp.Before(ingest.MinTimestamp) || in.Timestamp.After(now.Add(ingest.MaxFuture)) {
		t.Errorf("accepted timestamp %v", in.Timestamp)
	}
}

// Found by FuzzMessage: JSON allows the empty key, and an unknown one was
// refused naming no field at all. It is named "".
func TestEmptyKeyIsNamed(t *testing.T) {
	for _, c := range []errorCase{
		{"top level", []byte(`{"": ""}`), `""`, "unknown field"},
		{"nested", []byte(`{"sender": {"": 1}}`), `sender.""`, "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.Message(c.body, now)
			checkFieldError(t, err, c)
		})
	}
	_, err := ingest.Batch([]byte(`{"messages": [{"": 1}]}`), now)
	checkFieldError(t, err, errorCase{field: `messages[0].""`, says: "unknown field"})
	_, err = ingest.Batch([]byte(`{"messages": [], "": 1}`), now)
	checkFieldError(t, err, errorCase{field: `""`, says: "unknown field"})
}

// Package ingest turns what a source posts into chathook.Incoming values:
// it decodes the JSON of SPEC section 6, validates every field, and names
// the field when something is wrong. It does no I/O.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// Limits of one message. MaxText is WhatsApp's own cap on a text message.
const (
	MaxText         = 65536 // characters
	MaxBatch        = 1000  // messages in one batch
	maxID           = 256   // message_id, chat.external_id: bytes
	MaxName         = 256   // names: characters
	maxEmail        = 254   // RFC 5321
	SkipAttachments = "a message with attachments is not sent in the seed format, which carries text and emoji only: endpoints in the event format get it"
)

// FieldError is a problem with one field of the input. Field is a path as
// a person would write it: "messages[3].chat.external_id".
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// prefixed returns err with its field path under prefix.
func prefixed(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.Field == "" || fe.Field == "body" {
			return &FieldError{Field: prefix, Problem: fe.Problem}
		}
		return &FieldError{Field: prefix + "." + fe.Field, Problem: fe.Problem}
	}
	return err
}

type wireAccount struct {
	Phone    string `json:"phone"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

type wireChat struct {
	ExternalID string `json:"external_id"`
	FullName   string `json:"full_name"`
	IsGroup    bool   `json:"is_group"`
	Phone      string `json:"phone"`
}

type wirePerson struct {
	FullName string `json:"full_name"`
	Phone    string `json:"phone"`
}

type wireSentBy struct {
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

type wireMessage struct {
	Account     *wireAccount      `json:"account"`
	Chat        *wireChat         `json:"chat"`
	MessageID   string            `json:"message_id"`
	Direction   string            `json:"direction"`
	Timestamp   string            `json:"timestamp"`
	Sender      *wirePerson       `json:"sender"`
	Recipient   *wirePerson       `json:"recipient"`
	SentBy      *wireSentBy       `json:"sent_by"`
	Text        string           `json:"text"`
	Attachments []wireAttachment `json:"attachments"`
	// fromSource: built by Check from a WhatsApp source's message, whose
	// files chathook downloads itself.
	fromSource bool
}

// Message decodes and validates one message. now stands in for a missing
// timestamp, and bounds a given one.
func Message(body []byte, now time.Time) (chathook.Incoming, error) {
	var w wireMessage
	if err := Decode(body, &w); err != nil {
		return chathook.Incoming{}, err
	}
	return w.validate(now)
}

// message is Message for a message of a batch, whose UTF-8 Batch has
// checked.
func message(body []byte, now time.Time) (chathook.Incoming, error) {
	var w wireMessage
	if err := decode(body, &w); err != nil {
		return chathook.Incoming{}, err
	}
	return w.validate(now)
}

// Batch decodes and validates {"messages": [...]}; an error names the
// message by its index, and no message of a bad batch is returned.
func Batch(body []byte, now time.Time) ([]chathook.Incoming, error) {
	// A good batch is decoded in one pass. A batch that fails it is decoded
	// again, message by message, for an error that names its message: the
	// same error either way, as the pass fails wherever that would.
	var all struct {
		Messages []wireMessage `json:"messages"`
	}
	if decode(body, &all) == nil && len(all.Messages) > 0 && len(all.Messages) <= MaxBatch && checkUTF8(body) == nil {
		out := make([]chathook.Incoming, len(all.Messages))
		for i := range all.Messages {
			in, err := all.Messages[i].validate(now)
			if err != nil {
				return nil, prefixed(fmt.Sprintf("messages[%d]", i), err)
			}
			out[i] = in
		}
		return out, nil
	}
	var w struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := Decode(body, &w); err != nil { // checks the UTF-8 of every message
		return nil, err
	}
	switch {
	case w.Messages == nil:
		return nil, fieldErr("messages", "required: a list of 1 to %d messages", MaxBatch)
	case len(w.Messages) == 0:
		return nil, fieldErr("messages", "empty: send 1 to %d messages", MaxBatch)
	case len(w.Messages) > MaxBatch:
		return nil, fieldErr("messages", "%d messages, more than the %d a batch may hold", len(w.Messages), MaxBatch)
	}
	out := make([]chathook.Incoming, len(w.Messages))
	for i, raw := range w.Messages {
		in, err := message(raw, now)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("messages[%d]", i), err)
		}
		out[i] = in
	}
	return out, nil
}

// Decode is the strict JSON of every API body: one value, no unknown
// fields (a typo such as "direcion" would otherwise be dropped without a
// word), nothing after it, and valid UTF-8 in every string (see
// checkUTF8). Its errors are *FieldError.
func Decode(body []byte, v any) error {
	if err := decode(body, v); err != nil {
		return err
	}
	return checkUTF8(body)
}

// strict is how decode reads JSON: json v2 (go-json-experiment), which
// refuses a key given twice and matches keys exactly, case included,
// where encoding/json lets the last of two keys win and takes "TEXT" for
// "text". It is also about three times as fast as encoding/json on a
// batch (BenchmarkBatch), so strictness costs nothing on the hot path.
// Invalid UTF-8 passes here only to be refused by checkUTF8, which names
// the field and the byte.
var strict = jsonv2.JoinOptions(jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true))

// decode is Decode without the UTF-8 check. A body that json v2 refuses
// is decoded again with encoding/json, whose errors the API has always
// answered (and the tests pin); only when encoding/json accepts it is
// v2's refusal, a key given twice or in the wrong case, reported itself.
// Any other difference between the two is left as encoding/json reads it.
func decode(body []byte, v any) error {
	err := jsonv2.Unmarshal(body, v, strict)
	if err == nil {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero() // what v2 filled before it stopped
	}
	if err := decodeV1(body, v); err != nil {
		return err
	}
	if fe := strictError(body, reflect.TypeOf(v), err); fe != nil {
		return fe
	}
	return nil
}

// decodeV1 is encoding/json's strict-as-it-goes decode: unknown fields
// refused, nothing after the value.
func decodeV1(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			key, _ = strconv.Unquote(key)
			return fieldErr(unknownFieldPath(body, reflect.TypeOf(v), key), "unknown field")
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErr("body", "invalid JSON: more data follows the first value")
	}
	return nil
}

// strictError is the *FieldError for json v2's err on a body that
// encoding/json accepts into t, or nil when err is neither a key given
// twice nor a key in the wrong case.
func strictError(body []byte, t reflect.Type, err error) *FieldError {
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn):
		return fieldErr(pointerPath(body, syn.JSONPointer), "given more than once: send each field once")
	case errors.Is(err, jsonv2.ErrUnknownName) && errors.As(err, &sem):
		problem := "unknown field: names are case-sensitive"
		if name := fieldNameAt(t, sem.JSONPointer); name != "" {
			problem += fmt.Sprintf(" (did you mean %q?)", name)
		}
		return fieldErr(pointerPath(body, sem.JSONPointer), "%s", problem)
	}
	return nil
}

// pointerPath spells a JSON pointer into body ("/messages/3/text") as a
// field path ("messages[3].text"): a token is an index where body has a
// list, a key where it has an object, wherever in body that is (inside
// attachments too, which no Go type describes). It streams body up to the
// place, skipping the values before it, so a refused 32 MiB batch costs
// no copy of itself.
func pointerPath(body []byte, p jsontext.Pointer) string {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var b strings.Builder
	for tok := range p.Tokens() {
		open, err := dec.ReadToken()
		if err != nil {
			return guessPath(p)
		}
		switch open.Kind() {
		case '{':
			for {
				name, err := dec.ReadToken()
				if err != nil || name.Kind() != '"' {
					return guessPath(p)
				}
				if name.String() == tok {
					break
				}
				if dec.SkipValue() != nil {
					return guessPath(p)
				}
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(keyName(tok))
		case '[':
			n, err := strconv.Atoi(tok)
			if err != nil {
				return guessPath(p)
			}
			for range n {
				if dec.SkipValue() != nil {
					return guessPath(p)
				}
			}
			b.WriteString("[" + tok + "]")
		default:
			return guessPath(p)
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// guessPath spells p without body, should pointerPath not find its place
// (it always should): a number is taken for an index.
func guessPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(keyName(tok))
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// fieldNameAt is the name of the field of t that the last token of p
// matches without regard to case, as encoding/json would have taken it,
// or "".
func fieldNameAt(t reflect.Type, p jsontext.Pointer) string {
	last := p.LastToken()
	for tok := range p.Parent().Tokens() {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == rawMessage:
			return ""
		case t.Kind() == reflect.Slice:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := jsonField(t, tok)
			if !ok {
				return ""
			}
			t = f.Type
		default:
			return ""
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	f, ok := jsonField(t, last)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		name = f.Name
	}
	return name
}

// unknownFieldPath finds where key is unknown in body as decoded into t:
// encoding/json names only the key, "name" where a person needs
// "sent_by.name". It falls back to key.
func unknownFieldPath(body []byte, t reflect.Type, key string) string {
	var doc any
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil {
		return keyName(key)
	}
	if path, ok := findUnknown(doc, t, key); ok {
		return strings.TrimPrefix(path, ".")
	}
	return keyName(key)
}

// keyName is key as a part of a field path: the empty key, which JSON
// allows, is written "" so that the path still names something.
func keyName(key string) string {
	if key == "" {
		return `""`
	}
	return key
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

// findUnknown returns the path, as ".a.b" or "[3].c", of the first key
// named key (keys in sorted order) that t has no field for.
func findUnknown(doc any, t reflect.Type, key string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := doc.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return "", false
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := jsonField(t, k)
			if !ok && k == key {
				return "." + keyName(k), true
			}
			if ok {
				if path, found := findUnknown(v[k], f.Type, key); found {
					return "." + keyName(k) + path, true
				}
			}
		}
	case []any:
		if t.Kind() != reflect.Slice || t == rawMessage {
			return "", false
		}
		for i, elem := range v {
			if path, found := findUnknown(elem, t.Elem(), key); found {
				return "[" + strconv.Itoa(i) + "]" + path, true
			}
		}
	}
	return "", false
}

// jsonField is the field of struct t that encoding/json fills from key,
// which it matches without regard to case.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && name != "-" && strings.EqualFold(name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonError says what encoding/json found, naming the field when it can.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return fieldErr("body", "empty: a JSON object is required")
	case errors.As(err, &syntax):
		return fieldErr("body", "invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fieldErr("body", "must be a JSON object, not %s", typ.Value)
		}
		return fieldErr(typ.Field, "must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("body", "invalid JSON: it ends too soon")
	}
	return fieldErr("body", "invalid JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a " + kind
}

func (w *wireMessage) validate(now time.Time) (chathook.Incoming, error) {
	in := chathook.Incoming{MessageID: w.MessageID, Text: w.Text, UUID: newUUID()}
	if w.Account == nil {
		return in, fieldErr("account", "required: the WhatsApp account's phone, full_name and email")
	}
	if err := phone("account.phone", w.Account.Phone, true); err != nil {
		return in, err
	}
	if err := CheckName("account.full_name", w.Account.FullName); err != nil {
		return in, err
	}
	if err := CheckEmail("account.email", w.Account.Email); err != nil {
		return in, err
	}
	in.Account = chathook.Account{Phone: w.Account.Phone, FullName: w.Account.FullName, Email: w.Account.Email}

	if w.Chat == nil {
		return in, fieldErr("chat", "required: at least the chat's external_id")
	}
	c := *w.Chat
	if c.ExternalID == "" && !c.IsGroup {
		c.ExternalID = c.Phone // a direct chat's id in WhatsApp is the contact's phone
	}
	if err := id("chat.external_id", c.ExternalID); err != nil {
		return in, err
	}
	if err := CheckName("chat.full_name", c.FullName); err != nil {
		return in, err
	}
	if c.IsGroup {
		c.Phone = "" // the wire format wants "" for a group
	} else {
		if c.Phone == "" && IsPhone(c.ExternalID) {
			c.Phone = c.ExternalID
		}
		if err := phone("chat.phone", c.Phone, false); err != nil {
			return in, err
		}
	}
	in.Chat = chathook.Chat{ExternalID: c.ExternalID, FullName: c.FullName, IsGroup: c.IsGroup, Phone: c.Phone}

	if err := id("message_id", w.MessageID); err != nil {
		return in, err
	}
	switch chathook.Direction(w.Direction) {
	case chathook.Sent, chathook.Received:
		in.Direction = chathook.Direction(w.Direction)
	case "":
		return in, fieldErr("direction", `required: "sent" or "received"`)
	default:
		return in, fieldErr("direction", `must be "sent" or "received", not %q`, w.Direction)
	}
	ts, err := timestamp(w.Timestamp, now)
	if err != nil {
		return in, err
	}
	in.Timestamp = ts

	for _, p := range []struct {
		field string
		src   *wirePerson
		dst   **chathook.Person
	}{{"sender", w.Sender, &in.Sender}, {"recipient", w.Recipient, &in.Recipient}} {
		if p.src == nil {
			continue
		}
		if err := CheckName(p.field+".full_name", p.src.FullName); err != nil {
			return in, err
		}
		if err := phone(p.field+".phone", p.src.Phone, false); err != nil {
			return in, err
		}
		*p.dst = &chathook.Person{FullName: p.src.FullName, Phone: p.src.Phone}
	}
	if w.SentBy != nil {
		if err := CheckName("sent_by.full_name", w.SentBy.FullName); err != nil {
			return in, err
		}
		if err := CheckEmail("sent_by.email", w.SentBy.Email); err != nil {
			return in, err
		}
		in.SentByName = w.SentBy.FullName
	}

	if err := checkLength("text", w.Text); err != nil {
		return in, err
	}
	if len(w.Attachments) > MaxAttachments {
		return in, fieldErr("attachments", "%d attachments, at most %d", len(w.Attachments), MaxAttachments)
	}
	for i := range w.Attachments {
		a, err := w.Attachments[i].attachment(i, w.fromSource)
		if err != nil {
			return in, err
		}
		in.Attachments = append(in.Attachments, a)
	}
	if len(w.Attachments) > 0 {
		in.SkipReason = SkipAttachments
	} else if IsBlank(w.Text) {
		return in, fieldErr("text", "required: a text message needs text")
	}
	return in, nil
}

// CheckText is the rule for a text message's text, field naming it in
// the error: not blank (see IsBlank), at most MaxText characters, no NUL.
func CheckText(field, v string) error {
	if err := checkLength(field, v); err != nil {
		return err
	}
	if IsBlank(v) {
		return fieldErr(field, "required: a text message needs text")
	}
	return nil
}

// IsBlank reports whether text shows nothing: every character is
// invisible (see invisible), as "", " \n", or a lone U+200B.
func IsBlank(text string) bool {
	return strings.IndexFunc(text, visible) < 0
}

// visible is false for what shows as nothing: white space, and Unicode's
// Default_Ignorable_Code_Point (format characters such as U+200B-U+200F,
// U+2060, U+FEFF, U+00AD and the bidi controls; variation selectors;
// fillers such as U+3164), which renderers draw as nothing. The
// Prepended_Concatenation_Marks (U+0600 and the like) are format
// characters that draw a sign, so they are visible.
func visible(r rune) bool {
	if r < utf8.RuneSelf {
		return r != ' ' && (r < '\t' || r > '\r') // the common case, ASCII
	}
	switch {
	case unicode.IsSpace(r), unicode.Is(unicode.Variation_Selector, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return false
	case unicode.Is(unicode.Cf, r):
		return unicode.Is(unicode.Prepended_Concatenation_Mark, r)
	}
	return true
}

// checkLength is what CheckText asks of any text, blank or not.
func checkLength(field, v string) error {
	if n := utf8.RuneCountInString(v); n > MaxText {
		return fieldErr(field, "too long: %d characters, more than the %d WhatsApp allows", n, MaxText)
	}
	return noNUL(field, v)
}

// MinTimestamp is the earliest timestamp accepted: WhatsApp began in
// 2009, so an earlier time is a client's bug (a zero time, a Unix time in
// the wrong unit), not a message.
var MinTimestamp = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxFuture is how far ahead of the service's clock a timestamp may be: a
// day leaves room for a phone whose clock is wrong by hours or in the
// wrong zone, not for a wrong year.
const MaxFuture = 24 * time.Hour

// timestamp parses RFC 3339 or the wire form, between MinTimestamp and
// MaxFuture after now; empty means now.
func timestamp(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			switch {
			case t.Before(MinTimestamp):
				return time.Time{}, fieldErr("timestamp", "%q is before 2009, when WhatsApp began", s)
			case t.After(now.Add(MaxFuture)):
				return time.Time{}, fieldErr("timestamp", "%q is more than a day in the future (it is %s now)", s, now.UTC().Format(time.RFC3339))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fieldErr("timestamp", `%q is not a time: use RFC 3339 ("2021-02-24T16:25:29Z") or "2021-02-24T16:25:29+0000"`, s)
}

func id(field, v string) error {
	switch {
	case v == "":
		return fieldErr(field, "required")
	case len(v) > maxID:
		return fieldErr(field, "too long: %d bytes, at most %d", len(v), maxID)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fieldErr(field, "must not contain control characters")
	}
	return nil
}

// CheckName is the rule for a name, field naming it in the error: at most
// MaxName characters, no NUL.
func CheckName(field, v string) error {
	if n := utf8.RuneCountInString(v); n > MaxName {
		return fieldErr(field, "too long: %d characters, at most %d", n, MaxName)
	}
	return noNUL(field, v)
}

// noNUL refuses U+0000 in text that is otherwise free: no WhatsApp text
// holds one, and PostgreSQL cannot store it, so both stores refuse it
// alike, as bad input rather than a failed write.
func noNUL(field, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return fieldErr(field, "must not contain the NUL character (\\u0000)")
	}
	return nil
}

// CheckEmail is the rule for an email, field naming it in the error: ""
// or an address of at most 254 bytes with one "@" and no spaces.
func CheckEmail(field, v string) error {
	if len(v) > maxEmail {
		return fieldErr(field, "too long: %d bytes, at most %d", len(v), maxEmail)
	}
	if err := noNUL(field, v); err != nil {
		return err
	}
	if v != "" && (strings.Count(v, "@") != 1 || strings.HasPrefix(v, "@") || strings.HasSuffix(v, "@") || strings.ContainsAny(v, " <>\t\r\n")) {
		return fieldErr(field, "%q is not an email address", v)
	}
	return nil
}

// phone accepts an international number: an optional "+" and 5 to 20
// digits, no spaces, so that one number is always spelled one way.
func phone(field, v string, required bool) error {
	if v == "" {
		if required {
			return fieldErr(field, `required: the number in international form, e.g. "+972500000000"`)
		}
		return nil
	}
	if !IsPhone(v) {
		return fieldErr(field, `%q is not a phone number: use "+" and 5 to 20 digits, e.g. "+972500000000"`, v)
	}
	return nil
}

// IsPhone reports whether v is a number as chathook spells one: an
// optional "+" and 5 to 20 digits.
func IsPhone(v string) bool {
	digits := strings.TrimPrefix(v, "+")
	if len(digits) < 5 || len(digits) > 20 {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// newUUID returns a version 7 UUID: random, yet ordered by time, which
// keeps the index on messages.uuid compact.
func newUUID() string {
	return uuid.Must(uuid.NewV7()).String()
}

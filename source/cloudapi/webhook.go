package cloudapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// MaxBody is the largest webhook body taken: Meta documents payloads of
// up to 3 MB (a notification batches at most 1000 updates), so 3 MiB takes
// every one of Meta's, and a tenth of what an API batch may be.
const MaxBody = 3 << 20

// Config is what the webhook needs from the rest of the service.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Queued is called after messages were queued for delivery, so the
	// dispatcher starts at once instead of at its next poll.
	Queued func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// webhook serves GET and POST /sources/cloud-api/{workspace_id}.
type webhook struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the handler of Meta's webhook, to be mounted at
// /sources/cloud-api/. It authenticates nothing by token: the verify
// token authenticates Meta's handshake, the app secret's signature each
// POST.
//
// A POST is answered 200 only once every message in it is committed, in
// one transaction with the others, and then its statuses and reactions
// (one transaction per number): a failure answers 500, and Meta sends
// the whole POST again. A message stored before is a duplicate, a fact
// recorded before a repeat, so a redelivery is never delivered twice. A
// message or status that breaks the rules is logged and left out, and
// the rest stored: Meta would send a refused body again for days, and
// the good messages in it would be lost with the bad one.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &webhook{cfg: cfg, mux: http.NewServeMux()}
	// With or without a trailing slash, as it may be pasted into Meta's app.
	h.mux.HandleFunc("/sources/cloud-api/{workspace_id}", h.route)
	h.mux.HandleFunc("/sources/cloud-api/{workspace_id}/{$}", h.route)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such path: the callback URL is /sources/cloud-api/<workspace id>")
	})
	return h
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *webhook) route(w http.ResponseWriter, r *http.Request) {
	var sig []byte
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		// The signature header is looked at before anything is read: a
		// POST that cannot be Meta's costs no more than its headers.
		var err error
		if sig, err = signature(r.Header.Get("X-Hub-Signature-256")); err != nil {
			h.cfg.Logger.Warn("cloud api POST refused: X-Hub-Signature-256 "+err.Error(), "workspace", workspaceOf(r))
			writeError(w, http.StatusUnauthorized, "X-Hub-Signature-256", err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not allowed here; use GET or POST")
		return
	}
	numbers, ok := h.numbers(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		h.verify(w, r, numbers)
	} else {
		h.receive(w, r, sig, numbers)
	}
}

// workspaceOf is the workspace id of the path.
func workspaceOf(r *http.Request) string { return r.PathValue("workspace_id") }

// numbers reads the Cloud API numbers of the path's workspace, or
// answers 404 for an unknown workspace. The workspace itself is read only
// when it has no numbers: a call for a workspace with numbers, every call
// of Meta's but a misconfigured one, is one query.
func (h *webhook) numbers(w http.ResponseWriter, r *http.Request) ([]chathook.CloudAPINumber, bool) {
	id := workspaceOf(r)
	// Workspace ids are UUIDs: what is not one is refused before any
	// query (a NUL or invalid UTF-8 would fail PostgreSQL's, a 500 for
	// what is a 404).
	if _, err := uuid.Parse(id); err != nil {
		writeError(w, http.StatusNotFound, "workspace_id", "no such workspace")
		return nil, false
	}
	numbers, err := h.cfg.Store.CloudAPINumbers(r.Context(), id)
	if err == nil && len(numbers) == 0 {
		_, err = h.cfg.Store.Workspace(r.Context(), id)
	}
	switch {
	case errors.Is(err, chathook.ErrNotFound):
		writeError(w, http.StatusNotFound, "workspace_id", "no such workspace")
		return nil, false
	case err != nil:
		h.internal(w, r, id, err)
		return nil, false
	}
	return numbers, true
}

// verify answers Meta's verification handshake ("Verify and save" in the
// Meta app): the challenge, as plain text, when the verify token is one
// of a number of the workspace. Those numbers, if Meta had not called
// yet, are connected from then on.
func (h *webhook) verify(w http.ResponseWriter, r *http.Request, numbers []chathook.CloudAPINumber) {
	q, ws := r.URL.Query(), workspaceOf(r)
	if mode := q.Get("hub.mode"); mode != "subscribe" {
		writeError(w, http.StatusForbidden, "hub.mode", `must be "subscribe"`)
		return
	}
	token := []byte(q.Get("hub.verify_token"))
	var matched []chathook.CloudAPINumber
	for _, n := range numbers {
		// Every token is compared, in constant time: how long the answer
		// takes tells nothing of how much of a token was right.
		if subtle.ConstantTimeCompare(token, []byte(n.VerifyToken)) == 1 && n.VerifyToken != "" {
			matched = append(matched, n)
		}
	}
	if len(matched) == 0 {
		h.cfg.Logger.Warn("cloud api verification refused: the verify token is not one of a number of the workspace",
			"workspace", ws, "numbers", len(numbers))
		writeError(w, http.StatusForbidden, "hub.verify_token", "not the verify token of a Cloud API number of this workspace")
		return
	}
	h.connect(r.Context(), ws, matched)
	h.cfg.Logger.Info("cloud api verification answered", "workspace", ws, "phone_number_ids", phoneNumberIDs(matched))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// receive stores the messages of a signed POST; see New.
func (h *webhook) receive(w http.ResponseWriter, r *http.Request, sig []byte, numbers []chathook.CloudAPINumber) {
	ws := workspaceOf(r)
	body, ok := readBody(w, r)
	if !ok {
		h.cfg.Logger.Warn("cloud api POST refused: the body could not be read whole", "workspace", ws, "content_length", r.ContentLength)
		return
	}
	// The body is checked against each app secret of the workspace once
	// (several numbers of one Meta app share its secret), before a byte
	// of it is parsed.
	good, matched := map[string]bool{}, false
	for _, n := range numbers {
		if _, done := good[n.AppSecret]; done || n.AppSecret == "" { // an empty key is anyone's
			continue
		}
		good[n.AppSecret] = hmac.Equal(sig, sign(n.AppSecret, body))
		matched = matched || good[n.AppSecret]
	}
	if !matched {
		h.cfg.Logger.Warn("cloud api POST refused: the signature is not by the app secret of any number of the workspace",
			"workspace", ws, "numbers", len(numbers))
		writeError(w, http.StatusUnauthorized, "X-Hub-Signature-256", "does not match the app secret of any Cloud API number of this workspace")
		return
	}

	n, err := parse(body)
	var b batch
	if err == nil {
		byID := make(map[string]chathook.CloudAPINumber, len(numbers))
		for _, n := range numbers {
			byID[n.PhoneNumberID] = n
		}
		b, err = read(n, byID, func(n chathook.CloudAPINumber) bool { return good[n.AppSecret] }, h.cfg.Now())
	}
	var other *otherAppError
	var fe *ingest.FieldError
	switch {
	case errors.As(err, &other):
		h.cfg.Logger.Warn("cloud api POST refused: "+err.Error(), "workspace", ws)
		writeError(w, http.StatusUnauthorized, "X-Hub-Signature-256", "not by the app secret of phone number id "+other.PhoneNumberID)
		return
	case errors.As(err, &fe):
		// Meta sends it again, and again: a signed body chathook cannot
		// read is a change of Meta's format to hear of, not data to drop.
		h.cfg.Logger.Warn("cloud api POST refused: not Meta's webhook JSON as chathook reads it", "workspace", ws, "err", err)
		writeError(w, http.StatusBadRequest, fe.Field, fe.Problem)
		return
	case err != nil:
		h.internal(w, r, ws, err)
		return
	}

	for _, fe := range b.leftOut {
		// The problem names the place and what is wrong with it, never
		// the message's text.
		h.cfg.Logger.Warn("cloud api message left out: it breaks the rules; the rest of the POST is stored",
			"workspace", ws, "path", fe.Field, "problem", fe.Problem)
	}
	var answer struct {
		Accepted  int `json:"accepted"`
		Duplicate int `json:"duplicate"`
		Skipped   int `json:"skipped"`
		LeftOut   int `json:"left_out,omitempty"`
	}
	answer.LeftOut = len(b.leftOut)
	queued := false
	if len(b.msgs) > 0 {
		results, err := h.cfg.Store.Ingest(r.Context(), ws, h.cfg.Now(), b.msgs)
		if err != nil {
			h.internal(w, r, ws, err)
			return
		}
		for _, res := range results {
			switch res.Status {
			case chathook.Accepted:
				answer.Accepted++
			case chathook.Duplicate:
				answer.Duplicate++
			case chathook.Skipped:
				answer.Skipped++
			}
		}
		queued = answer.Accepted > 0
	}
	// After the messages, so that a message and its status or reaction
	// in one POST are recorded in that order. A failure answers 500: Meta
	// sends the POST again, and what was recorded is then a repeat.
	facts := map[chathook.FactResult]int{}
	for _, af := range b.facts {
		results, q, err := h.cfg.Store.RecordFacts(r.Context(), af.accountID, h.cfg.Now(), af.facts)
		if err != nil {
			if queued {
				h.cfg.Queued()
			}
			h.internal(w, r, ws, err)
			return
		}
		queued = queued || q
		for _, res := range results {
			facts[res]++
		}
	}
	if queued {
		h.cfg.Queued()
	}
	h.connect(r.Context(), ws, b.named)
	for _, id := range b.unknown {
		h.cfg.Logger.Warn("cloud api change skipped: its phone number id is not a number of the workspace (never registered, or removed)",
			"workspace", ws, "phone_number_id", id)
	}
	h.cfg.Logger.Info("cloud api POST answered", "workspace", ws, "accepted", answer.Accepted, "duplicate", answer.Duplicate,
		"skipped", answer.Skipped, "left_out", answer.LeftOut, "statuses", b.statuses, "facts_applied", facts[chathook.FactApplied],
		"facts_repeat", facts[chathook.FactRepeat], "facts_no_chat", facts[chathook.FactNoChat], "errors", b.errors,
		"unknown_phone_number_ids", b.unknown, "ignored", ignored(b.ignored))
	writeJSON(w, http.StatusOK, answer)
}

// connect marks the numbers Meta has reached chathook for connected, if
// they were still waiting for Meta. It only logs a failure: what Meta
// sent is answered and stored; the state is for the accounts page, and
// Meta's next call sets it again.
func (h *webhook) connect(ctx context.Context, ws string, numbers []chathook.CloudAPINumber) {
	for _, n := range numbers {
		if n.State != chathook.AccountConnecting {
			continue
		}
		// The store refuses to connect a number removed since the
		// request read it.
		_, err := h.cfg.Store.SetAccountState(ctx, n.ID, chathook.AccountConnected, h.cfg.Now())
		if errors.Is(err, chathook.ErrNotFound) {
			continue
		}
		if err != nil {
			h.cfg.Logger.Error("cloud api number not marked connected", "workspace", ws, "account_id", n.ID, "err", err)
		}
	}
}

// signature decodes an X-Hub-Signature-256 header: "sha256=" and the hex
// of an HMAC-SHA256.
func signature(header string) ([]byte, error) {
	if header == "" {
		return nil, errors.New("missing: Meta signs every POST with the app secret")
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	sum, err := hex.DecodeString(hexSum)
	if !ok || err != nil || len(sum) != sha256.Size {
		return nil, errors.New(`malformed: want "sha256=" and 64 hex digits`)
	}
	return sum, nil
}

// sign is Meta's signature of body: HMAC-SHA256 keyed by the app secret.
func sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// readBody reads a body of at most MaxBody bytes, never more: a larger
// one is answered 413, when its Content-Length says so without a byte of
// it read. A body read past the memory budget for bodies is answered 503,
// one that trickles 408 (see api.Server.Bodies). A read error's text is never echoed: it names the server's
// and the client's socket addresses.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > MaxBody {
		w.Header().Set("Connection", "close") // not worth reading to keep the connection
		writeError(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("larger than the limit of %d MiB", MaxBody>>20))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return body, true
	case errors.Is(err, chathook.ErrBodyBudget):
		// Meta sends it again later: nothing of it was stored.
		w.Header().Set("Retry-After", "2")
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusServiceUnavailable, "body", "too many large requests at once: retry after 2 seconds")
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("larger than the limit of %d MiB", MaxBody>>20))
	case errors.As(err, &netErr) && netErr.Timeout():
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "body", "did not arrive in time")
	default:
		writeError(w, http.StatusBadRequest, "body", "could not be read whole")
	}
	return nil, false
}

// internal logs an unexpected error and answers 500 without details:
// Meta retries.
func (h *webhook) internal(w http.ResponseWriter, r *http.Request, ws string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	h.cfg.Logger.Error("cloud api request failed", "method", r.Method, "workspace", ws, "err", err)
	writeError(w, http.StatusInternalServerError, "", "internal error; it has been logged")
}

func phoneNumberIDs(numbers []chathook.CloudAPINumber) []string {
	ids := make([]string, len(numbers))
	for i, n := range numbers {
		ids[i] = n.PhoneNumberID
	}
	return ids
}

// ignored spells counts for a log line: "field account_update: 1, type
// reaction: 2".
func ignored(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers {"error": "field: problem", "field": "field"}, as
// the API does; field "" leaves the field out.
func writeError(w http.ResponseWriter, status int, field, problem string) {
	body := struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{Error: problem, Field: field}
	if field != "" {
		body.Error = field + ": " + problem
	}
	writeJSON(w, status, body)
}

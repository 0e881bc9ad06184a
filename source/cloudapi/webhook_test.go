package cloudapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/source/cloudapi"
)

var (
	one    = person{FullName: "Shop One", Email: "ops@acme.example", Phone: "+15550783881"}
	two    = person{FullName: "Shop Two", Email: "ops@acme.example", Phone: "+15550783882"}
	sheena = person{FullName: "Sheena Nelson", Phone: "+16505551234"}
	omar   = person{FullName: "Omar Haddad", Phone: "+447700900123"}
)

// delivered is the payload SPEC 4.1 makes of a message of account acc
// in its chat with contact.
func delivered(acc, contact person, dir chathook.Direction, unix int64, id, text string) wire {
	var w wire
	w.Account = acc
	w.Chat.FullName, w.Chat.Phone = contact.FullName, contact.Phone
	w.Message.Direction, w.Message.Timestamp, w.Message.ID, w.Message.Text = string(dir), payload.Time(time.Unix(unix, 0)), id, text
	self := person{FullName: acc.FullName, Phone: acc.Phone}
	w.Message.Sender, w.Message.Recipient = contact, self
	if dir == chathook.Sent {
		w.Message.Sender, w.Message.Recipient = self, contact
	}
	return w
}

// TestMessagesReachTheWebhook drives each fixture through the real
// endpoint: texts (one, several in one POST, of two numbers in one POST),
// a tapped button and an echo from the Business app reach the webhook,
// signed, with SPEC 4.1's fields mapped from Meta's; an image and a
// sticker are kept as skipped; a reaction and a status update are facts,
// not messages, and the seed-format webhook gets neither. The numbers
// Meta called for are connected.
func TestMessagesReachTheWebhook(t *testing.T) { onEveryStore(t, testMessagesReachTheWebhook) }

func testMessagesReachTheWebhook(t *testing.T, db string) {
	e := start(t, db)
	for _, step := range []struct {
		fixture string
		answer  string
	}{
		{"text.json", answer(1, 0, 0)},
		{"image.json", answer(0, 0, 1)},
		{"reaction.json", answer(0, 0, 0)},
		{"status.json", answer(0, 0, 0)},
		{"echo.json", answer(1, 0, 0)},
		{"several.json", answer(3, 0, 1)},
		{"two-numbers.json", answer(2, 0, 0)},
	} {
		if status, body := e.post(t, fixture(t, step.fixture), appOne); status != http.StatusOK || body != step.answer {
			t.Errorf("%s: %d %s, want 200 %s", step.fixture, status, body, step.answer)
		}
	}

	// The first message of a chat (of one number) says so.
	first := func(w wire) wire { w.Chat.IsNew = true; return w }
	want := map[string]wire{}
	for _, w := range []wire{
		first(delivered(one, sheena, chathook.Received, 1749416383, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUI3RkNFMDFBMkE3OEJGOUUyMAA=", "Does it come in another color? 🎨")),
		// The echo names no contact: the chat keeps the name Sheena's
		// own message gave it.
		delivered(one, sheena, chathook.Sent, 1749416460, "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1QjE3RDg0RjUxQ0Q5QjlEMkIA", "Yes: in blue and in green."),
		delivered(one, sheena, chathook.Received, 1749416500, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUUxMDAwMDAwMDAwMDAwMDAwMQA=", "I'll take the blue one."),
		first(delivered(one, omar, chathook.Received, 1749416501, "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FFMTAwMDAwMDAwMDAwMDAwMDIA", "Hello, is the shop open on Sunday?")),
		delivered(one, omar, chathook.Received, 1749416530, "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FFMTAwMDAwMDAwMDAwMDAwMDMA", "Book a visit"),
		delivered(one, sheena, chathook.Received, 1749416600, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUYyMDAwMDAwMDAwMDAwMDAwMQA=", "Thanks!"),
		first(delivered(two, omar, chathook.Received, 1749416601, "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FGMjAwMDAwMDAwMDAwMDAwMDIA", "Is my repair ready?")),
	} {
		want[w.Message.ID] = w
	}
	// What was not delivered is kept as the SPEC says: the image with its
	// caption and the sticker as skipped; the reaction not at all.
	kept := e.messages(t)
	if n := len(kept); n != 9 {
		t.Errorf("%d messages stored, want the 7 delivered, the image and the sticker", n)
	}
	image := kept["wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUMxNzQ1RDNCRjhFOTJGOEEwNQA="]
	if image.SkipReason != ingest.SkipAttachments || image.Text != "This one, but in blue" || image.Direction != chathook.Received {
		t.Errorf("the image is kept as %+v, want skipped with its caption", image)
	}
	if sticker := kept["wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUUxMDAwMDAwMDAwMDAwMDAwNAA="]; sticker.SkipReason != ingest.SkipAttachments {
		t.Errorf("the sticker is kept as %+v, want skipped", sticker)
	}
	if _, ok := kept["wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUQ4QjVGN0U3MkUyNjlBRkM1MQA="]; ok {
		t.Error("the reaction was stored")
	}
	for r, state := range map[*cloudapi.Registration]chathook.AccountState{
		&shopOne: chathook.AccountConnected, &shopTwo: chathook.AccountConnected, &otherShop: chathook.AccountConnecting,
	} {
		if got := e.state(t, *r); got != state {
			t.Errorf("%s is %s, want %s", r.FullName, got, state)
		}
	}
	received := e.sink.WaitFor(t, len(want), 10*time.Second)
	// The image and the sticker came before later messages of Sheena's
	// chat, whose deliveries go in order: had they been queued, they would
	// have been sent before those. Stopped, the service sends nothing more.
	e.svc.Stop(t)
	if n := e.sink.Attempts(); n != len(want) {
		t.Errorf("%d POSTs, want %d", n, len(want))
	}
	for _, r := range received {
		got := chathooktest.Verified(t, e.ws, r)
		if w, ok := want[got.Message.ID]; !ok || got != w {
			t.Errorf("delivered\n got %+v\nwant %+v", got, w)
		}
		delete(want, got.Message.ID)
	}

	// One line per POST says what it held, in words; never a message's text.
	log := e.log.String()
	for _, text := range []string{"Does it come in another color", "Yes: in blue", "Book a visit"} {
		if strings.Contains(log, text) {
			t.Errorf("the log holds a message's text %q", text)
		}
	}
	// The status and the reaction are facts of Shop One: counted.
	if !strings.Contains(log, "statuses=1") || strings.Contains(log, "type reaction") || !strings.Contains(log, "facts_applied=1") {
		t.Errorf("the log does not count the status and the reaction as facts:\n%s", log)
	}
}

// TestVerificationHandshake: Meta's GET is answered with its challenge,
// as plain text, only for a verify token of a number of the workspace;
// the number is then connected.
func TestVerificationHandshake(t *testing.T) { onEveryStore(t, testVerificationHandshake) }

func testVerificationHandshake(t *testing.T, db string) {
	e := start(t, db)
	elsewhere := e.svc.NewWorkspace(t, "globex")
	if _, err := cloudapi.Register(context.Background(), e.svc.Store, elsewhere.WorkspaceID, cloudapi.Registration{
		PhoneNumberID: "301000000000001", DisplayPhoneNumber: "+15550783899", FullName: "Globex", AppSecret: "globex-secret",
		VerifyToken: "verify-globex",
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := cloudapi.Remove(context.Background(), e.svc.Store, e.ws.WorkspaceID, e.accounts[otherShop.PhoneNumberID].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	bare := e.svc.NewWorkspace(t, "initech") // no Cloud API number at all
	get := func(ws, mode, token string) (*http.Response, string) {
		t.Helper()
		q := url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
		resp, err := http.Get(e.svc.URL + "/sources/cloud-api/" + ws + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	resp, body := get(e.ws.WorkspaceID, "subscribe", "verify-two")
	if resp.StatusCode != http.StatusOK || body != "1158201444" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the handshake: %d %q %v, want 200 and the challenge as plain text", resp.StatusCode, body, resp.Header)
	}
	if got := e.state(t, shopTwo); got != chathook.AccountConnected {
		t.Errorf("Shop Two is %s after the handshake, want connected", got)
	}
	if got := e.state(t, shopOne); got != chathook.AccountConnecting {
		t.Errorf("Shop One is %s, want connecting: Meta has not called for it", got)
	}

	for _, c := range []struct {
		name, ws, mode, token string
		status                int
		field                 string
	}{
		{"a wrong token", e.ws.WorkspaceID, "subscribe", "verify-wrong", http.StatusForbidden, "hub.verify_token"},
		{"no token", e.ws.WorkspaceID, "subscribe", "", http.StatusForbidden, "hub.verify_token"},
		{"another mode", e.ws.WorkspaceID, "unsubscribe", "verify-one", http.StatusForbidden, "hub.mode"},
		{"another workspace's token", e.ws.WorkspaceID, "subscribe", "verify-globex", http.StatusForbidden, "hub.verify_token"},
		{"a removed number's token", e.ws.WorkspaceID, "subscribe", "verify-other", http.StatusForbidden, "hub.verify_token"},
		{"a workspace without numbers", bare.WorkspaceID, "subscribe", "verify-one", http.StatusForbidden, "hub.verify_token"},
		{"an unknown workspace", "4b3c9f0e-0000-4000-8000-000000000000", "subscribe", "verify-one", http.StatusNotFound, "workspace_id"},
		{"not a workspace id", "..%00", "subscribe", "verify-one", http.StatusNotFound, "workspace_id"},
	} {
		resp, body := get(c.ws, c.mode, c.token)
		if resp.StatusCode != c.status || strings.Contains(body, "1158201444") {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
			continue
		}
		if f := errorField(t, body); f != c.field {
			t.Errorf("%s: the error names %q, want %q", c.name, f, c.field)
		}
	}
	if got := e.state(t, shopOne); got != chathook.AccountConnecting {
		t.Errorf("Shop One is %s after refused handshakes", got)
	}
	if status, body := send(t, http.MethodPut, e.url(), nil, ""); status != http.StatusMethodNotAllowed || errorField(t, body) != "" {
		t.Errorf("PUT: %d %s, want 405", status, body)
	}
}

// TestSignaturesAreChecked: a POST is stored only when signed by the app
// secret of every number it names; otherwise it is refused whole, 401,
// and nothing of it is stored or delivered. A removed number's secret
// signs nothing, and its messages are skipped.
func TestSignaturesAreChecked(t *testing.T) { onEveryStore(t, testSignaturesAreChecked) }

func testSignaturesAreChecked(t *testing.T, db string) {
	e := start(t, db)
	text := fixture(t, "text.json")
	// Shop One's and the other app's numbers in one body.
	mixed := bytes.ReplaceAll(fixture(t, "two-numbers.json"), []byte(shopTwo.PhoneNumberID), []byte(otherShop.PhoneNumberID))
	for _, c := range []struct {
		name string
		body []byte
		sig  string
	}{
		{"no signature", text, ""},
		{"another algorithm", text, "sha1=" + strings.Repeat("ab", 20)},
		{"not hex", text, "sha256=" + strings.Repeat("zz", 32)},
		{"too short", text, "sha256=abcd"},
		{"a wrong secret", text, metaSignature("not-the-app-secret", text)},
		{"the body changed after signing", bytes.Replace(text, []byte("another color"), []byte("another price"), 1), metaSignature(appOne, text)},
		{"another number's app secret", text, metaSignature(appTwo, text)},
		{"one of the numbers' app secret (the other's)", mixed, metaSignature(appTwo, mixed)},
		{"one of the numbers' app secret (the first's)", mixed, metaSignature(appOne, mixed)},
	} {
		status, body := send(t, http.MethodPost, e.url(), bytes.NewReader(c.body), c.sig)
		if status != http.StatusUnauthorized || errorField(t, body) != "X-Hub-Signature-256" {
			t.Errorf("%s: %d %s, want 401 naming X-Hub-Signature-256", c.name, status, body)
		}
	}
	if kept := e.messages(t); len(kept) != 0 {
		t.Fatalf("refused POSTs stored %d messages", len(kept))
	}

	// The other shop removed: its secret signs nothing any more, and its
	// messages in a body another app signed are skipped.
	if err := cloudapi.Remove(context.Background(), e.svc.Store, e.ws.WorkspaceID, e.accounts[otherShop.PhoneNumberID].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	ofOther := bytes.ReplaceAll(text, []byte(shopOne.PhoneNumberID), []byte(otherShop.PhoneNumberID))
	if status, body := e.post(t, ofOther, appTwo); status != http.StatusUnauthorized {
		t.Errorf("signed by a removed number's secret: %d %s, want 401", status, body)
	}
	if status, body := e.post(t, mixed, appOne); status != http.StatusOK || body != answer(1, 0, 0) {
		t.Errorf("Shop One's message with a removed number's: %d %s, want Shop One's stored", status, body)
	}
	if !strings.Contains(e.log.String(), "phone_number_id="+otherShop.PhoneNumberID) {
		t.Errorf("the skipped number is not logged:\n%s", e.log)
	}
	got := chathooktest.Verified(t, e.ws, e.sink.WaitFor(t, 1, 10*time.Second)[0])
	e.svc.Stop(t)
	if n := e.sink.Attempts(); n != 1 || got.Account.Phone != one.Phone {
		t.Errorf("%d POSTs, the first %+v; want Shop One's message only", n, got)
	}
}

// TestReplayIsADuplicate: Meta delivers again what it is not sure was
// received; the same message is answered duplicate, and the webhook gets
// it once.
func TestReplayIsADuplicate(t *testing.T) { onEveryStore(t, testReplayIsADuplicate) }

func testReplayIsADuplicate(t *testing.T, db string) {
	e := start(t, db)
	text := fixture(t, "text.json")
	if status, body := e.post(t, text, appOne); status != http.StatusOK || body != answer(1, 0, 0) {
		t.Fatalf("first: %d %s", status, body)
	}
	if status, body := e.post(t, text, appOne); status != http.StatusOK || body != answer(0, 1, 0) {
		t.Errorf("replay: %d %s, want 200 and a duplicate", status, body)
	}
	// Several messages, one of them the same again.
	if status, body := e.post(t, fixture(t, "several.json"), appOne); status != http.StatusOK || body != answer(3, 0, 1) {
		t.Fatalf("several: %d %s", status, body)
	}
	if status, body := e.post(t, fixture(t, "several.json"), appOne); status != http.StatusOK || body != answer(0, 4, 0) {
		t.Errorf("several again: %d %s, want 4 duplicates", status, body)
	}
	got := e.sink.WaitFor(t, 4, 10*time.Second)
	e.svc.Stop(t)
	ids := map[string]bool{}
	for _, r := range got {
		ids[chathooktest.Verified(t, e.ws, r).Message.ID] = true
	}
	if n := e.sink.Attempts(); n != 4 || len(ids) != 4 {
		t.Errorf("%d POSTs of %d messages, want 4 of 4", n, len(ids))
	}
}

// TestLargeBodies: Meta's payloads are up to 3 MB, and one that size is
// taken; a body of 5 MiB is refused 413, whether its length is declared
// or not, and nothing of it is stored.
func TestLargeBodies(t *testing.T) { onEveryStore(t, testLargeBodies) }

func testLargeBodies(t *testing.T, db string) {
	e := start(t, db)
	text := fixture(t, "text.json")
	// JSON allows white space after the value: the body is still Meta's.
	huge := append(bytes.Clone(text), bytes.Repeat([]byte(" "), 5<<20-len(text))...)
	sig := metaSignature(appOne, huge)
	if status, body := send(t, http.MethodPost, e.url(), bytes.NewReader(huge), sig); status != http.StatusRequestEntityTooLarge ||
		errorField(t, body) != "body" {
		t.Errorf("5 MiB: %d %s, want 413", status, body)
	}
	// Without a Content-Length (chunked), it is cut off at the limit.
	if status, body := send(t, http.MethodPost, e.url(), io.MultiReader(bytes.NewReader(huge)), sig); status != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB chunked: %d %s, want 413", status, body)
	}
	if kept := e.messages(t); len(kept) != 0 {
		t.Errorf("refused bodies stored %d messages", len(kept))
	}
	large := append(bytes.Clone(text), bytes.Repeat([]byte(" "), 3_000_000-len(text))...)
	if status, body := e.post(t, large, appOne); status != http.StatusOK || body != answer(1, 0, 0) {
		t.Errorf("3 MB: %d %s, want 200", status, body)
	}
}

// TestUnreadablePayloads: a signed body that is not Meta's JSON is
// refused 400 naming where, and nothing of the POST is stored; a number
// the workspace does not have is skipped, 200, so that Meta does not
// retry forever.
func TestUnreadablePayloads(t *testing.T) { onEveryStore(t, testUnreadablePayloads) }

func testUnreadablePayloads(t *testing.T, db string) {
	e := start(t, db)
	text := string(fixture(t, "text.json"))
	for _, c := range []struct {
		name, body, field string
	}{
		{"not JSON", `{"object": "whatsapp_business_account", "entry": [`, "body"},
		{"a list", `[]`, "body"},
		{"not WhatsApp's", `{"object": "page", "entry": []}`, "object"},
		{"no entry", `{"object": "whatsapp_business_account"}`, "entry"},
		{"entry not a list", `{"object": "whatsapp_business_account", "entry": {}}`, "entry"},
		{"no number", strings.Replace(text, `"phone_number_id": "106540352242922"`, `"phone_number_id": ""`, 1), "entry[0].changes[0].value.metadata.phone_number_id"},
		{"changes not a list", `{"object": "whatsapp_business_account", "entry": [{"changes": {}}]}`, "entry.changes"},
		{"messages not a list", `{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": 1}}]}]}`, "entry.changes.value.messages"},
	} {
		status, body := e.post(t, []byte(c.body), appOne)
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", c.name, status, body)
			continue
		}
		if f := errorField(t, body); f != c.field {
			t.Errorf("%s: the error names %q, want %q (%s)", c.name, f, c.field, body)
		}
	}
	unknown := strings.ReplaceAll(text, shopOne.PhoneNumberID, "999999999999999")
	if status, body := e.post(t, []byte(unknown), appOne); status != http.StatusOK || body != answer(0, 0, 0) {
		t.Errorf("an unknown number: %d %s, want 200 and nothing stored", status, body)
	}
	if kept := e.messages(t); len(kept) != 0 {
		t.Errorf("%d messages stored", len(kept))
	}
	if got := e.state(t, shopOne); got != chathook.AccountConnecting {
		t.Errorf("Shop One is %s after refused POSTs, want connecting", got)
	}
	if !strings.Contains(e.log.String(), "999999999999999") {
		t.Errorf("the unknown number is not logged:\n%s", e.log)
	}
	bare := e.svc.NewWorkspace(t, "initech") // a workspace, with no Cloud API number
	if status, body := send(t, http.MethodPost, e.svc.URL+"/sources/cloud-api/"+bare.WorkspaceID,
		strings.NewReader(text), metaSignature(appOne, []byte(text))); status != http.StatusUnauthorized {
		t.Errorf("a workspace without numbers: %d %s, want 401", status, body)
	}
	if status, body := send(t, http.MethodPost, e.svc.URL+"/sources/cloud-api/4b3c9f0e-0000-4000-8000-000000000000",
		strings.NewReader(text), metaSignature(appOne, []byte(text))); status != http.StatusNotFound {
		t.Errorf("an unknown workspace: %d %s, want 404", status, body)
	}
}

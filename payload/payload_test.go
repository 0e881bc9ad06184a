package payload_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
)

// specExample is the message of SPEC section 4.1 as domain values.
func specExample() (chathook.Account, chathook.Chat, chathook.Message) {
	acc := chathook.Account{FullName: "Amnon Haha", Email: "amnon@acme.com", Phone: "+972500000000"}
	chat := chathook.Chat{
		ID: 10010001, FullName: "John Doe", ResponsibleName: "Amnon", ResponsibleEmail: "amnon@acme.com",
		Phone: "+97254000000",
	}
	msg := chathook.Message{
		Direction: chathook.Sent,
		Timestamp: time.Date(2021, 2, 24, 6, 25, 29, 0, time.UTC),
		MessageID: "ddfskhsd76dsfs6dsd5skjsdhf",
		Sender:    chathook.Person{FullName: "Amnon Haha", Phone: "+972500000000"},
		Recipient: chathook.Person{FullName: "John Doe", Phone: "+97254000000"},
		Text:      "lorem ipsum",
		IsNewChat: true,
	}
	return acc, chat, msg
}

// The golden file is SPEC 4.1's example, compacted: the wire format is the
// spec's, byte for byte, key order included.
func TestSingleMatchesSpecExample(t *testing.T) {
	want, err := os.ReadFile("testdata/single_spec.golden")
	if err != nil {
		t.Fatal(err)
	}
	acc, chat, msg := specExample()
	got := payload.Single("https://chathook.example.com", acc, chat, msg)
	if !bytes.Equal(got, want) {
		t.Errorf("body differs from the spec example\n got: %s\nwant: %s", got, want)
	}
}

func TestSingleKeepsTextAsTyped(t *testing.T) {
	acc, chat, msg := specExample()
	msg.Text = "a < b && c > d 👋 \"quoted\"\nnext line"
	msg.Timestamp = time.Date(2021, 2, 24, 16, 25, 29, 0, time.FixedZone("IST", 2*3600))
	chat.ResponsibleName, chat.ResponsibleEmail = "", ""
	got := payload.Single("https://x.example", acc, chat, msg)

	if !bytes.Contains(got, []byte(`"text":"a < b && c > d 👋 \"quoted\"\nnext line"`)) {
		t.Errorf("text not sent as typed (HTML-escaped or mangled): %s", got)
	}
	if !bytes.Contains(got, []byte(`"timestamp":"2021-02-24T14:25:29+0000"`)) {
		t.Errorf("timestamp not converted to UTC in the wire form: %s", got)
	}
	if bytes.Contains(got, []byte("null")) {
		t.Errorf("empty values must be \"\", never null: %s", got)
	}
	var round struct {
		Chat map[string]any `json:"chat"`
	}
	if err := json.Unmarshal(got, &round); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if round.Chat["responsible_name"] != "" || round.Chat["chat_id"] != "10010001" {
		t.Errorf("chat = %v", round.Chat)
	}
}

// The Standard Webhooks reference vector: what every receiver library
// checks against.
func TestSignatureMatchesStandardWebhooksVector(t *testing.T) {
	key, err := payload.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	const id, ts = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := payload.Signature(key, id, ts, body); got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
	if !payload.Verify(key, id, ts, body, "v1,bm9wZQ== "+want) {
		t.Error("Verify rejects a header holding the right signature among others")
	}
	if payload.Verify(key, id, ts+1, body, want) {
		t.Error("Verify accepts a signature of another timestamp")
	}
}

// During a rotation a POST carries one signature per secret, new first,
// space-separated: a receiver that knows either secret accepts it, one that
// knows neither does not, and each signature still covers the body.
func TestSignaturesVerifyWithEitherSecret(t *testing.T) {
	old, err := payload.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := payload.ParseSecret(payload.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := payload.ParseSecret(payload.NewSecret())
	body := []byte(`{"test": 2432232314}`)
	const id, ts = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
	header := payload.Signatures([][]byte{fresh, old}, id, ts, body)
	if want := payload.Signature(fresh, id, ts, body) + " v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; header != want {
		t.Errorf("header = %q, want %q", header, want)
	}
	for name, key := range map[string][]byte{"old": old, "new": fresh} {
		if !payload.Verify(key, id, ts, body, header) {
			t.Errorf("a receiver with only the %s secret rejects %q", name, header)
		}
		if payload.Verify(key, id, ts, []byte(`{"test": 1}`), header) {
			t.Errorf("the %s secret verifies another body", name)
		}
	}
	if payload.Verify(stranger, id, ts, body, header) {
		t.Error("a third secret verifies the header")
	}
	if one := payload.Signatures([][]byte{old}, id, ts, body); one != payload.Signature(old, id, ts, body) {
		t.Errorf("one secret gives %q, want the single signature", one)
	}
}

func TestParseSecret(t *testing.T) {
	fresh := payload.NewSecret()
	if _, err := payload.ParseSecret(fresh); err != nil {
		t.Errorf("NewSecret made an unusable secret %q: %v", fresh, err)
	}
	if fresh == payload.NewSecret() {
		t.Error("NewSecret repeats itself")
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="} {
		if _, err := payload.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted it", bad)
		}
	}
}

func TestTimeLayout(t *testing.T) {
	got := payload.Time(time.Date(2021, 2, 24, 16, 25, 29, 999, time.UTC))
	if got != "2021-02-24T16:25:29+0000" || !strings.HasSuffix(got, "+0000") {
		t.Errorf("Time = %s", got)
	}
}

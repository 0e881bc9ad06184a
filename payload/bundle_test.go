package payload_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
)

var update = flag.Bool("update", false, "rewrite golden files that are not the spec's own")

// specBundle is the conversation of SPEC section 4.2's example.
func specBundle() (chathook.Account, chathook.Chat, chathook.Bundle) {
	acc, chat, _ := specExample()
	john := chathook.Person{FullName: "John Doe", Phone: "+97254000000"}
	jane := chathook.Person{FullName: "Jane Smith", Phone: "+972500000000"}
	b := chathook.Bundle{IsNewChat: true, Messages: []chathook.Message{{
		UUID: "77a28d55-5345-5435-8c72-3a7bcad8ded9", Direction: chathook.Received,
		Timestamp: time.Date(2021, 2, 24, 16, 25, 29, 0, time.UTC), MessageID: "3EB0C767D26A1D2D",
		Sender: john, Recipient: jane, Text: "Hi! How are you?",
	}, {
		UUID: "0b6e1d6c-3c0e-4d7e-9f3c-0c1e4f1d2a3b", Direction: chathook.Sent,
		Timestamp: time.Date(2021, 2, 24, 16, 30, 29, 0, time.UTC), MessageID: "3EB0C767D26A1D2E",
		Sender: jane, Recipient: john, Text: "I am fine, how are you?",
	}}}
	return acc, chat, b
}

// The aggregation of the spec's example, to the letter (with </a> where
// the source page has the typo </h>).
func TestBundleAggregationMatchesSpec(t *testing.T) {
	acc, chat, b := specBundle()
	var got struct {
		Aggregation           string `json:"aggregation"`
		FirstMessageTimestamp string `json:"first_message_timestamp"`
		LastMessageTimestamp  string `json:"last_message_timestamp"`
	}
	if err := json.Unmarshal(payload.Bundle("https://chathook.example.com", acc, chat, b), &got); err != nil {
		t.Fatal(err)
	}
	const want = "from John Doe on 2021-02-24 16:25: Hi! How are you?<br/>from Jane Smith on 2021-02-24 16:30: I am fine, how are you?<br/>Click <a href='https://chathook.example.com/permalink/77a28d55-5345-5435-8c72-3a7bcad8ded9/'>here</a> to open the conversation in chathook"
	if got.Aggregation != want {
		t.Errorf("aggregation\n got: %s\nwant: %s", got.Aggregation, want)
	}
	if got.FirstMessageTimestamp != "2021-02-24T16:25:29+0000" || got.LastMessageTimestamp != "2021-02-24T16:30:29+0000" {
		t.Errorf("first/last: %s %s", got.FirstMessageTimestamp, got.LastMessageTimestamp)
	}
}

// golden compares body with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("%s differs\n got: %s\nwant: %s", name, body, want)
	}
}

// The whole body, key order included: the account and chat objects of
// SPEC 4.1, then messages, first/last timestamps and aggregation.
func TestBundleGolden(t *testing.T) {
	acc, chat, b := specBundle()
	golden(t, "bundle_spec.golden", payload.Bundle("https://chathook.example.com", acc, chat, b))
}

// Text and names that try to inject markup arrive as inert text in the
// aggregation, and exactly as typed in messages[].text.
func TestBundleEscapesAggregation(t *testing.T) {
	acc, chat, b := specBundle()
	b.Messages = b.Messages[:1]
	b.Messages[0].Sender.FullName = `Eve <b>"the hacker"</b>`
	b.Messages[0].Text = "<script>alert(1)</script>\n'><img src=x onerror=alert(1)>\r\nbye & thanks"
	body := payload.Bundle("https://chathook.example.com", acc, chat, b)
	golden(t, "bundle_escaping.golden", body)
	var got struct {
		Messages []struct {
			Text string `json:"text"`
		} `json:"messages"`
		Aggregation string `json:"aggregation"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	const want = "from Eve &lt;b&gt;&#34;the hacker&#34;&lt;/b&gt; on 2021-02-24 16:25: &lt;script&gt;alert(1)&lt;/script&gt;<br/>&#39;&gt;&lt;img src=x onerror=alert(1)&gt;<br/>bye &amp; thanks<br/>Click"
	if !strings.HasPrefix(got.Aggregation, want) {
		t.Errorf("aggregation\n got: %s\nwant: %s…", got.Aggregation, want)
	}
	inert := strings.NewReplacer("<br/>", "", "<a href='", "", "'>here</a>", "").Replace(got.Aggregation)
	if strings.ContainsAny(inert, "<>") {
		t.Errorf("markup in the aggregation beyond <br/> and the link: %s", got.Aggregation)
	}
	if got.Messages[0].Text != b.Messages[0].Text {
		t.Errorf("messages[].text %q, want it as typed", got.Messages[0].Text)
	}
}

// BundleItemSize adds up to no less than the rendered body, so a part cut
// by it never exceeds the byte limit.
func TestBundleItemSizeBoundsTheBody(t *testing.T) {
	acc, chat, b := specBundle()
	for _, text := range []string{"", "plain", strings.Repeat("<&'\"\n\x01é👋", 5000)} {
		b.Messages[0].Text, b.Messages[1].Text = text, text+"x"
		total := 0
		for _, m := range b.Messages {
			total += payload.BundleItemSize(m)
		}
		body := payload.Bundle("https://chathook.example.com", acc, chat, b)
		if len(body) > total+8<<10 || len(body) < total {
			t.Errorf("text of %d bytes: body %d bytes, items add up to %d", len(text), len(body), total)
		}
	}
	if !payload.BundleFits(payload.MaxBundleMessages, 0) || payload.BundleFits(payload.MaxBundleMessages+1, 0) ||
		payload.BundleFits(1, payload.MaxBundleBytes) {
		t.Error("BundleFits does not hold the limits")
	}
}

// The overhead BundleFits allows covers a bundle whose account and chat
// fields are as long as ingest and the chat API let them be, in the
// characters JSON spells longest (a control character takes six bytes):
// a part that fits by BundleItemSize fits the byte limit.
func TestBundleOverheadCoversTheLongestFields(t *testing.T) {
	worst := strings.Repeat("\x01", 256) // 256 characters, the limit of a name
	acc := chathook.Account{FullName: worst, Email: strings.Repeat("\x01", 250) + "@a.b", Phone: "+" + strings.Repeat("9", 20)}
	chat := chathook.Chat{ID: 1<<63 - 1, FullName: worst, ResponsibleName: worst, ResponsibleEmail: worst, Phone: acc.Phone}
	base := "https://" + strings.Repeat("x", 200) + ".example.com" // a long --base-url
	_, _, b := specBundle()
	b.Messages[0].UUID = strings.Repeat("f", 36)
	total := 0
	for _, m := range b.Messages {
		total += payload.BundleItemSize(m)
	}
	body := payload.Bundle(base, acc, chat, b)
	overhead := len(body) - total
	// Items of one byte more than the limit leaves them must not fit.
	if payload.BundleFits(len(b.Messages), payload.MaxBundleBytes-overhead+1) {
		t.Errorf("the account, chat and link take %d bytes, more than BundleFits allows for", overhead)
	}
}

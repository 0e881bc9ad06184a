package payload_test

import (
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
)

const fuzzBase = "https://chathook.example.com"

// fuzzMessage builds a message of fuzzed text, sender name and time.
func fuzzMessage(text, sender string, unix int64) chathook.Message {
	return chathook.Message{
		UUID: "77a28d55-5345-5435-8c72-3a7bcad8ded9", Direction: chathook.Received,
		Timestamp: time.Unix(unix, 0), MessageID: "m-" + sender,
		Sender: chathook.Person{FullName: sender, Phone: "+97254000000"}, Recipient: chathook.Person{FullName: "Amnon"},
		Text: text,
	}
}

// FuzzSingle: the single-message body is always one JSON object, and a
// receiver reads back exactly the text and names that went in (when they
// are valid UTF-8, as ingest ensures). Seeds: testdata/fuzz/FuzzSingle.
func FuzzSingle(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, name, chatName string, unix int64) {
		acc := chathook.Account{FullName: name, Email: name + "@acme.com", Phone: "+972500000000"}
		c := chathook.Chat{ID: 10000001, FullName: chatName, ResponsibleName: name, Phone: "+97254000000"}
		body := payload.Single(fuzzBase, acc, c, fuzzMessage(text, name, unix))
		var got struct {
			WhatsAppAccount struct {
				FullName string `json:"full_name"`
			} `json:"whatsapp_account"`
			Chat struct {
				FullName string `json:"full_name"`
			} `json:"chat"`
			Message struct {
				Text      string `json:"text"`
				Timestamp string `json:"timestamp"`
			} `json:"message"`
		}
		if !json.Valid(body) {
			t.Fatalf("not JSON: %q", body)
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		for _, f := range []struct{ field, got, sent string }{
			{"message.text", got.Message.Text, text},
			{"whatsapp_account.full_name", got.WhatsAppAccount.FullName, name},
			{"chat.full_name", got.Chat.FullName, chatName},
		} {
			if utf8.ValidString(f.sent) && f.got != f.sent {
				t.Errorf("%s: sent %q, received %q", f.field, f.sent, f.got)
			}
		}
		if got.Message.Timestamp != payload.Time(time.Unix(unix, 0)) {
			t.Errorf("timestamp %q", got.Message.Timestamp)
		}
	})
}

// FuzzBundle: a bundle is always one JSON object whose messages' texts
// read back as sent, and whose aggregation holds no "<" but those of its
// own <br/> and link: every "<" of a name or text is escaped. Seeds:
// testdata/fuzz/FuzzBundle.
func FuzzBundle(f *testing.F) {
	f.Fuzz(func(t *testing.T, text1, text2, name string, unix int64) {
		acc := chathook.Account{FullName: name, Email: "amnon@acme.com", Phone: "+972500000000"}
		c := chathook.Chat{ID: 10000001, FullName: name, Phone: "+97254000000"}
		msgs := []chathook.Message{fuzzMessage(text1, name, unix), fuzzMessage(text2, name+"<", unix+60)}
		body := payload.Bundle(fuzzBase, acc, c, chathook.Bundle{Messages: msgs})
		var got struct {
			Messages []struct {
				Text   string `json:"text"`
				Sender struct {
					FullName string `json:"full_name"`
				} `json:"sender"`
			} `json:"messages"`
			Aggregation string `json:"aggregation"`
		}
		if err := json.Unmarshal(body, &got); err != nil || !json.Valid(body) {
			t.Fatalf("not JSON (%v): %q", err, body)
		}
		if len(got.Messages) != len(msgs) {
			t.Fatalf("%d messages, want %d", len(got.Messages), len(msgs))
		}
		for i, m := range msgs {
			if utf8.ValidString(m.Text) && got.Messages[i].Text != m.Text {
				t.Errorf("messages[%d].text: sent %q, received %q", i, m.Text, got.Messages[i].Text)
			}
			if utf8.ValidString(m.Sender.FullName) && got.Messages[i].Sender.FullName != m.Sender.FullName {
				t.Errorf("messages[%d].sender: sent %q, received %q", i, m.Sender.FullName, got.Messages[i].Sender.FullName)
			}
		}
		link := "Click <a href='" + html.EscapeString(payload.PermalinkURL(fuzzBase, msgs[0].UUID)) + "'>here</a> to open the conversation in chathook"
		agg, ok := strings.CutSuffix(got.Aggregation, link)
		if !ok {
			t.Fatalf("aggregation does not end with the link: %q", got.Aggregation)
		}
		if rest := strings.ReplaceAll(agg, "<br/>", ""); strings.Contains(rest, "<") {
			t.Errorf("aggregation holds an unescaped <: %q", got.Aggregation)
		}
		// A receiver that unescapes it reads the text back, line breaks as <br/>.
		if utf8.ValidString(text1) && utf8.ValidString(name) {
			lines := strings.NewReplacer("\r\n", "<br/>", "\n", "<br/>", "\r", "<br/>").Replace(text1)
			if !strings.Contains(html.UnescapeString(got.Aggregation), name+" on ") || !strings.Contains(html.UnescapeString(agg), ": "+lines+"<br/>") {
				t.Errorf("aggregation %q lost %q or %q", got.Aggregation, name, text1)
			}
		}
	})
}

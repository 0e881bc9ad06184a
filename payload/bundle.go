package payload

import (
	"html"
	"strconv"
	"strings"

	"github.com/chathook/chathook"
)

// Bundle limits: a bundle that would be larger is split into parts, each a
// valid bundle of its own. 1 MiB and 500 messages stay well inside what
// the receivers chathook feeds take in one request (Zapier, Make and n8n
// accept several MiB), while one chat's busy day still fits in a few calls.
const (
	MaxBundleMessages = 500
	MaxBundleBytes    = 1 << 20
	// bundleOverhead is a generous bound on everything in a bundle but its
	// messages: the account, the chat, the two timestamps and the link line.
	// Five free-text fields of 256 characters (account and chat names, the
	// responsible's name and email, the account's email) take up to 6
	// bytes a character in JSON ("\u0001"): about 7.7 KiB with the rest.
	bundleOverhead = 16 << 10
)

type bundle struct {
	WhatsAppAccount       account   `json:"whatsapp_account"`
	Chat                  chat      `json:"chat"`
	Messages              []message `json:"messages"`
	FirstMessageTimestamp string    `json:"first_message_timestamp"`
	LastMessageTimestamp  string    `json:"last_message_timestamp"`
	Aggregation           string    `json:"aggregation"`
}

// PermalinkURL is where one message opens in chathook's UI.
func PermalinkURL(baseURL, uuid string) string {
	return baseURL + "/permalink/" + uuid + "/"
}

// Bundle renders the body for one chat's messages of one window (SPEC
// 4.2). msgs must be in timestamp order and not empty.
func Bundle(baseURL string, acc chathook.Account, c chathook.Chat, b chathook.Bundle) []byte {
	msgs := b.Messages
	out := bundle{
		WhatsAppAccount:       wireAccount(acc),
		Chat:                  wireChat(baseURL, c, b.IsNewChat),
		Messages:              make([]message, len(msgs)),
		FirstMessageTimestamp: Time(msgs[0].Timestamp),
		LastMessageTimestamp:  Time(msgs[len(msgs)-1].Timestamp),
	}
	var agg strings.Builder
	for i, m := range msgs {
		out.Messages[i] = wireMessage(m)
		agg.WriteString(aggregationLine(m))
		agg.WriteString("<br/>")
	}
	agg.WriteString("Click <a href='")
	agg.WriteString(html.EscapeString(PermalinkURL(baseURL, msgs[0].UUID)))
	agg.WriteString("'>here</a> to open the conversation in chathook")
	out.Aggregation = agg.String()
	return encode(out)
}

// aggregationLine is one message of the HTML note: names and text are
// escaped, so a message can never inject markup into a CRM, and line
// breaks become <br/>.
func aggregationLine(m chathook.Message) string {
	return "from " + html.EscapeString(m.Sender.FullName) + " on " + m.Timestamp.UTC().Format("2006-01-02 15:04") + ": " +
		breakLines(html.EscapeString(m.Text))
}

var lineBreaks = strings.NewReplacer("\r\n", "<br/>", "\n", "<br/>", "\r", "<br/>")

func breakLines(s string) string { return lineBreaks.Replace(s) }

// BundleItemSize is how many bytes m adds to a bundle's body: its entry in
// messages and its line in aggregation, both as encoded JSON. The store
// cuts a bundle into parts with it before anything is rendered.
func BundleItemSize(m chathook.Message) int {
	entry := encode(wireMessage(m))
	line := encode(aggregationLine(m) + "<br/>")
	return len(entry) + len(",") + len(line) - len(`""`)
}

// BundleFits reports whether a bundle of n messages totalling size bytes
// (sums of BundleItemSize) is within the limits.
func BundleFits(n, size int) bool {
	return n <= MaxBundleMessages && size+bundleOverhead <= MaxBundleBytes
}

func wireAccount(acc chathook.Account) account {
	return account{FullName: acc.FullName, Email: acc.Email, Phone: acc.Phone}
}

func wireChat(baseURL string, c chathook.Chat, isNew bool) chat {
	return chat{
		FullName:         c.FullName,
		ResponsibleName:  c.ResponsibleName,
		ResponsibleEmail: c.ResponsibleEmail,
		ChatURL:          ChatURL(baseURL, c.ID),
		ChatID:           strconv.FormatInt(c.ID, 10),
		IsNewChat:        isNew,
		IsGroup:          c.IsGroup,
		Phone:            c.Phone,
	}
}

func wireMessage(m chathook.Message) message {
	return message{
		Direction: string(m.Direction),
		Timestamp: Time(m.Timestamp),
		MessageID: m.MessageID,
		Sender:    person(m.Sender),
		Recipient: person(m.Recipient),
		Text:      m.Text,
	}
}

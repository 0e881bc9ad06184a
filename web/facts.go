package web

import (
	"strconv"
	"strings"

	"github.com/chathook/chathook"
)

// What the chat page shows of what happened to a message after it was
// stored (issue 28): its status, its earlier texts, its reactions.
// Deletion is the template's: it shows "This message was deleted" and
// nothing of the message's content, as WhatsApp does.

// markView is a sent message's status mark: ✓, ✓✓, blue ✓✓, or a red mark.
type markView struct {
	Class string // the status: sent, delivered, read, played or failed
	Glyph string
	Label string // the status in words, for screen readers
	Title string // Label with when it happened (and why it failed)
}

// statusMark is the mark of m, nil for a received message or one that has
// no status yet.
func statusMark(m chathook.Message) *markView {
	if m.Direction != chathook.Sent {
		return nil
	}
	v := &markView{Class: string(m.Status)}
	switch m.Status {
	case chathook.StatusSent:
		v.Glyph, v.Label = "✓", "Sent"
	case chathook.StatusDelivered:
		v.Glyph, v.Label = "✓✓", "Delivered"
	case chathook.StatusRead:
		v.Glyph, v.Label = "✓✓", "Read"
	case chathook.StatusPlayed:
		v.Glyph, v.Label = "✓✓", "Played"
	case chathook.StatusFailed:
		v.Glyph, v.Label = "!", "Failed"
	default:
		return nil
	}
	v.Title = v.Label
	if !m.StatusAt.IsZero() {
		v.Title += " · " + formatDatetime(m.StatusAt)
	}
	// Why it failed is kept on replies only (ReplyError): a message
	// sent from the phone has the mark alone.
	if m.Status == chathook.StatusFailed && m.ReplyError != "" {
		v.Title += ": " + m.ReplyError
	}
	return v
}

// editView is one earlier text of an edited message.
type editView struct {
	Text string
	At   string // when it was replaced, for a person
	ISO  string
}

// editsOf lists m's earlier texts oldest first, and says them in one
// line each for the title attribute.
func editsOf(m chathook.Message) ([]editView, string) {
	if len(m.Edits) == 0 {
		return nil, ""
	}
	views := make([]editView, len(m.Edits))
	lines := []string{"Edited. Earlier texts, oldest first:"}
	for i, e := range m.Edits {
		views[i] = editView{Text: e.Text, At: formatDatetime(e.At), ISO: formatISO(e.At)}
		lines = append(lines, views[i].At+": "+e.Text)
	}
	return views, strings.Join(lines, "\n")
}

// reactionView is one emoji under a message: how many sent it, and who.
type reactionView struct {
	Emoji string
	Count int
	Who   string // the senders' names, in the order they reacted
	Label string // for screen readers: "👍 2: Ana, Bob"
}

// reactionsOf groups m's reactions by emoji, in the order each emoji was
// first given; a reaction taken back ("") is none.
func reactionsOf(m chathook.Message) []reactionView {
	var views []reactionView
	index := map[string]int{}
	names := map[string][]string{}
	for _, r := range m.Reactions {
		if r.Reaction == "" {
			continue
		}
		i, ok := index[r.Reaction]
		if !ok {
			i = len(views)
			index[r.Reaction] = i
			views = append(views, reactionView{Emoji: r.Reaction})
		}
		views[i].Count++
		names[r.Reaction] = append(names[r.Reaction], personName(r.Sender))
	}
	for i := range views {
		v := &views[i]
		v.Who = strings.Join(names[v.Emoji], ", ")
		v.Label = v.Emoji + " " + strconv.Itoa(v.Count) + ": " + v.Who
	}
	return views
}

// personName is how the page names a person: by name, else by number.
func personName(p chathook.Person) string {
	switch {
	case p.FullName != "":
		return p.FullName
	case p.Phone != "":
		return p.Phone
	}
	return "Someone"
}

package chathook

import (
	"cmp"
	"strings"
)

// Preview is a message in one line, as a list of chats shows it: its
// text, or for a message with attachments its first attachment's Label
// ("📷 Photo", "📄 invoice.pdf"), or with a caption that label's emoji
// then the caption ("📷 Lunch menu"), as WhatsApp's own chat list does.
// It is "" only for a message with neither text nor attachments.
func (m Message) Preview() string {
	if m.Deleted {
		return DeletedText // as the chat page shows it: never what was deleted
	}
	text := oneLine(m.Text)
	if len(m.Attachments) == 0 {
		return text
	}
	icon, name := m.Attachments[0].label()
	if text == "" {
		return icon + " " + name
	}
	return icon + " " + text
}

// DeletedText stands for a message deleted for everyone wherever it
// would be shown.
const DeletedText = "This message was deleted"

// Label names an attachment for a person, after an emoji: "📷 Photo",
// "🎥 Video", "🎵 Audio", "🎤 Voice message", "📄 invoice.pdf" (a
// document's file name, else "Document"), "💟 Sticker", "📍 Location"
// (or the location's name), "👤 Contact" (or the card's name, its
// vCard's FN). It is one line whatever the sender put in those names.
func (a Attachment) Label() string {
	icon, name := a.label()
	return icon + " " + name
}

func (a Attachment) label() (icon, name string) {
	switch a.Type {
	case AttachImage:
		return "📷", "Photo"
	case AttachVideo:
		return "🎥", "Video"
	case AttachAudio:
		return "🎵", "Audio"
	case AttachVoice:
		return "🎤", "Voice message"
	case AttachDocument:
		return "📄", cmp.Or(oneLine(a.FileName), "Document")
	case AttachSticker:
		return "💟", "Sticker"
	case AttachLocation:
		return "📍", cmp.Or(oneLine(a.Name), "Location")
	case AttachContact:
		return "👤", cmp.Or(VCardName(a.VCard), "Contact")
	}
	return "📎", "Attachment" // a type this version does not know
}

// VCardName returns the formatted name (FN) of a vCard (RFC 6350, and
// the 2.1 and 3.0 cards phones send), else its structured name (N) as
// "Given Family"; "" if it has neither.
func VCardName(vcard string) string {
	// Unfold: a line that starts with a space or tab continues the one
	// before it.
	vcard = strings.ReplaceAll(vcard, "\r\n", "\n")
	vcard = strings.NewReplacer("\n ", "", "\n\t", "").Replace(vcard)
	var structured string
	for line := range strings.SplitSeq(vcard, "\n") {
		head, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(head, ";") // parameters: CHARSET=UTF-8, ...
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:] // a group: item1.FN
		}
		switch strings.ToUpper(strings.TrimSpace(name)) {
		case "FN":
			if fn := oneLine(vcardText(value)); fn != "" {
				return fn
			}
		case "N":
			if structured == "" {
				parts := strings.Split(value, ";") // family; given; additional; prefix; suffix
				given := ""
				if len(parts) > 1 {
					given = parts[1]
				}
				structured = oneLine(vcardText(given) + " " + vcardText(parts[0]))
			}
		}
	}
	return structured
}

// vcardText undoes a vCard value's escapes: \n, \, \; and \\.
func vcardText(v string) string {
	return strings.NewReplacer(`\n`, " ", `\N`, " ", `\,`, ",", `\;`, ";", `\\`, `\`).Replace(v)
}

// oneLine collapses s's white space (line breaks included) to single
// spaces, as a label is one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

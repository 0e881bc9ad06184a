package ingest

import (
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
)

// Check holds a message that a source built itself (a WhatsApp event,
// not a JSON body) to exactly the rules of the ingest API, so that the
// store may rely on them whatever the source. Its errors are
// *FieldError, named as the API's would be.
func Check(in chathook.Incoming, now time.Time) error {
	w := wireMessage{
		Account:   &wireAccount{Phone: in.Account.Phone, FullName: in.Account.FullName, Email: in.Account.Email},
		Chat:      &wireChat{ExternalID: in.Chat.ExternalID, FullName: in.Chat.FullName, IsGroup: in.Chat.IsGroup, Phone: in.Chat.Phone},
		MessageID: in.MessageID,
		Direction: string(in.Direction),
		Timestamp: in.Timestamp.Format(time.RFC3339Nano),
		Text:      in.Text,
	}
	for _, p := range []struct {
		src *chathook.Person
		dst **wirePerson
	}{{in.Sender, &w.Sender}, {in.Recipient, &w.Recipient}} {
		if p.src != nil {
			*p.dst = &wirePerson{FullName: p.src.FullName, Phone: p.src.Phone}
		}
	}
	w.fromSource = true
	for _, a := range in.Attachments {
		w.Attachments = append(w.Attachments, wireAttachment{Type: string(a.Type), MimeType: a.MimeType, FileName: a.FileName,
			Size: a.Size, SHA256: a.SHA256, Width: a.Width, Height: a.Height, DurationS: a.DurationS,
			Latitude: a.Latitude, Longitude: a.Longitude, Name: a.Name, Address: a.Address, VCard: a.VCard})
	}
	// What Decode's checkUTF8 does for a body.
	fields := []struct{ name, v string }{
		{"account.full_name", w.Account.FullName}, {"account.email", w.Account.Email},
		{"chat.external_id", w.Chat.ExternalID}, {"chat.full_name", w.Chat.FullName},
		{"message_id", w.MessageID}, {"text", w.Text},
	}
	if w.Sender != nil {
		fields = append(fields, struct{ name, v string }{"sender.full_name", w.Sender.FullName})
	}
	if w.Recipient != nil {
		fields = append(fields, struct{ name, v string }{"recipient.full_name", w.Recipient.FullName})
	}
	for _, f := range fields {
		if !utf8.ValidString(f.v) {
			return fieldErr(f.name, "not valid UTF-8")
		}
	}
	_, err := w.validate(now)
	return err
}

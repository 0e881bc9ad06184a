package cloudapi

import (
	"reflect"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// TestAttachmentsOfTypes: each of Meta's media, location and contacts
// messages becomes its attachments (SPEC 8), with Meta's fields; files
// pending with their media id as Source.
func TestAttachmentsOfTypes(t *testing.T) {
	const head = `"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383", `
	const sha = "q0sFcRX0BTUUIJ0QFGaOp+Hj6DzKEMzR9+ex0WXEfNQ="
	pending := func(typ chathook.AttachmentType, mime, name, src string) chathook.Attachment {
		return chathook.Attachment{Type: typ, MimeType: mime, FileName: name, State: chathook.MediaPending, Source: []byte(src)}
	}
	for _, c := range []struct {
		name, js, text string
		want           []chathook.Attachment
	}{
		{"image", `"type": "image", "image": {"id": "1048", "caption": "look", "mime_type": "image/jpeg", "sha256": "` + sha + `"}`, "look",
			[]chathook.Attachment{pending(chathook.AttachImage, "image/jpeg", "", `{"media_id":"1048","sha256":"`+sha+`"}`)}},
		{"video", `"type": "video", "video": {"id": "2", "mime_type": "video/mp4"}`, "",
			[]chathook.Attachment{pending(chathook.AttachVideo, "video/mp4", "", `{"media_id":"2"}`)}},
		{"audio", `"type": "audio", "audio": {"id": "3", "mime_type": "audio/mpeg"}`, "",
			[]chathook.Attachment{pending(chathook.AttachAudio, "audio/mpeg", "", `{"media_id":"3"}`)}},
		{"voice", `"type": "audio", "audio": {"id": "4", "mime_type": "audio/ogg; codecs=opus", "voice": true}`, "",
			[]chathook.Attachment{pending(chathook.AttachVoice, "audio/ogg; codecs=opus", "", `{"media_id":"4"}`)}},
		{"document", `"type": "document", "document": {"id": "5", "filename": "invoice\n42.pdf", "caption": "invoice", "mime_type": "application/pdf"}`, "invoice",
			[]chathook.Attachment{pending(chathook.AttachDocument, "application/pdf", "invoice42.pdf", `{"media_id":"5"}`)}},
		{"sticker", `"type": "sticker", "sticker": {"id": "6", "mime_type": "image/webp", "animated": true}`, "",
			[]chathook.Attachment{pending(chathook.AttachSticker, "image/webp", "", `{"media_id":"6"}`)}},
		{"file without an id", `"type": "image", "image": {"mime_type": "image/png"}`, "",
			[]chathook.Attachment{{Type: chathook.AttachImage, MimeType: "image/png", State: chathook.MediaFailed, Error: ErrNoMediaID}}},
		{"file without its object", `"type": "video"`, "",
			[]chathook.Attachment{{Type: chathook.AttachVideo, State: chathook.MediaFailed, Error: ErrNoMediaID}}},
		{"location", `"type": "location", "location": {"latitude": 37.483872, "longitude": -122.148358, "name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto, CA 94301"}`, "",
			[]chathook.Attachment{{Type: chathook.AttachLocation, Latitude: 37.483872, Longitude: -122.148358, Name: "Philz Coffee",
				Address: "101 Forest Ave, Palo Alto, CA 94301"}}},
		{"contacts", `"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+1 650 555 0100"}]},
			{"name": {"first_name": "Ann"}}]`, "",
			[]chathook.Attachment{
				{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Bob\r\nTEL:+1 650 555 0100\r\nEND:VCARD\r\n"},
				{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;Ann;;;\r\nFN:Ann\r\nEND:VCARD\r\n"},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, ok, err := mapOne(t, `{`+head+c.js+`}`, false)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			if in.Text != c.text || in.SkipReason != ingest.SkipAttachments {
				t.Errorf("text %q skip %q, want %q skipped", in.Text, in.SkipReason, c.text)
			}
			if !reflect.DeepEqual(in.Attachments, c.want) {
				t.Errorf("attachments\n%+v\nwant\n%+v", in.Attachments, c.want)
			}
		})
	}
}

// Meta's structured contact, every field, as a vCard 3.0 with its
// values escaped and an odd type left out.
func TestVCard(t *testing.T) {
	var c metaContact
	c.Name.FormattedName, c.Name.FirstName, c.Name.LastName, c.Name.Prefix = "Dr. John Smith, Jr.", "John", "Smith", "Dr."
	c.Birthday = "1990-03-04"
	c.Org.Company, c.Org.Department, c.Org.Title = "Acme; Inc", "Sales", "Manager"
	c.Phones = append(c.Phones, struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id"`
		Type  string `json:"type"`
	}{"+1 (650) 555-1234", "16505551234", "cell"}, struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id"`
		Type  string `json:"type"`
	}{"+1 650 555 9999", "not digits", "WORK:X"})
	c.Emails = append(c.Emails, struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	}{"john@example.com", "WORK"})
	c.Addresses = append(c.Addresses, struct {
		Street      string `json:"street"`
		City        string `json:"city"`
		State       string `json:"state"`
		Zip         string `json:"zip"`
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Type        string `json:"type"`
	}{Street: "1 Hacker Way\nSuite 2", City: "Menlo Park", State: "CA", Zip: "94025", CountryCode: "US", Type: "HOME"})
	c.URLs = append(c.URLs, struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	}{"https://example.com/a,b", "WORK"})

	want := "BEGIN:VCARD\r\nVERSION:3.0\r\n" +
		"N:Smith;John;;Dr.;\r\n" +
		"FN:Dr. John Smith\\, Jr.\r\n" +
		"ORG:Acme\\; Inc;Sales\r\n" +
		"TITLE:Manager\r\n" +
		"TEL;TYPE=CELL;waid=16505551234:+1 (650) 555-1234\r\n" +
		"TEL:+1 650 555 9999\r\n" +
		"EMAIL;TYPE=INTERNET;TYPE=WORK:john@example.com\r\n" +
		"ADR;TYPE=HOME:;;1 Hacker Way\\nSuite 2;Menlo Park;CA;94025;US\r\n" +
		"URL;TYPE=WORK:https://example.com/a\\,b\r\n" +
		"BDAY:1990-03-04\r\n" +
		"END:VCARD\r\n"
	if got := vCard(c); got != want {
		t.Errorf("vCard\n%s\nwant\n%s", got, want)
	}
}

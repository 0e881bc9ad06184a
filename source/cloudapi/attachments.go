package cloudapi

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// metaMedia is a file of a message (image, video, audio, document,
// sticker): Meta sends its media id, never its bytes.
type metaMedia struct {
	ID       string `json:"id"`
	Caption  string `json:"caption"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileName string `json:"filename"`
	Voice    bool   `json:"voice"` // an audio recorded in WhatsApp: a voice note
}

type location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name"`
	Address   string  `json:"address"`
}

// metaContact is a contact card as Meta structures it.
type metaContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
		MiddleName    string `json:"middle_name"`
		Prefix        string `json:"prefix"`
		Suffix        string `json:"suffix"`
	} `json:"name"`
	Birthday string `json:"birthday"`
	Org      struct {
		Company    string `json:"company"`
		Department string `json:"department"`
		Title      string `json:"title"`
	} `json:"org"`
	Phones []struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id"`
		Type  string `json:"type"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	} `json:"emails"`
	Addresses []struct {
		Street      string `json:"street"`
		City        string `json:"city"`
		State       string `json:"state"`
		Zip         string `json:"zip"`
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Type        string `json:"type"`
	} `json:"addresses"`
	URLs []struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	} `json:"urls"`
}

// MediaFile is a Cloud API attachment's Source, as JSON: what the Graph
// API needs to download the file, and the hash Meta gave for it.
type MediaFile struct {
	MediaID string `json:"media_id"`
	SHA256  string `json:"sha256,omitempty"`
}

// ErrNoMediaID is the error of a file Meta's payload names no media id
// of: nothing to download.
const ErrNoMediaID = "the payload from Meta gave no media id: nothing to download"

// errNoMediaID is ErrNoMediaID as the Fetcher's error.
var errNoMediaID = errors.New(ErrNoMediaID)

// attachmentsOf returns a message's attachments: its file, pending its
// download (failed at once when Meta gave no media id), its location,
// or its contact cards as vCards.
func attachmentsOf(m message) []chathook.Attachment {
	return ingest.FitAttachments(parts(m))
}

// parts is attachmentsOf before the attachments are fit to store.
func parts(m message) []chathook.Attachment {
	var t chathook.AttachmentType
	var f *metaMedia
	switch m.Type {
	case "image":
		t, f = chathook.AttachImage, m.Image
	case "video":
		t, f = chathook.AttachVideo, m.Video
	case "audio":
		t, f = chathook.AttachAudio, m.Audio
		if f != nil && f.Voice {
			t = chathook.AttachVoice
		}
	case "document":
		t, f = chathook.AttachDocument, m.Document
	case "sticker":
		t, f = chathook.AttachSticker, m.Sticker
	case "location":
		if m.Location == nil {
			return nil
		}
		l := m.Location
		return []chathook.Attachment{{Type: chathook.AttachLocation, Latitude: l.Latitude, Longitude: l.Longitude,
			Name: l.Name, Address: l.Address}}
	case "contacts":
		var as []chathook.Attachment
		for _, c := range m.Contacts {
			as = append(as, chathook.Attachment{Type: chathook.AttachContact, VCard: vCard(c)})
		}
		return as
	default:
		return nil
	}
	if f == nil {
		f = &metaMedia{}
	}
	a := chathook.Attachment{Type: t, MimeType: f.MimeType, FileName: f.FileName, State: chathook.MediaPending}
	if f.ID == "" {
		a.State, a.Error = chathook.MediaFailed, ErrNoMediaID
		return []chathook.Attachment{a}
	}
	a.Source, _ = json.Marshal(MediaFile{MediaID: f.ID, SHA256: f.SHA256}) // plain strings: never fails
	return []chathook.Attachment{a}
}

// vCard writes Meta's structured contact as a vCard 3.0 (RFC 2426),
// lines ending in CRLF, values escaped; FN, which 3.0 requires, falls
// back to the parts of the name, then to the first phone number.
func vCard(c metaContact) string {
	var b strings.Builder
	line := func(name string, values ...string) {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(vEscape(v))
		}
		b.WriteString("\r\n")
	}
	n := c.Name
	fn := strings.TrimSpace(n.FormattedName)
	if fn == "" {
		fn = strings.Join(strings.Fields(strings.Join([]string{n.Prefix, n.FirstName, n.MiddleName, n.LastName, n.Suffix}, " ")), " ")
	}
	if fn == "" && len(c.Phones) > 0 {
		fn = c.Phones[0].Phone
	}
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
	line("N", n.LastName, n.FirstName, n.MiddleName, n.Prefix, n.Suffix)
	line("FN", fn)
	if c.Org.Company != "" || c.Org.Department != "" {
		line("ORG", c.Org.Company, c.Org.Department)
	}
	if c.Org.Title != "" {
		line("TITLE", c.Org.Title)
	}
	for _, p := range c.Phones {
		name := "TEL" + vType(p.Type)
		if id := digitsOnly(p.WaID); id != "" {
			name += ";waid=" + id // as WhatsApp's own vCards name a number on WhatsApp
		}
		line(name, p.Phone)
	}
	for _, e := range c.Emails {
		line("EMAIL;TYPE=INTERNET"+strings.TrimPrefix(vType(e.Type), ";TYPE=INTERNET"), e.Email)
	}
	for _, a := range c.Addresses {
		country := a.Country
		if country == "" {
			country = a.CountryCode
		}
		line("ADR"+vType(a.Type), "", "", a.Street, a.City, a.State, a.Zip, country)
	}
	for _, u := range c.URLs {
		line("URL"+vType(u.Type), u.URL)
	}
	if c.Birthday != "" {
		line("BDAY", c.Birthday)
	}
	b.WriteString("END:VCARD\r\n")
	return b.String()
}

// vType is a TYPE parameter of Meta's type ("HOME", "WORK", "CELL"),
// "" for none; one that is not a plain word is left out, since a
// parameter cannot be escaped.
func vType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if t == "" || strings.IndexFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }) >= 0 {
		return ""
	}
	return ";TYPE=" + t
}

// vEscape escapes a vCard 3.0 text value: backslash, comma, semicolon
// and line breaks.
func vEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

func digitsOnly(s string) string {
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return ""
	}
	return s
}

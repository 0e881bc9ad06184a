package ingest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/chathook/chathook"
)

// MaxAttachments is how many attachments one message may carry: WhatsApp
// sends one a message (an album is several messages); a few more leave
// room for other programs' messages.
const MaxAttachments = 32

const (
	maxURL   = 2048
	maxVCard = 65536 // bytes
)

// wireAttachment is an attachment as the ingest API takes it: SPEC 8's
// fields, kept and forwarded as given. Only type and, for a file, url are
// required; chathook never fetches the url.
type wireAttachment struct {
	Type      string  `json:"type"`
	URL       string  `json:"url"`
	MimeType  string  `json:"mime_type"`
	FileName  string  `json:"file_name"`
	Size      int64   `json:"size"`
	SHA256    string  `json:"sha256"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	DurationS int     `json:"duration_s"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name"`
	Address   string  `json:"address"`
	VCard     string  `json:"vcard"`
}

// attachment checks the index-th attachment of an ingested message.
// fromSource: a WhatsApp source made it (Check): its file is downloaded
// by chathook, so it has no url to check.
func (w *wireAttachment) attachment(index int, fromSource bool) (chathook.Attachment, error) {
	at := func(field string) string { return fmt.Sprintf("attachments[%d].%s", index, field) }
	typ := chathook.AttachmentType(w.Type)
	if !slices.Contains(chathook.AttachmentTypes, typ) {
		names := make([]string, len(chathook.AttachmentTypes))
		for i, t := range chathook.AttachmentTypes {
			names[i] = string(t)
		}
		if w.Type == "" {
			return chathook.Attachment{}, fieldErr(at("type"), "required: one of %s", strings.Join(names, ", "))
		}
		return chathook.Attachment{}, fieldErr(at("type"), "%q is not an attachment type: use one of %s", w.Type, strings.Join(names, ", "))
	}
	a := chathook.Attachment{Type: typ, URL: w.URL, MimeType: w.MimeType, FileName: w.FileName, Size: w.Size, SHA256: w.SHA256,
		Width: w.Width, Height: w.Height, DurationS: w.DurationS, Latitude: w.Latitude, Longitude: w.Longitude,
		Name: w.Name, Address: w.Address, VCard: w.VCard}
	for _, f := range []struct{ name, v string }{{"mime_type", w.MimeType}, {"file_name", w.FileName}, {"sha256", w.SHA256},
		{"name", w.Name}, {"address", w.Address}} {
		if err := CheckName(at(f.name), f.v); err != nil {
			return a, err
		}
	}
	if len(w.VCard) > maxVCard {
		return a, fieldErr(at("vcard"), "too long: %d bytes, at most %d", len(w.VCard), maxVCard)
	}
	if err := noNUL(at("vcard"), w.VCard); err != nil {
		return a, err
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"size", w.Size}, {"width", int64(w.Width)}, {"height", int64(w.Height)}, {"duration_s", int64(w.DurationS)}} {
		if n.v < 0 {
			return a, fieldErr(at(n.name), "must not be negative")
		}
	}
	switch {
	case w.Latitude < -90 || w.Latitude > 90:
		return a, fieldErr(at("latitude"), "%v is not a latitude: between -90 and 90", w.Latitude)
	case w.Longitude < -180 || w.Longitude > 180:
		return a, fieldErr(at("longitude"), "%v is not a longitude: between -180 and 180", w.Longitude)
	}
	if fromSource {
		return a, nil
	}
	if w.URL != "" || typ.HasFile() {
		if err := attachmentURL(at("url"), w.URL); err != nil {
			return a, err
		}
	}
	return a, nil
}

// attachmentURL: an absolute http(s) URL, which chathook forwards and
// never fetches.
func attachmentURL(field, v string) error {
	if v == "" {
		return fieldErr(field, "required: where the receiver downloads the file (https://...); chathook forwards it and never fetches it")
	}
	if len(v) > maxURL {
		return fieldErr(field, "too long: %d bytes, at most %d", len(v), maxURL)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "%q is not an http or https URL", v)
	}
	return nil
}

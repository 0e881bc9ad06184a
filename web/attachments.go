package web

import (
	"cmp"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
)

// attachmentView is an attachment as the chat page shows it: what the
// template needs, worked out here so the template only lays it out.
type attachmentView struct {
	chathook.Attachment
	Show  string // how it is shown: image, video, audio, document, location, contact, external, missing, label
	Label string // "📷 Photo", "📄 invoice.pdf", ... (chathook.Attachment.Label)
	Alt   string // an image's alt text: what it is, and its caption
	// Href is a link to the stored file, made at this render: relative
	// and valid for media.LinkTTL, so a page left open a day needs a
	// reload, and no link outlives its day in a browser's history.
	Href     string
	Size     string       // "1.2 MB"; "" when unknown
	Duration string       // "0:12"; "" when unknown
	Map      string       // a location's OpenStreetMap link
	VCard    template.URL // a contact card as a data: link, downloaded as a .vcf
	FileName string       // what a download is saved as
	Missing  string       // why there is no file to show: "downloading…", its error, "expired"
	Host     string       // an ingest API attachment's site, so the link says where it goes
}

// attachmentViews shows m's attachments, with links to stored files
// made at now.
func attachmentViews(m chathook.Message, now time.Time) []attachmentView {
	var vs []attachmentView
	for _, a := range m.Attachments {
		vs = append(vs, attachmentOf(a, m.Text, now))
	}
	return vs
}

func attachmentOf(a chathook.Attachment, caption string, now time.Time) attachmentView {
	v := attachmentView{Attachment: a, Label: a.Label(), Size: humanSize(a.Size), Duration: clockDuration(a.DurationS)}
	switch {
	case a.Type == chathook.AttachLocation:
		v.Show, v.Map = "location", mapLink(a.Latitude, a.Longitude)
		return v
	case a.Type == chathook.AttachContact:
		v.Show = "contact"
		v.FileName = cmp.Or(chathook.VCardName(a.VCard), "contact") + ".vcf"
		// A data: link, as the card is in the message already: no route
		// of its own to guard. text/vcard is never rendered as a page.
		v.VCard = template.URL("data:text/vcard;charset=utf-8," + url.PathEscape(a.VCard))
		return v
	}
	switch a.State {
	case chathook.MediaStored:
		v.Href, _ = media.Link("", a, now)
	case chathook.MediaPending:
		v.Show, v.Missing = "missing", "downloading…"
		return v
	case chathook.MediaFailed:
		v.Show, v.Missing = "missing", a.Error
		if v.Missing == "" {
			v.Missing = "not downloaded"
		}
		return v
	case chathook.MediaDeleted:
		v.Show, v.Missing = "missing", "expired"
		return v
	default: // MediaNone: an ingest API attachment, its URL as given
		if a.URL != "" {
			v.Show = "external"
			if u, err := url.Parse(a.URL); err == nil {
				v.Host = u.Host
			}
		} else {
			v.Show = "label"
		}
		return v
	}
	v.FileName = a.FileName
	switch a.Type {
	case chathook.AttachImage, chathook.AttachSticker:
		v.Show = "image"
		v.Alt = "Photo"
		if a.Type == chathook.AttachSticker {
			v.Alt = "Sticker"
		}
		if c := strings.Join(strings.Fields(caption), " "); c != "" {
			v.Alt += ": " + c
		}
	case chathook.AttachVideo:
		v.Show = "video"
	case chathook.AttachAudio, chathook.AttachVoice:
		v.Show = "audio"
	default:
		v.Show = "document"
	}
	return v
}

// mapLink is OpenStreetMap's page of a point, zoomed to its street.
func mapLink(lat, lon float64) string {
	la, lo := strconv.FormatFloat(lat, 'f', -1, 64), strconv.FormatFloat(lon, 'f', -1, 64)
	return "https://www.openstreetmap.org/?mlat=" + la + "&mlon=" + lo + "#map=17/" + la + "/" + lo
}

// humanSize is a file size as a person reads it, in decimal units (as
// phones and WhatsApp show sizes): "48 kB", "1.2 MB"; "" for 0, unknown.
func humanSize(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "1 byte"
	case n < 1000:
		return strconv.FormatInt(n, 10) + " bytes"
	}
	f, unit := float64(n)/1e3, " kB"
	for _, u := range []string{" MB", " GB", " TB"} {
		if f < 999.5 { // shown as 1000 or more: the next unit
			break
		}
		f, unit = f/1e3, u
	}
	if f >= 10 {
		return strconv.FormatFloat(f, 'f', 0, 64) + unit
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + unit
}

// clockDuration is a length in seconds as a player shows it: "0:07",
// "12:30", "1:02:03"; "" for 0, unknown.
func clockDuration(s int) string {
	if s <= 0 {
		return ""
	}
	if s >= 3600 {
		return strconv.Itoa(s/3600) + ":" + twoDigits(s/60%60) + ":" + twoDigits(s%60)
	}
	return strconv.Itoa(s/60) + ":" + twoDigits(s%60)
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

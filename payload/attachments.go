package payload

import (
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
)

// attachment is one of message.attachments in the event format (SPEC 8).
// A location adds latitude, longitude, name and address; a contact card
// adds vcard; the other types have neither.
type attachment struct {
	Type         string   `json:"type"`
	MimeType     string   `json:"mime_type"`
	Size         int64    `json:"size"`
	FileName     string   `json:"file_name"`
	SHA256       string   `json:"sha256"`
	Width        int      `json:"width"`
	Height       int      `json:"height"`
	DurationS    int      `json:"duration_s"`
	URL          string   `json:"url"`
	URLExpiresAt string   `json:"url_expires_at"`
	Error        string   `json:"error"`
	Latitude     *float64 `json:"latitude,omitempty"`
	Longitude    *float64 `json:"longitude,omitempty"`
	Name         *string  `json:"name,omitempty"`
	Address      *string  `json:"address,omitempty"`
	VCard        *string  `json:"vcard,omitempty"`
}

// ErrDeleted is the error of an attachment whose file was deleted when
// its retention ended.
const ErrDeleted = "the file was deleted when its retention (--media-retention) ended"

// ErrDownloading is the error of an attachment still being downloaded:
// only GET /api/v1/messages shows one, as deliveries wait for it.
const ErrDownloading = "the file is still being downloaded"

// attachments renders as, with links made at now; [] for none.
func attachments(baseURL string, as []chathook.Attachment, now time.Time) []attachment {
	out := make([]attachment, len(as))
	for i, a := range as {
		w := attachment{Type: string(a.Type), MimeType: a.MimeType, Size: a.Size, FileName: a.FileName, SHA256: a.SHA256,
			Width: a.Width, Height: a.Height, DurationS: a.DurationS, Error: a.Error}
		switch a.Type {
		case chathook.AttachLocation:
			w.Latitude, w.Longitude, w.Name, w.Address = &a.Latitude, &a.Longitude, &a.Name, &a.Address
		case chathook.AttachContact:
			w.VCard = &a.VCard
		}
		switch a.State {
		case chathook.MediaNone:
			w.URL = a.URL // the ingest API's, as given
		case chathook.MediaStored:
			url, expires := media.Link(baseURL, a, now)
			w.URL, w.URLExpiresAt = url, EventTime(expires)
		case chathook.MediaDeleted:
			w.Error = ErrDeleted
		case chathook.MediaPending:
			w.Error = ErrDownloading
		}
		out[i] = w
	}
	return out
}

package tables

import (
	"crypto/rand"

	"github.com/chathook/chathook"
)

// AttachmentColumns are read by Attachment, from attachments aliased t.
// AttachmentInsertColumns are written by Ingest, in this order, from
// AttachmentValues.
const (
	AttachmentColumns = `t.id, t.type, t.mime_type, t.size, t.file_name, t.sha256, t.width, t.height, t.duration_s,
	t.latitude, t.longitude, t.name, t.address, t.vcard, t.url, t.state, t.error, t.source, t.blob, t.link_key, t.stored_at`
	AttachmentInsertColumns = `workspace_id, account_id, message_id, position, type, mime_type, size, file_name, sha256,
	width, height, duration_s, latitude, longitude, name, address, vcard, url, state, error, source, link_key, due_at, created_at`
	// AttachmentWidth is how many values AttachmentInsertColumns take.
	AttachmentWidth = 24
)

// Attachment reads a row of AttachmentColumns, then extra columns if any.
func Attachment(row Scanner, extra ...any) (chathook.Attachment, error) {
	var a chathook.Attachment
	var source string
	var stored int64
	err := row.Scan(append([]any{&a.ID, &a.Type, &a.MimeType, &a.Size, &a.FileName, &a.SHA256, &a.Width, &a.Height, &a.DurationS,
		&a.Latitude, &a.Longitude, &a.Name, &a.Address, &a.VCard, &a.URL, &a.State, &a.Error, &source, &a.Blob, &a.LinkKey,
		&stored}, extra...)...)
	if source != "" {
		a.Source = []byte(source)
	}
	a.StoredAt = OptionalTime(stored)
	return a, err
}

// AttachmentValues returns the values of AttachmentInsertColumns of a,
// the position-th attachment of a message, with a new link key. A
// pending attachment is due at now.
func AttachmentValues(workspaceID string, accountID, messageID int64, position int, a chathook.Attachment, now int64) []any {
	key := make([]byte, 16)
	rand.Read(key) // never fails (crypto/rand)
	due := int64(0)
	if a.State == chathook.MediaPending {
		due = now
	}
	return []any{workspaceID, accountID, messageID, position, string(a.Type), a.MimeType, a.Size, a.FileName, a.SHA256,
		a.Width, a.Height, a.DurationS, a.Latitude, a.Longitude, a.Name, a.Address, a.VCard, a.URL, string(a.State), a.Error,
		string(a.Source), key, due, now}
}

// Pending reports whether any of as is chathook.MediaPending: its
// message's deliveries are then held (store.HeldDue).
func Pending(as []chathook.Attachment) bool {
	for _, a := range as {
		if a.State == chathook.MediaPending {
			return true
		}
	}
	return false
}

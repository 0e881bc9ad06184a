package whatsweb

import (
	"encoding/json"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// MediaFile is what whatsmeow needs to download one file of a message,
// again if need be: a whatsweb attachment's Source, as JSON.
type MediaFile struct {
	DirectPath    string              `json:"direct_path"`
	MediaKey      []byte              `json:"media_key"`
	FileSHA256    []byte              `json:"file_sha256"`
	FileEncSHA256 []byte              `json:"file_enc_sha256"`
	FileLength    int64               `json:"file_length"`
	MediaType     whatsmeow.MediaType `json:"media_type"` // the key's kind: "WhatsApp Image Keys", ...
	// The message's key, for a media retry receipt: the phone finds the
	// message, and uploads its file again, by these.
	Chat   string `json:"chat"`
	Sender string `json:"sender"`
	FromMe bool   `json:"from_me"`
	ID     string `json:"id"`
}

// Info is the message's key as SendMediaRetryReceipt wants it.
func (f MediaFile) Info() (types.MessageInfo, error) {
	chat, err := types.ParseJID(f.Chat)
	if err != nil {
		return types.MessageInfo{}, err
	}
	sender, err := types.ParseJID(f.Sender)
	if err != nil {
		return types.MessageInfo{}, err
	}
	return types.MessageInfo{
		MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsFromMe: f.FromMe, IsGroup: chat.Server == types.GroupServer},
		ID:            f.ID,
	}, nil
}

// ErrHistoryMedia is the error of a file of a history message: a
// history sync can carry thousands of files, which are not downloaded.
const ErrHistoryMedia = "sent before the account was connected: not downloaded"

// errNoMediaKey is the error of a file message WhatsApp gave no way to
// download (no media key or direct path): a broken client's.
const errNoMediaKey = "WhatsApp gave no key or path to download the file"

// content returns a message's text (a caption for files) and its
// attachments, nil for a text message. ok is false for what is not a
// message chathook keeps.
//
// File attachments are chathook.MediaPending with a MediaFile as Source;
// locations and contact cards carry their fields and no file.
func content(msg *waE2E.Message, info *types.MessageInfo) (text string, atts []chathook.Attachment, ok bool) {
	text, atts, ok = parts(msg, info)
	return text, ingest.FitAttachments(atts), ok
}

// parts is content before its attachments are fit to store.
func parts(msg *waE2E.Message, info *types.MessageInfo) (text string, atts []chathook.Attachment, ok bool) {
	if inner := msg.GetDocumentWithCaptionMessage().GetMessage(); inner != nil {
		msg = inner // whatsmeow unwraps it in live events; a history message may still wrap it
	}
	file := func(t chathook.AttachmentType, mt whatsmeow.MediaType, m whatsmeow.DownloadableMessage, mime string,
		size uint64, w, h, secs uint32, name string) []chathook.Attachment {
		return []chathook.Attachment{fileAttachment(t, mt, m, info, mime, size, w, h, secs, name)}
	}
	switch {
	case msg == nil:
		return "", nil, false
	case msg.Conversation != nil:
		return msg.GetConversation(), nil, true
	case msg.ExtendedTextMessage != nil:
		return msg.GetExtendedTextMessage().GetText(), nil, true
	case msg.ImageMessage != nil:
		m := msg.GetImageMessage()
		return m.GetCaption(), file(chathook.AttachImage, whatsmeow.MediaImage, m, m.GetMimetype(), m.GetFileLength(),
			m.GetWidth(), m.GetHeight(), 0, ""), true
	case msg.VideoMessage != nil, msg.PtvMessage != nil: // a PTV is a round video note; a GIF is a video played in a loop
		m := msg.GetVideoMessage()
		if m == nil {
			m = msg.GetPtvMessage()
		}
		return m.GetCaption(), file(chathook.AttachVideo, whatsmeow.MediaVideo, m, m.GetMimetype(), m.GetFileLength(),
			m.GetWidth(), m.GetHeight(), m.GetSeconds(), ""), true
	case msg.AudioMessage != nil:
		m := msg.GetAudioMessage()
		t := chathook.AttachAudio
		if m.GetPTT() {
			t = chathook.AttachVoice
		}
		return "", file(t, whatsmeow.MediaAudio, m, m.GetMimetype(), m.GetFileLength(), 0, 0, m.GetSeconds(), ""), true
	case msg.DocumentMessage != nil:
		m := msg.GetDocumentMessage()
		return m.GetCaption(), file(chathook.AttachDocument, whatsmeow.MediaDocument, m, m.GetMimetype(), m.GetFileLength(),
			0, 0, 0, m.GetFileName()), true
	case msg.StickerMessage != nil:
		m := msg.GetStickerMessage()
		return "", file(chathook.AttachSticker, whatsmeow.MediaImage, m, m.GetMimetype(), m.GetFileLength(),
			m.GetWidth(), m.GetHeight(), 0, ""), true
	case msg.LocationMessage != nil:
		m := msg.GetLocationMessage()
		return m.GetComment(), []chathook.Attachment{{Type: chathook.AttachLocation, Latitude: m.GetDegreesLatitude(),
			Longitude: m.GetDegreesLongitude(), Name: m.GetName(), Address: m.GetAddress()}}, true
	case msg.LiveLocationMessage != nil:
		m := msg.GetLiveLocationMessage()
		return m.GetCaption(), []chathook.Attachment{{Type: chathook.AttachLocation, Latitude: m.GetDegreesLatitude(),
			Longitude: m.GetDegreesLongitude()}}, true
	case msg.ContactMessage != nil:
		return "", []chathook.Attachment{contact(msg.GetContactMessage())}, true
	case msg.ContactsArrayMessage != nil:
		for _, c := range msg.GetContactsArrayMessage().GetContacts() {
			atts = append(atts, contact(c))
		}
		if len(atts) == 0 {
			return "", nil, false // an empty list of cards: nothing to show
		}
		return "", atts, true
	}
	return "", nil, false
}

// fileAttachment is a file of a message, pending its download; failed
// at once when the message gives no way to download it.
func fileAttachment(t chathook.AttachmentType, mt whatsmeow.MediaType, m whatsmeow.DownloadableMessage, info *types.MessageInfo,
	mime string, size uint64, w, h, secs uint32, name string) chathook.Attachment {
	a := chathook.Attachment{
		Type: t, MimeType: mime, Size: int64(min(size, 1<<62)), FileName: name,
		Width: int(w), Height: int(h), DurationS: int(secs), State: chathook.MediaPending,
	}
	if len(m.GetMediaKey()) == 0 || m.GetDirectPath() == "" {
		a.State, a.Error = chathook.MediaFailed, errNoMediaKey
		return a
	}
	f := MediaFile{
		DirectPath: m.GetDirectPath(), MediaKey: m.GetMediaKey(), FileSHA256: m.GetFileSHA256(), FileEncSHA256: m.GetFileEncSHA256(),
		FileLength: a.Size, MediaType: mt,
	}
	if info != nil {
		f.Chat, f.Sender, f.FromMe, f.ID = info.Chat.String(), info.Sender.String(), info.IsFromMe, info.ID
	}
	a.Source, _ = json.Marshal(f) // plain fields: never fails
	return a
}

// contact is a contact card: its vCard as WhatsApp gives it (its
// display name is the vCard's FN).
func contact(c *waE2E.ContactMessage) chathook.Attachment {
	return chathook.Attachment{Type: chathook.AttachContact, VCard: c.GetVcard()}
}

// historyMedia marks the files of a history message as not downloaded.
func historyMedia(atts []chathook.Attachment) {
	for i := range atts {
		if atts[i].State == chathook.MediaPending {
			atts[i].State, atts[i].Error = chathook.MediaFailed, ErrHistoryMedia
		}
	}
}

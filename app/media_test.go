package app_test

// Attachments through the whole service (SPEC 8): a Cloud API number's
// photo is fetched from a local server that answers as Meta's Graph API
// documents, stored in the database, and reaches an endpoint in the
// event format with a link that needs no credential; the outbound
// webhook (seed format) never gets it.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"
)

// jpeg is the start of a JPEG file (its SOI and JFIF APP0 marker), then
// filler: enough for any type check by bytes.
func jpeg(n int) []byte {
	head := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00}
	body := bytes.Repeat([]byte{0x5A}, n-len(head))
	return append(head, body...)
}

// graphMedia is Meta's Graph API for media: GET /v23.0/{media-id} gives
// the file's URL (on the same server), and GET of that URL its bytes,
// both only with the number's token. A file's download waits while its
// gate is closed.
type graphMedia struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	gates map[string]chan struct{}
	asked []string // "METHOD path" of each request
}

func newGraphMedia(t *testing.T) *graphMedia {
	g := &graphMedia{files: map[string][]byte{}, gates: map[string]chan struct{}{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.asked = append(g.asked, r.Method+" "+r.URL.Path)
		g.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+metaToken {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
			return
		}
		id, isFile := strings.CutPrefix(r.URL.Path, "/files/")
		if !isFile {
			id = strings.TrimPrefix(r.URL.Path, "/v23.0/")
		}
		g.mu.Lock()
		data, ok := g.files[id]
		gate := g.gates[id]
		g.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100}}`)
			return
		}
		if !isFile {
			sum := sha256.Sum256(data)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"messaging_product":"whatsapp","url":%q,"mime_type":"image/jpeg","sha256":%q,"file_size":%d,"id":%q}`,
				g.URL+"/files/"+id, hex.EncodeToString(sum[:]), len(data), id)
			return
		}
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(data)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphMedia) add(id string, data []byte, gated bool) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files[id] = data
	if !gated {
		return nil
	}
	gate := make(chan struct{})
	g.gates[id] = gate
	return gate
}

func imageFrom(from, id, mediaID, caption string) map[string]any {
	return map[string]any{"from": from, "id": id, "timestamp": fmt.Sprint(time.Now().Add(-time.Minute).Unix()),
		"type": "image", "image": map[string]any{"caption": caption, "mime_type": "image/jpeg", "sha256": "ignored", "id": mediaID}}
}

type eventMessage struct {
	MessageID   string `json:"message_id"`
	MessageUUID string `json:"message_uuid"`
	Text        string `json:"text"`
	Attachments []struct {
		Type         string `json:"type"`
		MimeType     string `json:"mime_type"`
		Size         int64  `json:"size"`
		SHA256       string `json:"sha256"`
		URL          string `json:"url"`
		URLExpiresAt string `json:"url_expires_at"`
		Error        string `json:"error"`
	} `json:"attachments"`
}

// eventMessageOf reads data.message of a message:*:new event.
func eventMessageOf(t *testing.T, body []byte) eventMessage {
	t.Helper()
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Message eventMessage `json:"message"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || !strings.HasPrefix(ev.Type, "message:") {
		t.Fatalf("not a message event (%v): %s", err, body)
	}
	return ev.Data.Message
}

// fetchLink GETs an attachment's link, with no credential.
func fetchLink(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// addEventEndpoint adds an endpoint in the event format, subscribed to
// message:new.
func addEventEndpoint(t testing.TB, ws *chathooktest.Workspace, url string) {
	t.Helper()
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": url, "events": []string{"message:new"}}); status != http.StatusCreated {
		t.Fatalf("add endpoint: %d %s", status, body)
	}
}

// TestCloudAPIPhotoReachesEventEndpoint: the photo's message waits for
// its file, and so does the later message of its chat, while another
// chat's message goes out; then the photo arrives with a link whose
// bytes hash to its sha256, served as an image with nosniff; the seed
// format's webhook gets only the text messages.
func TestCloudAPIPhotoReachesEventEndpoint(t *testing.T) { onEveryStore(t, testCloudAPIPhoto) }

func testCloudAPIPhoto(t *testing.T, db string) {
	graph := newGraphMedia(t)
	photo := jpeg(300 << 10) // more than one chunk of the blob store
	gate := graph.add("MEDIA-1", photo, true)
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{GraphAPIURL: graph.URL + "/v23.0"}})
	ws := svc.NewWorkspace(t, "acme")
	seed := chathooktest.NewSink(t)
	ws.PointAt(t, seed.URL+"/hook")
	events := chathooktest.NewSink(t)
	addEventEndpoint(t, ws, events.URL+"/events")
	registerNumber(t, ws)

	metaPosts(t, svc, ws, "messages", "messages", imageFrom(sheena, "wamid.PHOTO", "MEDIA-1", "This one, in blue"))
	metaPosts(t, svc, ws, "messages", "messages", textFromSheena("wamid.AFTER", "Do you have it?"))
	other := textFromSheena("wamid.OTHER", "Hello from another chat")
	other["from"] = "16505550000"
	metaPosts(t, svc, ws, "messages", "messages", other)

	// Another chat's message is not held back by the download.
	first := eventMessageOf(t, events.WaitFor(t, 1, 10*time.Second)[0].Body)
	if first.MessageID != "wamid.OTHER" {
		t.Fatalf("first event is %s's, want the other chat's message while the photo downloads", first.MessageID)
	}
	time.Sleep(200 * time.Millisecond) // the photo's chat gets nothing while its file is downloading
	if n := len(events.Got()); n != 1 {
		t.Fatalf("%d events while the photo downloads, want 1: its chat waits for it", n)
	}
	close(gate)
	got := events.WaitFor(t, 3, 10*time.Second)
	img, after := eventMessageOf(t, got[1].Body), eventMessageOf(t, got[2].Body)
	if img.MessageID != "wamid.PHOTO" || after.MessageID != "wamid.AFTER" {
		t.Fatalf("events %s then %s, want the photo then the message after it", img.MessageID, after.MessageID)
	}
	sum := sha256.Sum256(photo)
	if img.Text != "This one, in blue" || len(img.Attachments) != 1 {
		t.Fatalf("photo event: %+v", img)
	}
	a := img.Attachments[0]
	if a.Type != "image" || a.MimeType != "image/jpeg" || a.Size != int64(len(photo)) || a.SHA256 != hex.EncodeToString(sum[:]) ||
		a.Error != "" || !strings.HasPrefix(a.URL, svc.URL+"/media/") || a.URLExpiresAt == "" {
		t.Errorf("attachment %+v", a)
	}

	// The link needs no credential, and serves the very bytes.
	resp, served := fetchLink(t, a.URL)
	servedSum := sha256.Sum256(served)
	if resp.StatusCode != 200 || hex.EncodeToString(servedSum[:]) != a.SHA256 || resp.Header.Get("Content-Type") != "image/jpeg" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET link: %d, %d bytes hashing to %x, headers %v", resp.StatusCode, len(served), servedSum, resp.Header)
	}
	// A changed token is unknown.
	if resp, err := http.Get(a.URL[:len(a.URL)-2] + "xx"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a tampered link: %v %v, want 404", resp.StatusCode, err)
	}

	// The message reads again with a fresh link.
	status, body := ws.Do(t, http.MethodGet, "/api/v1/messages/"+img.MessageUUID, nil)
	var again eventMessage
	if status != 200 || json.Unmarshal(body, &again) != nil || len(again.Attachments) != 1 || again.Attachments[0].SHA256 != a.SHA256 ||
		again.Attachments[0].URL == "" {
		t.Errorf("GET message: %d %s", status, body)
	}

	// The seed format carries text only: the photo is not sent there.
	seedGot := seed.WaitFor(t, 2, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	for _, r := range seed.Got() {
		if bytes.Contains(r.Body, []byte("wamid.PHOTO")) {
			t.Errorf("the seed webhook got the photo: %s", r.Body)
		}
	}
	if len(seedGot) != 2 {
		t.Errorf("seed webhook got %d messages, want the 2 text ones", len(seedGot))
	}
}

// TestCloudAPIPhotoWithoutTokenOrTooLarge: a file that cannot be
// downloaded is delivered with its error and no link, at once.
func TestCloudAPIPhotoWithoutTokenOrTooLarge(t *testing.T) {
	graph := newGraphMedia(t)
	graph.add("BIG", jpeg(64<<10), false)
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{GraphAPIURL: graph.URL + "/v23.0", MediaMaxBytes: 32 << 10}})
	ws := svc.NewWorkspace(t, "acme")
	events := chathooktest.NewSink(t)
	addEventEndpoint(t, ws, events.URL+"/events")
	registerNumber(t, ws)
	metaPosts(t, svc, ws, "messages", "messages", imageFrom(sheena, "wamid.BIG", "BIG", ""))
	big := eventMessageOf(t, events.WaitFor(t, 1, 10*time.Second)[0].Body)
	if len(big.Attachments) != 1 || big.Attachments[0].URL != "" || !strings.Contains(big.Attachments[0].Error, "--media-max-bytes") {
		t.Errorf("too large: %+v", big.Attachments)
	}
	for _, asked := range graph.asked {
		if strings.HasPrefix(asked, "GET /files/") {
			t.Errorf("a file over the limit was downloaded: %s", asked)
		}
	}

	// Without an access token: the number receives, but cannot fetch.
	other := svc.NewWorkspace(t, "globex")
	otherEvents := chathooktest.NewSink(t)
	addEventEndpoint(t, other, otherEvents.URL+"/events")
	if status, body := other.Do(t, http.MethodPost, "/api/v1/accounts/cloud-api", map[string]any{
		"phone_number_id": phoneNumberID, "display_phone_number": "+1 555 078 3881", "full_name": "Globex Support",
		"email": "ops@globex.example", "app_secret": metaSecret, "verify_token": "verify-me",
	}); status != http.StatusCreated {
		t.Fatalf("register the number without a token: %d %s", status, body)
	}
	metaPosts(t, svc, other, "messages", "messages", imageFrom(sheena, "wamid.NOTOKEN", "BIG", ""))
	noToken := eventMessageOf(t, otherEvents.WaitFor(t, 1, 10*time.Second)[0].Body)
	if len(noToken.Attachments) != 1 || noToken.Attachments[0].URL != "" || !strings.Contains(noToken.Attachments[0].Error, "access token") {
		t.Errorf("no token: %+v", noToken.Attachments)
	}
}

// ogg is the start of an Ogg Opus file (a voice note): its first page's
// header with the OpusHead packet, then filler.
func ogg(n int) []byte {
	page := []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13")
	head := append(page, []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")...)
	return append(head, bytes.Repeat([]byte{0x4F}, n-len(head))...)
}

// TestWhatsAppVoiceNote: a voice note to a linked account is stored with
// its message at once (acknowledged to WhatsApp), downloaded afterwards
// through the fake network's CDN, which has dropped it, so the phone is
// asked to upload it again, and reaches the event endpoint with a link
// to the very bytes, served inline as audio.
func TestWhatsAppVoiceNote(t *testing.T) { onEveryStore(t, testWhatsAppVoiceNote) }

func testWhatsAppVoiceNote(t *testing.T, db string) {
	wa := whatswebtest.New()
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{WhatsApp: wa, AccountLease: accountLease}})
	ws := svc.NewWorkspace(t, "acme")
	events := chathooktest.NewSink(t)
	addEventEndpoint(t, ws, events.URL+"/events")
	linkAccount(t, svc, ws)
	client := wa.Online(t, danaJID)

	voice := ogg(40 << 10)
	file := wa.PutMedia(t, voice, whatsmeow.MediaAudio)
	wa.DropMedia(file.DirectPath) // gone from the CDN: the phone must upload it again
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	if !client.Emit(message("VOICE1", at, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
		PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus"), Seconds: proto.Uint32(7),
		DirectPath: proto.String(file.DirectPath), MediaKey: file.MediaKey, FileSHA256: file.FileSHA256,
		FileEncSHA256: file.FileEncSHA256, FileLength: proto.Uint64(file.FileLength),
	}})) {
		t.Fatal("the voice note was not acknowledged")
	}
	m := eventMessageOf(t, events.WaitFor(t, 1, 20*time.Second)[0].Body)
	sum := sha256.Sum256(voice)
	if m.MessageID != "VOICE1" || len(m.Attachments) != 1 {
		t.Fatalf("event message %+v", m)
	}
	a := m.Attachments[0]
	if a.Type != "voice" || !strings.HasPrefix(a.MimeType, "audio/") || a.Size != int64(len(voice)) || a.SHA256 != hex.EncodeToString(sum[:]) ||
		a.Error != "" || a.URL == "" {
		t.Errorf("attachment %+v", a)
	}
	if asked := wa.RetryReceipts(); len(asked) != 1 || asked[0] != "VOICE1" {
		t.Errorf("media retry receipts %v, want one for VOICE1", asked)
	}
	resp, served := fetchLink(t, a.URL)
	if resp.StatusCode != 200 || !bytes.Equal(served, voice) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "audio/") ||
		strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET link: %d, %d bytes, headers %v", resp.StatusCode, len(served), resp.Header)
	}
}

// TestMediaRetention: a stored photo is counted, and once its retention
// has passed the sweeper deletes it: the message reads with no link and
// says why, and the old link answers 410; the metrics count it all.
func TestMediaRetention(t *testing.T) {
	graph := newGraphMedia(t)
	photo := jpeg(8 << 10)
	graph.add("MEDIA-1", photo, false)
	clock := chathooktest.NewClock(time.Now().UTC())
	svc := chathooktest.Start(t, chathooktest.Options{Clock: clock, Config: app.Config{GraphAPIURL: graph.URL + "/v23.0",
		MetricsAddr: "127.0.0.1:0", MediaRetention: 48 * time.Hour}})
	ws := svc.NewWorkspace(t, "acme")
	events := chathooktest.NewSink(t)
	addEventEndpoint(t, ws, events.URL+"/events")
	registerNumber(t, ws)
	metaPosts(t, svc, ws, "messages", "messages", imageFrom(sheena, "wamid.PHOTO", "MEDIA-1", ""))
	m := eventMessageOf(t, events.WaitFor(t, 1, 10*time.Second)[0].Body)
	if len(m.Attachments) != 1 || m.Attachments[0].URL == "" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	got := scrape(t, svc.MetricsURL)
	got.want(t, 1, "chathook_media_stored_total")
	got.want(t, float64(len(photo)), "chathook_media_stored_bytes_total")

	// A day on, the file is kept: a fresh link serves it.
	clock.Set(clock.Now().Add(25 * time.Hour))
	svc.Tick()
	fresh := func() eventMessage {
		status, body := ws.Do(t, http.MethodGet, "/api/v1/messages/"+m.MessageUUID, nil)
		var read eventMessage
		if status != 200 || json.Unmarshal(body, &read) != nil || len(read.Attachments) != 1 {
			t.Fatalf("GET message: %d %s", status, body)
		}
		return read
	}
	if a := fresh().Attachments[0]; a.URL == "" {
		t.Fatalf("after a day: %+v", a)
	} else if resp, err := http.Get(a.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a fresh link after a day: %v %v", resp.StatusCode, err)
	}
	// Past its retention, the sweeper deletes it.
	clock.Set(clock.Now().Add(24 * time.Hour))
	svc.Tick()
	chathooktest.Eventually(t, "the file deleted", func() bool { return fresh().Attachments[0].URL == "" })
	a := fresh().Attachments[0]
	if !strings.Contains(a.Error, "retention") || a.SHA256 == "" {
		t.Errorf("a deleted file reads %+v", a)
	}
	resp, err := http.Get(m.Attachments[0].URL)
	if err != nil || resp.StatusCode != http.StatusGone {
		t.Errorf("its old link: %v %v, want 410", resp.StatusCode, err)
	}
	scrape(t, svc.MetricsURL).want(t, 1, "chathook_media_deleted_total")
}

package cloudapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/source/cloudapi"
)

// mediaFile is a file the fake Graph API serves, and how it misbehaves.
type mediaFile struct {
	data     []byte
	mime     string
	size     string // file_size as Meta writes it; "": len(data)
	sha      string // "": the data's own, hex
	status   int    // not 0: the answer about the media id
	answer   string // its body
	fileCode int    // not 0: the answer of the file's URL
}

// graphMedia is Meta's Graph API and its media servers: GET /{id} tells
// a file's URL, GET /files/{id} serves it, both only with graphToken.
type graphMedia struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]*mediaFile
	paths []string
}

func newGraphMedia(t *testing.T) *graphMedia {
	t.Helper()
	g := &graphMedia{files: map[string]*mediaFile{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.paths = append(g.paths, r.URL.Path)
		g.mu.Unlock()
		if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+graphToken {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
			return
		}
		file := strings.HasPrefix(r.URL.Path, "/files/")
		g.mu.Lock()
		f := g.files[strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/files"), "/")]
		g.mu.Unlock()
		switch {
		case f == nil:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100}}`)
		case file && f.fileCode != 0:
			w.WriteHeader(f.fileCode)
		case file:
			w.Header().Set("Content-Type", f.mime)
			w.Write(f.data)
		case f.status != 0:
			w.WriteHeader(f.status)
			io.WriteString(w, f.answer)
		default:
			sum := sha256.Sum256(f.data)
			sha, size := hex.EncodeToString(sum[:]), fmt.Sprint(len(f.data))
			if f.sha != "" {
				sha = f.sha
			}
			if f.size != "" {
				size = f.size
			}
			id := strings.TrimPrefix(r.URL.Path, "/")
			fmt.Fprintf(w, `{"messaging_product":"whatsapp","url":"%s/files/%s","mime_type":%q,"sha256":%q,"file_size":%s,"id":%q}`,
				g.URL, id, f.mime, sha, size, id)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphMedia) put(id string, f *mediaFile) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files[id] = f
}

func (g *graphMedia) requested() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.paths...)
}

// fetchCloud runs Graph.Fetch of media id into a new file and returns
// the file's bytes.
func fetchCloud(t *testing.T, g cloudapi.Graph, id, token string, max int64) (media.Fetched, []byte, error) {
	t.Helper()
	d := chathook.Download{
		Attachment:  chathook.Attachment{ID: 1, Type: chathook.AttachDocument, State: chathook.MediaPending, Source: []byte(`{"media_id":"` + id + `"}`)},
		Account:     chathook.Account{ID: 7, Kind: chathook.KindCloudAPI, PhoneNumberID: "106540352242922"},
		AccessToken: token,
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("left over from an attempt before") // emptied by the fetch
	got, ferr := g.Fetch(context.Background(), d, max, f)
	f.Seek(0, io.SeekStart)
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return got, data, ferr
}

var pdf = bytes.Repeat([]byte("%PDF-1.7 an invoice, line after line\n"), 200)

// A file is asked of the Graph API by its media id, then downloaded
// from the URL it answers, with the number's token both times.
func TestFetchCloud(t *testing.T) {
	srv := newGraphMedia(t)
	srv.put("1048", &mediaFile{data: pdf, mime: "application/pdf"})
	g := cloudapi.Graph{URL: srv.URL}
	got, data, err := fetchCloud(t, g, "1048", graphToken, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, pdf) || got.MimeType != "application/pdf" || got.Source != nil {
		t.Errorf("fetched %d bytes of %d, %+v", len(data), len(pdf), got)
	}
	if p := srv.requested(); len(p) != 2 || p[0] != "/1048" || p[1] != "/files/1048" {
		t.Errorf("requests %v", p)
	}
	// The limit is the file's size: not over it.
	if _, data, err := fetchCloud(t, g, "1048", graphToken, int64(len(pdf))); err != nil || !bytes.Equal(data, pdf) {
		t.Errorf("a file of the limit's size: %d bytes, %v", len(data), err)
	}
}

// The errors of a download, permanent or not, and never the token.
func TestFetchCloudErrors(t *testing.T) {
	srv := newGraphMedia(t)
	g := cloudapi.Graph{URL: srv.URL}
	srv.put("big", &mediaFile{data: pdf, mime: "application/pdf"})
	srv.put("liar", &mediaFile{data: pdf, mime: "application/pdf", size: `"10"`}) // says it is small
	srv.put("nosize", &mediaFile{data: pdf, mime: "application/pdf", size: "null"})
	srv.put("corrupt", &mediaFile{data: pdf, mime: "application/pdf", sha: strings.Repeat("ab", 32)})
	srv.put("busy", &mediaFile{status: http.StatusTooManyRequests,
		answer: `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}`})
	srv.put("down", &mediaFile{status: http.StatusInternalServerError, answer: `{"error":{"message":"An unknown error occurred","code":1}}`})
	srv.put("forbidden", &mediaFile{status: http.StatusForbidden,
		answer: `{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10}}`})
	srv.put("cdn503", &mediaFile{data: pdf, mime: "application/pdf", fileCode: http.StatusServiceUnavailable})
	srv.put("cdn404", &mediaFile{data: pdf, mime: "application/pdf", fileCode: http.StatusNotFound})

	for _, c := range []struct {
		name, id, token string
		max             int64
		permanent       bool
		is              error  // nil: any
		says            string // in the error
	}{
		{"no token", "big", "", 1 << 20, true, cloudapi.ErrNoAccessToken, "access token"},
		{"too large by its size", "big", graphToken, int64(len(pdf)) - 1, true, media.ErrTooLarge, ""},
		{"too large by its bytes", "liar", graphToken, 100, true, media.ErrTooLarge, ""},
		{"too large, no size", "nosize", graphToken, 100, true, media.ErrTooLarge, ""},
		{"corrupt", "corrupt", graphToken, 1 << 20, true, nil, "SHA-256"},
		{"token refused", "big", "EAAexpired", 1 << 20, true, nil, "Invalid OAuth access token"},
		{"unknown media id", "gone", graphToken, 1 << 20, true, nil, "Unsupported get request"},
		{"forbidden", "forbidden", graphToken, 1 << 20, true, nil, "does not have permission"},
		{"file's URL 404", "cdn404", graphToken, 1 << 20, true, nil, "404"},
		{"rate limit", "busy", graphToken, 1 << 20, false, nil, "Rate limit hit"},
		{"server error", "down", graphToken, 1 << 20, false, nil, "HTTP 500"},
		{"file's URL 503", "cdn503", graphToken, 1 << 20, false, nil, "503"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := fetchCloud(t, g, c.id, c.token, c.max)
			switch {
			case err == nil:
				t.Fatal("no error")
			case media.IsPermanent(err) != c.permanent:
				t.Errorf("%v: permanent %v, want %v", err, media.IsPermanent(err), c.permanent)
			case c.is != nil && !errors.Is(err, c.is):
				t.Errorf("%v, want %v", err, c.is)
			case !strings.Contains(err.Error(), c.says):
				t.Errorf("%v does not say %q", err, c.says)
			case strings.Contains(err.Error(), graphToken):
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}

	// Meta unreachable: retried.
	srv.Close()
	if _, _, err := fetchCloud(t, g, "big", graphToken, 1<<20); err == nil || media.IsPermanent(err) {
		t.Errorf("Meta unreachable: %v", err)
	}
	// A source with no media id: nothing to download, ever.
	f, _ := os.Create(filepath.Join(t.TempDir(), "f"))
	defer f.Close()
	_, err := g.Fetch(context.Background(), chathook.Download{Attachment: chathook.Attachment{Source: []byte(`{}`)}, AccessToken: graphToken}, 1, f)
	if !media.IsPermanent(err) {
		t.Errorf("no media id: %v", err)
	}
}

package cloudapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/source/cloudapi"
)

// seen is a request a fake server got.
type seen struct{ host, path, auth string }

// mediaHost is a server that plays the Graph API and a media server:
// GET /{...}/{id} answers a file url set for id, GET /files/{name}
// serves pdf to the token, GET /redirect?to=u answers 302 to u. It
// records every request.
type mediaHost struct {
	*httptest.Server
	mu   sync.Mutex
	urls map[string]string
	got  []seen
}

func newMediaHost(t *testing.T, tlsOn bool) *mediaHost {
	t.Helper()
	h := &mediaHost{urls: map[string]string{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.got = append(h.got, seen{r.Host, r.URL.Path, r.Header.Get("Authorization")})
		fileURL := h.urls[path.Base(r.URL.Path)]
		h.mu.Unlock()
		switch {
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		case r.Header.Get("Authorization") != "Bearer "+graphToken:
			w.WriteHeader(http.StatusUnauthorized)
		case strings.HasPrefix(r.URL.Path, "/files/"):
			w.Write(pdf)
		case fileURL != "":
			sum := sha256.Sum256(pdf)
			fmt.Fprintf(w, `{"url":%q,"mime_type":"application/pdf","sha256":%q,"file_size":%d}`, fileURL, hex.EncodeToString(sum[:]), len(pdf))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	if tlsOn {
		h.Server = httptest.NewTLSServer(handler)
	} else {
		h.Server = httptest.NewServer(handler)
	}
	t.Cleanup(h.Close)
	return h
}

// answer makes the Graph API answer u as media id's file url.
func (h *mediaHost) answer(id, u string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.urls[id] = u
}

// files returns the requests for files since the last call.
func (h *mediaHost) files() []seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	var fs []seen
	for _, s := range h.got {
		if strings.HasPrefix(s.path, "/files/") {
			fs = append(fs, s)
		}
	}
	h.got = nil
	return fs
}

// metaClient reaches meta for every host name (graph.facebook.com,
// lookaside.fbsbx.com, ..., as Meta's DNS would) and addresses by IP
// as they are: real HTTPS to a local server standing in for Meta.
func metaClient(meta *mediaHost) *http.Client {
	tr := meta.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test certificate names no Meta host
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && net.ParseIP(host) == nil {
			addr = meta.Listener.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// The number's token goes only to Meta's hosts over https, or to the
// host of --graph-api-url: a file url Meta's answer gives elsewhere,
// and a redirect elsewhere, fail for good, name the host, and are
// never requested.
func TestFetchCloudFileURL(t *testing.T) {
	meta := newMediaHost(t, true)       // Meta: graph.facebook.com, lookaside.fbsbx.com, ...
	proxy := newMediaHost(t, false)     // a --graph-api-url that is not Meta's
	elsewhere := newMediaHost(t, false) // any other server
	metaAddr := meta.Listener.Addr().String()
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")
	redirect := func(from, to string) string { return from + "/redirect?to=" + url.QueryEscape(to) }

	type fileCase struct {
		name, fileURL string
		host          string // "": allowed; else the refusal names it
	}
	run := func(t *testing.T, g cloudapi.Graph, graph *mediaHost, c fileCase) {
		t.Helper()
		files := func() []seen {
			var fs []seen
			for _, h := range []*mediaHost{meta, proxy, elsewhere} {
				fs = append(fs, h.files()...)
			}
			return fs
		}
		files() // forget the cases before
		graph.answer("1048", c.fileURL)
		_, data, err := fetchCloud(t, g, "1048", graphToken, 1<<20)
		if c.host == "" {
			if err != nil || !bytes.Equal(data, pdf) {
				t.Errorf("%s: %d bytes, %v", c.name, len(data), err)
			}
			if fs := files(); len(fs) != 1 || fs[0].auth != "Bearer "+graphToken {
				t.Errorf("%s: file requests %+v, want one with the token", c.name, fs)
			}
			return
		}
		switch {
		case err == nil:
			t.Errorf("%s: fetched", c.name)
		case !media.IsPermanent(err) || !strings.Contains(err.Error(), "outside Meta: "+c.host):
			t.Errorf("%s: %v (permanent %v), want a permanent refusal naming %s", c.name, err, media.IsPermanent(err), c.host)
		case strings.Contains(err.Error(), graphToken):
			t.Errorf("%s: the token is in the error: %v", c.name, err)
		}
		if fs := files(); len(fs) != 0 {
			t.Errorf("%s: a file was requested: %+v", c.name, fs)
		}
	}

	t.Run("default Graph URL", func(t *testing.T) {
		g := cloudapi.Graph{Client: metaClient(meta)}
		for _, c := range []fileCase{
			{"Meta's lookaside", "https://lookaside.fbsbx.com/files/a?ext=1&hash=x", ""},
			{"a WhatsApp CDN", "https://mmg.whatsapp.net/files/a", ""},
			{"an fbcdn host", "https://scontent.xx.fbcdn.net/files/a", ""},
			{"a host name in capitals", "https://LOOKASIDE.FBSBX.COM/files/a", ""},
			{"a redirect within Meta", redirect("https://lookaside.fbsbx.com", "https://lookaside.fbsbx.com/files/b"), ""},
			{"Meta's host over http", "http://lookaside.fbsbx.com/files/a", "http://lookaside.fbsbx.com"},
			{"a local server", elsewhere.URL + "/files/a", elsewhere.URL},
			{"Meta's address, not its name", "https://" + metaAddr + "/files/a", "https://" + metaAddr},
			{"a host ending like Meta's", "https://evilfbsbx.com/files/a", "https://evilfbsbx.com"},
			{"Meta's name under another domain", "https://lookaside.fbsbx.com.evil.example/files/a", "https://lookaside.fbsbx.com.evil.example"},
			{"Meta's name as user info", "https://lookaside.fbsbx.com@evil.example/files/a", "https://evil.example"},
			{"a redirect to a local server", redirect("https://lookaside.fbsbx.com", elsewhere.URL+"/files/a"), elsewhere.URL},
			{"a redirect to http", redirect("https://lookaside.fbsbx.com", "http://lookaside.fbsbx.com/files/a"), "http://lookaside.fbsbx.com"},
		} {
			run(t, g, meta, c)
		}
	})

	for _, g := range []struct {
		name string
		g    cloudapi.Graph
	}{
		{"--graph-api-url, its own client", cloudapi.Graph{URL: proxy.URL, Client: metaClient(meta)}},
		{"--graph-api-url, the default clients", cloudapi.Graph{URL: proxy.URL}},
	} {
		t.Run(g.name, func(t *testing.T) {
			cases := []fileCase{
				{"the Graph URL's host", proxy.URL + "/files/a", ""},
				{"a redirect within it", redirect(proxy.URL, proxy.URL+"/files/b"), ""},
				{"another port", elsewhere.URL + "/files/a", elsewhere.URL},
				{"its host over https", "https://" + proxyHost + "/files/a", "https://" + proxyHost},
				{"a redirect to another port", redirect(proxy.URL, elsewhere.URL+"/files/a"), elsewhere.URL},
			}
			if g.g.Client != nil { // the default clients would reach Meta itself
				cases = append(cases, fileCase{"Meta's lookaside", "https://lookaside.fbsbx.com/files/a", ""},
					fileCase{"Meta's host over http", "http://lookaside.fbsbx.com/files/a", "http://lookaside.fbsbx.com"})
			}
			for _, c := range cases {
				run(t, g.g, proxy, c)
			}
		})
	}
}

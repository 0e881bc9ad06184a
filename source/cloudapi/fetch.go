package cloudapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/media"
)

// ErrNoAccessToken is the error of a file of a Cloud API number that has
// no access token: Meta serves files only with one.
var ErrNoAccessToken = errors.New("no access token: set the number's access token on the WhatsApp accounts page " +
	"or through the API, so that chathook can download its files")

// mediaClient downloads files when Graph has no client of its own: no
// overall timeout, since a large file takes as long as it takes, but a
// server that does not start answering is cut off (and the download
// tried again later).
var mediaClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = graphTimeout
	return &http.Client{Transport: t}
}()

// metaDomains hold Meta's media servers: the file url the Graph API
// answers is under one of them (lookaside.fbsbx.com today).
var metaDomains = []string{"fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net"}

// tokenMayGo reports whether the number's token may be sent to u: over
// https to one of Meta's domains, or to the Graph URL's own scheme and
// host (a proxy's, a test server's, set with --graph-api-url). Anywhere
// else, an answer could make chathook hand the token, and its requests,
// to any server, private addresses included.
func tokenMayGo(graph, u *url.URL) bool {
	if u.Scheme == "https" {
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		for _, d := range metaDomains {
			if host == d || strings.HasSuffix(host, "."+d) {
				return true
			}
		}
	}
	return graph.Host != "" && u.Scheme == graph.Scheme && strings.EqualFold(u.Host, graph.Host)
}

// base is the Graph API's URL, without a trailing slash.
func (g Graph) base() string { return cmp.Or(strings.TrimSuffix(g.URL, "/"), DefaultGraphURL) }

// client is the HTTP client of Graph API calls.
func (g Graph) client() *http.Client { return cmp.Or(g.Client, defaultGraphClient) }

// errOutsideMeta is the error of a url the token may not go to; it names
// the scheme and host only (a path may hold a signature).
func errOutsideMeta(u *url.URL, how string) error {
	return media.Permanent(fmt.Errorf("the Graph API's answer points outside Meta: %s://%s%s; chathook sends the number's access token "+
		"only to Meta's servers (https, *.fbsbx.com, *.facebook.com, *.fbcdn.net, *.whatsapp.net) or to --graph-api-url's host", u.Scheme, u.Host, how))
}

// graphMedia is the Graph API's answer about a media id.
type graphMedia struct {
	URL      string          `json:"url"`
	MimeType string          `json:"mime_type"`
	SHA256   string          `json:"sha256"`
	FileSize json.RawMessage `json:"file_size"` // a number; a string is taken too
}

// Fetch downloads a Cloud API number's file (media.Fetcher): it asks
// the Graph API for the media id's URL (GET {URL}/{media-id}), then
// downloads that URL with the same token, streaming to dst and never
// more than max+1 bytes. The token goes only where tokenMayGo allows:
// a file url, or a redirect of either request, that points elsewhere is
// a media.Permanent error and is never requested. A file Meta says is
// larger than max is not downloaded (media.ErrTooLarge); one whose
// bytes do not match Meta's SHA-256 fails.
//
// No token, and Meta's refusals that would be repeated (401, 403, 404,
// an expired token), are media.Permanent errors saying what Meta said;
// a 5xx, a rate limit or a network error may pass and is not. The token
// is never in an error.
func (g Graph) Fetch(ctx context.Context, d chathook.Download, max int64, dst *os.File) (media.Fetched, error) {
	var mf MediaFile
	if err := json.Unmarshal(d.Source, &mf); err != nil || mf.MediaID == "" {
		return media.Fetched{}, media.Permanent(errNoMediaID)
	}
	if d.AccessToken == "" {
		return media.Fetched{}, media.Permanent(ErrNoAccessToken)
	}
	base := g.base()
	graph, err := url.Parse(base)
	if err != nil {
		return media.Fetched{}, media.Permanent(fmt.Errorf("cloudapi: the Graph API URL is not a URL: %w", err))
	}
	client := guarded(g.client(), graph)

	resp, err := g.get(ctx, client, base+"/"+url.PathEscape(mf.MediaID), d.AccessToken)
	if err != nil {
		return media.Fetched{}, err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphAnswer))
	resp.Body.Close()
	if err != nil {
		return media.Fetched{}, fmt.Errorf("cloudapi: Meta's answer about the file was cut off: %w", err)
	}
	var gm graphMedia
	if err := json.Unmarshal(answer, &gm); err != nil || gm.URL == "" {
		return media.Fetched{}, fmt.Errorf("cloudapi: Meta's Graph API answered 200 without the file's url")
	}
	if u, err := url.Parse(gm.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return media.Fetched{}, media.Permanent(fmt.Errorf("cloudapi: Meta gave a file url that is not one"))
	} else if !tokenMayGo(graph, u) {
		return media.Fetched{}, errOutsideMeta(u, "")
	}
	if size, err := strconv.ParseInt(strings.Trim(string(gm.FileSize), `"`), 10, 64); err == nil && size > max {
		return media.Fetched{}, media.ErrTooLarge
	}

	if g.Client == nil {
		client = guarded(mediaClient, graph)
	}
	resp, err = g.get(ctx, client, gm.URL, d.AccessToken)
	if err != nil {
		return media.Fetched{}, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > max {
		return media.Fetched{}, media.ErrTooLarge
	}
	if err := dst.Truncate(0); err != nil {
		return media.Fetched{}, err
	}
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return media.Fetched{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(resp.Body, max+1))
	switch {
	case n > max:
		return media.Fetched{}, media.ErrTooLarge
	case err != nil:
		return media.Fetched{}, fmt.Errorf("cloudapi: the download of the file was cut off: %w", err)
	}
	// Checked against the hash of the Graph API's answer only: the
	// webhook's is kept in the Source, but its encoding is less sure.
	if sum, ok := decodeHash(gm.SHA256); ok && !bytes.Equal(sum, h.Sum(nil)) {
		return media.Fetched{}, media.Permanent(errors.New("the file Meta served does not match its SHA-256: it is corrupt"))
	}
	// (The Downloader checks the type against the bytes; this keeps it
	// a short line of text.)
	return media.Fetched{MimeType: ingest.Cut(strings.ToValidUTF8(gm.MimeType, ""), ingest.MaxName)}, nil
}

// get is a GET with the number's token; an answer other than 200 is an
// error, permanent when Meta would answer it again.
func (g Graph) get(ctx context.Context, client *http.Client, u, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil { // a --graph-api-url that is not a URL
		return nil, media.Permanent(fmt.Errorf("cloudapi: the Graph API URL is not a URL: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) && media.IsPermanent(ue.Err) {
		return nil, ue.Err // a redirect guarded refused
	} else if err != nil {
		// *url.Error names the URL, never the headers: no token in it.
		return nil, fmt.Errorf("cloudapi: could not reach Meta: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxGraphAnswer))
	return nil, mediaRefusal(resp.StatusCode, answer, token)
}

// guarded is client (a copy) following only redirects the token may go
// to (tokenMayGo): Go's client keeps the Authorization header on a
// redirect to the same host name on another port or scheme, and to a
// subdomain, so the header alone is no guard.
func guarded(client *http.Client, graph *url.URL) *http.Client {
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !tokenMayGo(graph, req.URL) {
			return errOutsideMeta(req.URL, " (a redirect)")
		}
		return nil
	}
	return &c
}

// mediaRefusal is the error of an answer other than 200: what Meta said,
// permanent unless a retry may pass (a 5xx, a rate limit).
func mediaRefusal(status int, answer []byte, token string) error {
	said := fmt.Sprintf("HTTP %d", status)
	code := 0
	var ge graphError
	if json.Unmarshal(answer, &ge) == nil && ge.Error != nil {
		code = ge.Error.Code
		if m := clean(ge.Error.Message, token); m != "" {
			said = fmt.Sprintf("%s (HTTP %d, code %d)", m, status, code)
		}
	}
	switch {
	case status >= 500, status == http.StatusTooManyRequests, code == 4, code == 80007, code == 130429:
		return fmt.Errorf("cloudapi: Meta could not serve the file now: %s", said)
	case code == 190 || status == http.StatusUnauthorized:
		return media.Permanent(fmt.Errorf("the number's access token was refused by Meta: %s; set a new one on the WhatsApp accounts page or through the API", said))
	case status == http.StatusNotFound:
		return media.Permanent(fmt.Errorf("expired at WhatsApp: Meta no longer has the file (%s)", said))
	}
	return media.Permanent(fmt.Errorf("the file was refused by Meta: %s", said))
}

// decodeHash reads a SHA-256 as Meta writes one, hex or base64; false
// when s is neither.
func decodeHash(s string) ([]byte, bool) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == sha256.Size {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return b, true
		}
	}
	return nil, false
}

var _ media.Fetcher = Graph{}

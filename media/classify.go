package media

import (
	"mime"
	"slices"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// HeadSize is how many of a file's first bytes Classify looks at; fewer
// are enough for a shorter file.
const HeadSize = 4096

// OctetStream is the type of a file whose bytes tell nothing, or
// contradict what its sender claimed.
const OctetStream = "application/octet-stream"

// aliases are names senders use for a type the detector knows by
// another name.
var aliases = map[string]string{
	"image/jpg":      "image/jpeg",
	"image/pjpeg":    "image/jpeg",
	"audio/opus":     "audio/ogg", // Opus is always in an Ogg file on WhatsApp
	"audio/m4a":      "audio/x-m4a",
	"audio/x-aac":    "audio/aac",
	"text/x-vcard":   "text/vcard",
	"text/directory": "text/vcard",
}

// Classify returns the type a file is stored and served as, from its
// first bytes (HeadSize of them, or the whole of a shorter file) and the
// type its sender claimed.
//
// The claimed type (lower-cased, with its parameters) is kept when the
// bytes agree with it: the same type, an alias, or one the other's kind
// (application/zip for a .docx, audio/mp4 for an MP4 file, text/csv for
// plain text). With no claim, the bytes' type. A claim the bytes
// contradict, or bytes that match no known type, give OctetStream. A
// type a browser would render or run (HTML, SVG, XML, JavaScript, ...) is
// never returned, whatever the bytes or the claim: OctetStream instead.
//
// The detector is github.com/gabriel-vasile/mimetype: the standard
// library's http.DetectContentType knows none of 3GPP, AMR, M4A, MP3
// without ID3, or Office files.
func Classify(head []byte, claimed string) string {
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	detected := mimetype.Detect(head)
	if !servable(detected.String()) {
		return OctetStream
	}
	claimedType, params, err := mime.ParseMediaType(claimed)
	if claimed == "" || err != nil || claimedType == OctetStream {
		if detected.Is(OctetStream) {
			return OctetStream
		}
		return detected.String()
	}
	if canonical, ok := aliases[claimedType]; ok {
		claimedType = canonical
	}
	if !servable(claimedType) || !agree(detected, claimedType) {
		return OctetStream
	}
	if _, found, _ := mime.ParseMediaType(detected.String()); found["charset"] != "" && params["charset"] == "" {
		if params == nil {
			params = map[string]string{}
		}
		params["charset"] = found["charset"]
	}
	if t := mime.FormatMediaType(claimedType, params); t != "" {
		return t
	}
	return claimedType
}

// agree reports whether detected bytes fit a claimed type: the same, one
// is a kind of the other below the detector's root (which every type is
// a kind of), or both are kinds of one container in containers.
func agree(detected *mimetype.MIME, claimed string) bool {
	lineage := func(m *mimetype.MIME) []*mimetype.MIME {
		var out []*mimetype.MIME
		for ; m != nil && !m.Is(OctetStream); m = m.Parent() {
			out = append(out, m)
		}
		return out
	}
	mine, theirs := lineage(detected), lineage(mimetype.Lookup(claimed))
	for _, m := range mine {
		if m.Is(claimed) {
			return true
		}
	}
	for _, c := range theirs {
		if detected.Is(c.String()) {
			return true
		}
		for _, m := range mine {
			if m.Is(c.String()) && slices.Contains(containers, c.String()) {
				return true
			}
		}
	}
	return false
}

// containers are formats whose kinds the first bytes cannot tell apart: an
// MP4 (or M4A, 3GPP) file with an audio track only is no different at its
// start from one with video, nor an Ogg file with Opus from one with
// Vorbis or Theora.
var containers = []string{"video/mp4", "application/ogg"}

// servable reports whether a file of type t may be served from
// chathook's origin: not something a browser renders as a page or runs
// (HTML, XHTML, SVG, any XML, scripts, Flash), nor a container of such
// (multipart, message).
func servable(t string) bool {
	base, _, err := mime.ParseMediaType(t)
	if err != nil || base == "" {
		return false
	}
	top, sub, ok := strings.Cut(base, "/")
	if !ok || top == "multipart" || top == "message" {
		return false
	}
	if sub == "xml" || strings.HasSuffix(sub, "+xml") || strings.HasPrefix(sub, "xml") {
		return false
	}
	for _, bad := range []string{"html", "svg", "script", "xsl", "shockwave", "futuresplash"} {
		if strings.Contains(sub, bad) {
			return false
		}
	}
	return true
}

// ServedType is the Content-Type a stored file of type t is served
// with: t when servable, OctetStream when empty or not.
func ServedType(t string) string {
	if !servable(t) {
		return OctetStream
	}
	return t
}

package media_test

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/chathook/chathook/media"
)

// Real files: images from the standard library's encoders, Office files
// and zips from archive/zip, the rest from the first bytes of files of
// those formats as WhatsApp's apps make them.
var (
	jpegFile = encode(func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })
	pngFile  = encode(func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
	gifFile  = encode(func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) })
	docxFile = zipOf("[Content_Types].xml", "_rels/.rels", "word/document.xml")
	xlsxFile = zipOf("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")
	pptxFile = zipOf("[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml")
	zipFile  = zipOf("notes.txt", "photo.jpg")

	webpFile = unhex("52494646 24000000 57454250 5650384c 17000000 2f000000 0000")                                                // RIFF....WEBPVP8L
	mp4File  = unhex("00000020 66747970 69736f6d 00000200 69736f6d 69736f32 61766331 6d703431 00000008 66726565")                 // ftyp isom
	m4aFile  = unhex("00000020 66747970 4d344120 00000000 4d344120 6d703432 69736f6d 00000000 00000008 66726565")                 // ftyp M4A
	gppFile  = unhex("00000018 66747970 33677034 00000000 33677034 33677036 00000008 66726565")                                   // ftyp 3gp4
	oggFile  = unhex("4f676753 00020000 00000000 00003412 00000000 00001e4a 2b5e0113 4f707573 48656164 01013801 80bb0000 000000") // OggS + OpusHead
	mp3File  = unhex("49443304 00000000 0017 54495432 0000000d 0000 03 766f696365206d656d6f 00 fffb9064 00000000")                // ID3v2.4 TIT2, then a frame
	mp3Bare  = unhex("fffb9064 00000000 00000000 00000000")                                                                       // a Layer III frame, no ID3
	aacFile  = unhex("fff15080 2e7ffc21 00000000 00000000")                                                                       // ADTS
	amrFile  = []byte("#!AMR\n<\x91\x17\x16\xbe\x66\x78\x00\x00\xe7\xe1\xe0")
	pdfFile  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	textFile = []byte("Meeting moved to 3pm, see you there.\n")
	vcard    = []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:John Doe\r\nTEL;type=CELL:+15551000001\r\nEND:VCARD\r\n")
	htmlFile = []byte("<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n")
	svgFile  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>`)
	xmlFile  = []byte(`<?xml version="1.0" encoding="UTF-8"?><note><to>you</to></note>`)
	noise    = unhex("8c1f22e0 9a7b41d3 07c2f3aa 51b9e6d0 3377a4c1 ee09b2f8")
)

func encode(f func(*bytes.Buffer, image.Image) error) []byte {
	m := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := f(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func zipOf(names ...string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, name := range names {
		f, err := w.Create(name)
		if err != nil {
			panic(err)
		}
		f.Write([]byte("<x/>"))
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

const (
	docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	pptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	oct  = media.OctetStream
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name    string
		head    []byte
		claimed string
		want    string
	}{
		{"jpeg as claimed", jpegFile, "image/jpeg", "image/jpeg"},
		{"jpeg under an alias", jpegFile, "image/jpg", "image/jpeg"},
		{"jpeg in capitals", jpegFile, "IMAGE/JPEG", "image/jpeg"},
		{"jpeg unclaimed", jpegFile, "", "image/jpeg"},
		{"jpeg claimed as anything", jpegFile, "application/octet-stream", "image/jpeg"},
		{"jpeg with a malformed claim", jpegFile, "image/;;", "image/jpeg"},
		{"png claimed as jpeg", pngFile, "image/jpeg", oct},
		{"png", pngFile, "image/png", "image/png"},
		{"gif", gifFile, "image/gif", "image/gif"},
		{"webp sticker", webpFile, "image/webp", "image/webp"},
		{"webp claimed as png", webpFile, "image/png", oct},
		{"mp4 video", mp4File, "video/mp4", "video/mp4"},
		{"mp4 claimed as audio", mp4File, "audio/mp4", "audio/mp4"},
		{"m4a claimed as audio/mp4", m4aFile, "audio/mp4", "audio/mp4"},
		{"m4a claimed as m4a", m4aFile, "audio/m4a", "audio/x-m4a"},
		{"m4a unclaimed", m4aFile, "", "audio/x-m4a"},
		{"3gpp video", gppFile, "video/3gpp", "video/3gpp"},
		{"3gpp audio", gppFile, "audio/3gpp", "audio/3gpp"},
		{"3gpp claimed as mp4", gppFile, "video/mp4", "video/mp4"},
		{"mp4 claimed as 3gpp", mp4File, "video/3gpp", "video/3gpp"},
		{"voice note", oggFile, "audio/ogg; codecs=opus", "audio/ogg; codecs=opus"},
		{"voice note as opus", oggFile, "audio/opus", "audio/ogg"},
		{"voice note claimed as mp4", oggFile, "audio/mp4", oct},
		{"mp3", mp3File, "audio/mpeg", "audio/mpeg"},
		{"mp3 as audio/mp3", mp3File, "audio/mp3", "audio/mp3"},
		{"mp3 without ID3", mp3Bare, "audio/mpeg", "audio/mpeg"},
		{"mp3 claimed as aac", mp3File, "audio/aac", oct},
		{"aac", aacFile, "audio/aac", "audio/aac"},
		{"amr", amrFile, "audio/amr", "audio/amr"},
		{"amr claimed as ogg", amrFile, "audio/ogg", oct},
		{"pdf", pdfFile, "application/pdf", "application/pdf"},
		{"pdf claimed as an image", pdfFile, "image/jpeg", oct},
		{"docx", docxFile, docx, docx},
		{"docx claimed as zip", docxFile, "application/zip", "application/zip"},
		{"docx unclaimed", docxFile, "", docx},
		{"docx claimed as pdf", docxFile, "application/pdf", oct},
		{"xlsx", xlsxFile, xlsx, xlsx},
		{"pptx", pptxFile, pptx, pptx},
		{"xlsx claimed as docx", xlsxFile, docx, oct},
		{"plain zip claimed as docx", zipFile, docx, docx},
		{"zip", zipFile, "application/zip", "application/zip"},
		{"text", textFile, "text/plain", "text/plain; charset=utf-8"},
		{"text unclaimed", textFile, "", "text/plain; charset=utf-8"},
		{"text claimed as csv", textFile, "text/csv", "text/csv; charset=utf-8"},
		{"text claimed as jpeg", textFile, "image/jpeg", oct},
		{"vcard", vcard, "text/vcard", "text/vcard"},
		{"vcard under an alias", vcard, "text/x-vcard", "text/vcard"},
		{"vcard as text", vcard, "text/plain", "text/plain"},
		{"vcard unclaimed", vcard, "", "text/vcard"},
		{"unknown bytes claimed as jpeg", noise, "image/jpeg", oct},
		{"unknown bytes unclaimed", noise, "", oct},
		{"empty file", nil, "image/jpeg", oct},

		{"html as claimed", htmlFile, "text/html", oct},
		{"html unclaimed", htmlFile, "", oct},
		{"html claimed as text", htmlFile, "text/plain", oct},
		{"html claimed as an image", htmlFile, "image/png", oct},
		{"svg as claimed", svgFile, "image/svg+xml", oct},
		{"svg unclaimed", svgFile, "", oct},
		{"svg claimed as an image", svgFile, "image/png", oct},
		{"an Office file that is not a document", zipOf("[Content_Types].xml", "visio/document.xml"), "", oct},
		{"xml", xmlFile, "application/xml", oct},
		{"xml unclaimed", xmlFile, "", oct},
		{"text claimed as javascript", textFile, "text/javascript", oct},
		{"text claimed as xhtml", textFile, "application/xhtml+xml", oct},
		{"jpeg claimed as html", jpegFile, "text/html", oct},
		{"text claimed as a multipart", textFile, "multipart/x-mixed-replace; boundary=x", oct},
	} {
		if got := media.Classify(c.head, c.claimed); got != c.want {
			t.Errorf("%s: Classify(%q) = %q, want %q", c.name, c.claimed, got, c.want)
		}
	}
}

// Only the first HeadSize bytes count: what follows cannot change the type.
func TestClassifyReadsTheHeadOnly(t *testing.T) {
	long := append(bytes.Repeat([]byte("plain words "), media.HeadSize/12+1), htmlFile...)
	if got := media.Classify(long, "text/plain"); got != "text/plain; charset=utf-8" {
		t.Errorf("Classify = %q", got)
	}
}

func TestServedType(t *testing.T) {
	for in, want := range map[string]string{
		"image/jpeg": "image/jpeg", "": oct, "text/html": oct, "image/svg+xml": oct, "text/html; charset=utf-8": oct,
		"application/xhtml+xml": oct, "not a type": oct, "audio/ogg; codecs=opus": "audio/ogg; codecs=opus",
	} {
		if got := media.ServedType(in); got != want {
			t.Errorf("ServedType(%q) = %q, want %q", in, got, want)
		}
	}
}

package whatsweb

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QRPNG renders a pairing QR code as a size × size PNG, black on white,
// with the quiet zone scanners need. Each module is a whole number of
// pixels (the rest of size is white margin), so the code stays crisp at
// any size a phone's camera sees it. Content "" and a size too small for
// one pixel per module are errors.
func QRPNG(content string, size int) ([]byte, error) {
	bits, err := qrBitmap(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	n := len(bits)
	if size < n {
		return nil, fmt.Errorf("a QR code of %d modules needs at least %d pixels, not %d", n, n, size)
	}
	scale := size / n
	margin := (size - scale*n) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y := range n {
		for x := range n {
			if !bits[y][x] {
				continue
			}
			for py := margin + y*scale; py < margin+(y+1)*scale; py++ {
				row := img.Pix[py*img.Stride:]
				for px := margin + x*scale; px < margin+(x+1)*scale; px++ {
					row[px] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode the QR code: %w", err)
	}
	return buf.Bytes(), nil
}

// QRTerminal renders a pairing QR code for a terminal: two modules per
// character row in half blocks, light modules drawn, dark ones blank (as
// a terminal with a dark background shows it best), quiet zone included.
// Every line ends with "\n" and has as many characters as the code has
// modules. Content "" renders nothing ("").
func QRTerminal(content string) string {
	bits, err := qrBitmap(content, qrcode.Low)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		for x := range bits[y] {
			top := !bits[y][x]
			bottom := y+1 < len(bits) && !bits[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// qrBitmap is content's QR code, bits[y][x] true for a dark module, with
// its quiet zone.
func qrBitmap(content string, level qrcode.RecoveryLevel) ([][]bool, error) {
	if content == "" {
		return nil, errors.New("no QR code content")
	}
	q, err := qrcode.New(content, level)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return q.Bitmap(), nil
}

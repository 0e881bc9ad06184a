package whatsweb

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"
)

// sampleQR has the shape of the content whatsmeow hands out in
// events.QR: ref, noise key, identity key and adv secret, comma-separated.
const sampleQR = "2@Kz8sT0mP2vQ1cJr8yXx4b0aV7eN3uH6gL9fW5dS1kR2pM4nB7cE8tY0iO3qA6zU9wD2fG5hJ8lK1xC4vB7nM0==," +
	"Ry3VQ8cW9+lK5nT2xZp1bA7dF4gH6jL0mN3qS8uV1wY=,pQ7rS2tU5vW8xY1zA4bC7dE0fG3hI6jK9lM2nO5pQ8=,vB3nM6qW9eR2tY5uI8oP1aS4dF7gH0jK3lZ6xC9vB2n="

func TestQRPNG(t *testing.T) {
	want, err := qrcode.New(sampleQR, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bits := want.Bitmap()
	n := len(bits)
	for _, size := range []int{n, 256, 320, 321} {
		data, err := QRPNG(sampleQR, size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("size %d: not a PNG: %v", size, err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Fatalf("size %d: the image is %v", size, b)
		}
		// Each module is a square of whole pixels: its centre pixel is
		// dark exactly where the code's module is, and the margin is white.
		scale, margin := size/n, (size-size/n*n)/2
		for y := range n {
			for x := range n {
				px, py := margin+x*scale+scale/2, margin+y*scale+scale/2
				r, _, _, _ := img.At(px, py).RGBA()
				if dark := r < 0x8000; dark != bits[y][x] {
					t.Fatalf("size %d: module (%d,%d) at pixel (%d,%d) is dark=%v, want %v", size, x, y, px, py, dark, bits[y][x])
				}
			}
		}
		if r, _, _, _ := img.At(0, 0).RGBA(); r != 0xffff {
			t.Errorf("size %d: the corner is not white", size)
		}
	}
	if _, err := QRPNG("", 256); err == nil {
		t.Error("empty content rendered a QR code")
	}
	if _, err := QRPNG(sampleQR, n-1); err == nil {
		t.Errorf("a %d-pixel image of a %d-module code was rendered", n-1, n)
	}
}

func TestQRTerminal(t *testing.T) {
	q, err := qrcode.New(sampleQR, qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	bits := q.Bitmap()
	n := len(bits)
	out := QRTerminal(sampleQR)
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("no final newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != (n+1)/2 {
		t.Fatalf("%d lines for %d modules, want %d", len(lines), n, (n+1)/2)
	}
	// Light is drawn: the upper and lower half of each character are the
	// two module rows it stands for.
	light := map[rune][2]bool{'█': {true, true}, '▀': {true, false}, '▄': {false, true}, ' ': {false, false}}
	for i, line := range lines {
		if c := utf8.RuneCountInString(line); c != n {
			t.Fatalf("line %d has %d characters, want %d", i, c, n)
		}
		for x, r := range []rune(line) {
			halves, ok := light[r]
			if !ok {
				t.Fatalf("line %d has %q", i, r)
			}
			y := 2 * i
			if halves[0] != !bits[y][x] {
				t.Fatalf("module (%d,%d) drawn as %q", x, y, r)
			}
			if y+1 < n && halves[1] != !bits[y+1][x] {
				t.Fatalf("module (%d,%d) drawn as %q", x, y+1, r)
			}
		}
	}
	// The quiet zone: the first line is all light.
	if strings.Trim(lines[0], "█") != "" {
		t.Errorf("the first line is not the quiet zone: %q", lines[0])
	}
	if QRTerminal("") != "" {
		t.Error("empty content rendered a QR code")
	}
}

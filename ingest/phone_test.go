package ingest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chathook/chathook/ingest"
)

// ParsePhone takes a number as people type it and spells it E.164; what
// it refuses names the field and says what is wrong.
func TestParsePhone(t *testing.T) {
	for _, c := range []struct{ typed, want string }{
		{"+972500000000", "+972500000000"},
		{"+972 50 000 0000", "+972500000000"},
		{"  +972 50 000 0000 ", "+972500000000"},
		{"00972-50-000-0000", "+972500000000"},
		{"00 972 50 000 0000", "+972500000000"},
		{"+1 (650) 555-1234", "+16505551234"},
		{"+1.650.555.1234", "+16505551234"},
		{"+44\u00a020 7946 0958", "+442079460958"}, // a no-break space, as pasted from a web page
		{"+683 4002", "+6834002"},                  // Niue: 7 digits in all
		{"+123456789012345", "+123456789012345"},   // 15 digits, E.164's most
	} {
		got, err := ingest.ParsePhone("phone", c.typed)
		if err != nil || got != c.want {
			t.Errorf("ParsePhone(%q) = %q, %v; want %q", c.typed, got, err, c.want)
		}
	}
	for _, c := range []struct{ typed, problem string }{
		{"", "required"},
		{"   ", "required"},
		{"+972 50 abc 0000", "has letters"},
		{"call me", "has letters"},
		{"972500000000", "no country code"},
		{"050 000 0000", "no country code"},
		{"+050 000 0000", "no country code"},
		{"000 50 000 0000", "no country code"},
		{"+12 345", "too short"},
		{"+1234567890123456", "too long"},
		{"+972+500000000", `"+" inside`},
		{"++972500000000", `"+" inside`},
		{"+972_500000000", "use only digits"},
		{"+", "no digits"},
		{"00", "no digits"},
	} {
		got, err := ingest.ParsePhone("display_phone_number", c.typed)
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != "display_phone_number" || !strings.Contains(fe.Problem, c.problem) {
			t.Errorf("ParsePhone(%q) = %q, %v; want a display_phone_number error with %q", c.typed, got, err, c.problem)
		}
	}
}

package cloudapi_test

import (
	"errors"
	"testing"

	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/cloudapi"
)

// A registration is checked whole: every refused field is one
// *ingest.FieldError in the joined error, in the fields' order, and
// errors.As (as the API uses it) finds the first. A spaced number is
// taken and spelled E.164.
func TestRegistrationChecksEveryField(t *testing.T) {
	_, err := cloudapi.Registration{Email: "ops", VerifyToken: "my token"}.Account()
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *ingest.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		got = append(got, fe.Field)
	}
	want := []string{"phone_number_id", "display_phone_number", "email", "app_secret", "verify_token"}
	if len(got) != len(want) {
		t.Fatalf("fields refused %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fields refused %v, want %v", got, want)
		}
	}
	var first *ingest.FieldError
	if !errors.As(err, &first) || first.Field != "phone_number_id" {
		t.Errorf("errors.As finds %v", first)
	}

	a, err := cloudapi.Registration{PhoneNumberID: "106540352242922", DisplayPhoneNumber: "+1 (555) 078-3881", AppSecret: "app-secret-1"}.Account()
	if err != nil || a.Phone != "+15550783881" {
		t.Errorf("a spaced number: %+v, %v", a, err)
	}
	// As Meta writes it in its payloads: international without "+".
	for _, display := range []string{"15550783881", "1 555 078 3881"} {
		a, err = cloudapi.Registration{PhoneNumberID: "106540352242922", DisplayPhoneNumber: display, AppSecret: "app-secret-1"}.Account()
		if err != nil || a.Phone != "+15550783881" {
			t.Errorf("%q: %+v, %v", display, a, err)
		}
	}
	if _, err = (cloudapi.Registration{PhoneNumberID: "106540352242922", DisplayPhoneNumber: "050 000 0000", AppSecret: "app-secret-1"}).Account(); err == nil {
		t.Error("a local number starting with 0 was taken")
	}
}

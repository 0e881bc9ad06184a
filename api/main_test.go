package api_test

import (
	"os"
	"testing"

	"github.com/chathook/chathook/chathooktest"
)

// TestMain holds the package to docs/openapi.json: every exchange of its
// tests is checked against the document (chathooktest.CheckAPI), and a
// full run fails unless every operation of the document was exercised.
func TestMain(m *testing.M) {
	os.Exit(chathooktest.RunCheckingAPI(m))
}
